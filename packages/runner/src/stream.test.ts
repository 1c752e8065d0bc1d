// Streaming evaluation through step.onnx on committed checkpoints: the same accuracy as batched prefill, the bench
// rows it writes (a streamed row for a constant-state checkpoint, an `na` row for a growing-state one), and
// bench --verify re-measuring a streamed row. A small threshold forces streaming on short settings, so it stays fast.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openModel } from "@ssmbench/runtime";
import { scoreArgmax, selectiveCopying, type Example } from "@ssmbench/tasks";
import { parseResultsCsv } from "@ssmbench/report";
import { bench, TEST_SEED } from "./bench.ts";
import { findRepoRoot, loadCheckpoint } from "./discover.ts";
import { accuracy, evaluateSetting, streamAccuracy } from "./evaluate.ts";
import { tmp } from "./test-cli.ts";
import { verifyResults } from "./verify.ts";

const root = findRepoRoot(import.meta.dirname);
const ckpt = (id: string) => loadCheckpoint(join(root, "models", id));
const short = { ...selectiveCopying.defaultParams, seq_len: 96, n_copy: 8 };
const examples = selectiveCopying.generate(short, "test", 4, TEST_SEED);

describe.each(["mamba-selective-copying", "rwkv-selective-copying"])("%s streamed through step.onnx", (id) => {
  it("scores what batched prefill scores, from logits within the parity bound", async () => {
    const c = ckpt(id);
    const driver = await openModel(c.dir, c.card, { ep: "cpu", threads: 1 });
    try {
      // record the logits each path scores: prefill's at the scored positions, streaming's compact ones
      const seen = (into: number[][]) => (e: Example, logits: Float32Array, vocab: number, offset = 0) => {
        e.targets.forEach((t, i) => t !== -100 && into.push(Array.from(logits.subarray(offset + i * vocab, offset + (i + 1) * vocab))));
        return scoreArgmax(e, logits, vocab, offset);
      };
      const pre: number[][] = [];
      const str: number[][] = [];
      const prefilled = await accuracy(driver, c.card.vocab, examples, undefined, seen(pre));
      const streamed = await streamAccuracy(driver, c.card.vocab, examples, undefined, seen(str));
      expect(streamed.total).toBe(4 * 8);
      expect([streamed.correct, streamed.total, streamed.value]).toEqual([prefilled.correct, prefilled.total, prefilled.value]);
      expect(streamed.batch).toBe(4);
      const diff = Math.max(...pre.flatMap((row, i) => row.map((x, v) => Math.abs(x - str[i]![v]!))));
      expect(diff).toBeLessThan(c.card.parity.tolerance ?? 1e-4);
      // evaluateSetting streams past its threshold, and prefills up to it
      const forced = await evaluateSetting(driver, c.card, examples, { streamAbove: 64 });
      expect([forced.streamed, forced.correct]).toEqual([true, prefilled.correct]);
      expect((await evaluateSetting(driver, c.card, examples)).streamed).toBe(false);
    } finally {
      await driver.release();
    }
  });
});

it("bench: a constant-state checkpoint's long setting is streamed, a growing-state one gets an na row; --verify re-streams", async () => {
  const out = tmp();
  const checkpoints = ["mamba-selective-copying", "transformer-selective-copying"].map(ckpt);
  const opts = { root, checkpoints, eps: ["cpu"], quick: true, seqLens: [16], outDir: out, runId: "s", resume: false, examples: 3, threads: 1, streamAbove: 128, log: () => {} };
  const { rows } = await bench(opts);
  const acc = (model: string) => rows.find((r) => r.model === model && r.metric === "accuracy")!;
  const mamba = acc("mamba-selective-copying");
  expect(mamba).toMatchObject({ status: "ok", split: "test@L256", seq_len: 256, batch: 3, n: 3 * 16 });
  expect(mamba.note).toMatch(/^3 test examples, seed 0, trained setting; \d+\/48 scored positions; streamed through step\.onnx \(3 examples stepped together/);
  const transformer = acc("transformer-selective-copying");
  expect(transformer).toMatchObject({ status: "na", split: "test@L256", seq_len: 256, value: null, n: 0 });
  expect(transformer.note).toMatch(/^not run: its state grows with the length \(key_values\.0\.key, key_values\.0\.value, \.\.\. have a past_seq dim\)/);
  // speed rows are still measured for both
  expect(rows.filter((r) => r.model === "transformer-selective-copying" && r.status === "ok").map((r) => r.metric)).toContain("prefill_tokens_per_s");

  // --resume keeps the na row rather than writing it again
  const again = await bench({ ...opts, resume: true });
  expect(again.rows.filter((r) => r.metric === "accuracy")).toEqual([]);
  expect(parseResultsCsv(readFileSync(again.file, "utf8"), again.file).filter((r) => r.metric === "accuracy")).toHaveLength(2);

  // --verify reads the count and the streaming off the row's note, and reproduces it
  const v = await verifyResults({ file: again.file, checkpoints, eps: ["cpu"], threads: 1, log: () => {} });
  expect(v).toEqual({ checked: 1, mismatches: [] });
});

it("--settings keeps only the task settings of the lengths named, and the trained one is still noted as trained", async () => {
  const out = tmp();
  const opts = { root, checkpoints: [ckpt("mamba-selective-copying")], eps: ["cpu"], quick: false, seqLens: [16], outDir: out, runId: "t", resume: false, examples: 3, threads: 1, log: () => {} };
  const { rows } = await bench({ ...opts, settingLens: [256] });
  const acc = rows.filter((r) => r.metric === "accuracy");
  expect(acc.map((r) => r.seq_len)).toEqual([256]);
  expect(acc[0]!.note).toContain("trained setting");
});
