// Parity of every committed checkpoint (DESIGN invariant): onnxruntime prefill equals the PyTorch golden logits
// within the card's tolerance, and stepping token by token through step.onnx equals prefill, on cpu and wasm.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { argmax, checkGolden, openModel, type Golden } from "@ssmbench/runtime";
import { discoverCheckpoints, findRepoRoot, verifyCheckpoint } from "./discover.ts";

const root = findRepoRoot(import.meta.dirname);
const checkpoints = discoverCheckpoints(join(root, "models"));

it("finds the committed checkpoints", () => {
  expect(checkpoints.map((c) => c.card.id)).toContain("mamba-mqar");
});

describe.each(checkpoints.map((c) => [c.card.id, c] as const))("%s", (_id, ckpt) => {
  const golden = JSON.parse(readFileSync(join(ckpt.dir, "golden.json"), "utf8")) as Golden;

  it("files match the sha256 in the card", () => verifyCheckpoint(ckpt));

  // The contract's bound is 1e-4. A checkpoint may be exported with a looser one only where PyTorch's own float32
  // round-off (float32 vs float64 of the same weights, recorded by export) is of that order: no float32 graph can
  // match a float32 reference more closely than a few times that floor.
  const tolerance = ckpt.card.parity.tolerance ?? 1e-4;
  it(`card records parity within ${tolerance} (1e-4 unless float32 round-off of the model itself forbids it)`, () => {
    expect(tolerance).toBeLessThanOrEqual(Math.max(1e-4, 4 * (ckpt.card.parity.torch_float32_vs_float64 ?? 0)));
    expect(golden.tolerance).toBe(tolerance);
    expect(ckpt.card.parity.prefill_vs_torch).toBeLessThan(tolerance);
    expect(ckpt.card.parity.step_vs_prefill).toBeLessThan(tolerance);
  });

  // generate.onnx (step.onnx in an ONNX Loop): the greedy tokens of stepping, from the golden prompt's prefill.
  it.runIf(ckpt.card.generate !== undefined).each(["cpu", "wasm"])("on %s: generate.onnx gives the greedy tokens of stepping", async (ep) => {
    const driver = await openModel(ckpt.dir, ckpt.card, { ep, threads: 1, generate: true });
    try {
      const batch = golden.input_ids.length;
      const seq = golden.input_ids[0]!.length;
      const V = ckpt.card.vocab;
      const pre = await driver.prefill(BigInt64Array.from(golden.input_ids.flat(), BigInt), batch, seq);
      const first = BigInt64Array.from({ length: batch }, (_, b) => BigInt(argmax(pre.logits, (b * seq + seq - 1) * V, V)));
      const n = 24;
      const tokens = await driver.generate(first, n);
      driver.useState(pre.state, batch);
      const stepped = new BigInt64Array(batch * n);
      let input = first;
      for (let i = 0; i < n; i++) {
        const logits = await driver.step(input);
        input = BigInt64Array.from({ length: batch }, (_, b) => BigInt(argmax(logits, b * V, V)));
        for (let b = 0; b < batch; b++) stepped[b * n + i] = input[b]!;
      }
      expect([...tokens]).toEqual([...stepped]);
    } finally {
      await driver.release();
    }
  });

  it.each(["cpu", "wasm"])("on %s: prefill equals PyTorch's golden logits, and steps equal prefill", async (ep) => {
    const driver = await openModel(ckpt.dir, ckpt.card, { ep, threads: 1 });
    try {
      const g = await checkGolden(driver, golden);
      expect(g.prefillVsGolden).toBeLessThan(golden.tolerance);
      expect(g.argmaxMismatches, "positions whose argmax differs from PyTorch's").toBe(0);
      expect(g.stepVsPrefill).toBeLessThan(tolerance);
    } finally {
      await driver.release();
    }
  });
});
