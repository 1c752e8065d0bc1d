import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { UserError, type StateTensor } from "@ssmbench/core";
import { afterAll, describe, expect, it } from "vitest";
import { getBackend } from "./backends.ts";
import { NonFiniteError, RecurrentDriver, assertFinite, type DriverOptions } from "./driver.ts";
import { fixtureDir, golden, goldenIds, maxAbsDiff } from "./fixture.ts";
import { argmax } from "./golden.ts";
import { openModel } from "./model.ts";
import type { Session, Tensor } from "./types.ts";

const [batch, seq] = golden.input_ids.dims as [number, number];
const vocab = golden.vocab;
const spec = { vocab, states: golden.states };

// cpu twice: with pre-allocated, double-buffered step outputs (the default there) and without.
const cases: [string, string, DriverOptions][] = [
  ["cpu", "cpu", {}],
  ["cpu without pre-allocation", "cpu", { preallocate: false }],
  ["wasm", "wasm", {}],
];

describe.each(cases)("RecurrentDriver on %s", (_label, ep, opts) => {
  const opened = openModel(fixtureDir, spec, { ep, generate: true, ...opts });
  afterAll(async () => (await opened).release());

  it("prefill matches the PyTorch golden logits and final state", async () => {
    const driver = await opened;
    const out = await driver.prefill(goldenIds(), batch, seq);
    expect(out.dims).toEqual([batch, seq, vocab]);
    expect(maxAbsDiff(out.logits, golden.logits.data)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out.state["ssm.0"]!.data as Float32Array, golden["present_ssm.0"].data)).toBeLessThan(1e-5);
    expect(out.state["key_values.0.key"]!.dims).toEqual([batch, seq, 4]);
  });

  it("stepping token by token equals prefill", async () => {
    const driver = await opened;
    const stepped = await driver.stepThrough(goldenIds(), batch, seq);
    expect(stepped.dims).toEqual([batch, seq, vocab]);
    expect(maxAbsDiff(stepped.logits, golden.logits.data)).toBeLessThan(1e-5);
    // the growing cache went from past_seq 0 to seq; the fixed state is the golden final state
    expect(driver.state!["key_values.0.key"]!.dims).toEqual([batch, seq, 4]);
    expect(maxAbsDiff(driver.state!["ssm.0"]!.data as Float32Array, golden["present_ssm.0"].data)).toBeLessThan(1e-5);
  });

  it("step continues from a prefilled prompt", async () => {
    const driver = await opened;
    const ids = goldenIds();
    const prompt = 4;
    const head = new BigInt64Array(batch * prompt);
    for (let b = 0; b < batch; b++) head.set(ids.subarray(b * seq, b * seq + prompt), b * prompt);
    await driver.prefill(head, batch, prompt);
    for (let t = prompt; t < seq; t++) {
      const logits = await driver.step(BigInt64Array.from({ length: batch }, (_, b) => ids[b * seq + t]!));
      for (let b = 0; b < batch; b++) {
        const want = golden.logits.data.slice((b * seq + t) * vocab, (b * seq + t + 1) * vocab);
        expect(maxAbsDiff(logits.subarray(b * vocab, (b + 1) * vocab), want)).toBeLessThan(1e-5);
      }
    }
  });

  it(`${ep === "cpu" && opts.preallocate !== false ? "steps into two alternating pre-allocated buffers" : "feeds the returned tensors back"}`, async () => {
    const driver = await opened;
    driver.reset(batch);
    const seen = [];
    for (let t = 0; t < 3; t++) {
      const logits = await driver.step(BigInt64Array.from({ length: batch }, () => BigInt(t + 1)));
      seen.push({ logits, ssm: driver.state!["ssm.0"]!.data, kv: driver.state!["key_values.0.key"]! });
    }
    const [a, b, c] = seen as [(typeof seen)[0], (typeof seen)[0], (typeof seen)[0]];
    expect(c.kv.dims).toEqual([batch, 3, 4]); // growing caches are always ORT's own, never pre-allocated
    expect(b.ssm).not.toBe(a.ssm); // present of a step never aliases its past
    if (ep === "cpu" && opts.preallocate !== false) {
      expect(c.ssm).toBe(a.ssm);
      expect(c.logits).toBe(a.logits);
    } else {
      expect(c.ssm).not.toBe(a.ssm);
    }
  });

  it("generate gives the argmax tokens of stepping and continues where it stopped", async () => {
    const driver = await opened;
    const first = BigInt64Array.of(3n, 5n);
    const n = 6;
    await driver.prefill(goldenIds(), batch, seq);
    const prefilled = driver.state!;
    const whole = await driver.generate(first, n);
    expect(driver.state!["key_values.0.key"]!.dims).toEqual([batch, seq + n, 4]); // fed: first + n - 1 generated
    driver.useState(prefilled, batch);
    const stepped: bigint[][] = [[], []];
    let input = first;
    for (let i = 0; i < n; i++) {
      const logits = await driver.step(input);
      input = BigInt64Array.from({ length: batch }, (_, b) => BigInt(argmax(logits, b * vocab, vocab)));
      input.forEach((t, b) => stepped[b]!.push(t));
    }
    expect([...whole]).toEqual([...stepped[0]!, ...stepped[1]!]);
    // two calls, the second fed the first's last column, give the same tokens as one
    driver.useState(prefilled, batch);
    const a = await driver.generate(first, 2);
    const b = await driver.generate(BigInt64Array.of(a[1]!, a[3]!), n - 2);
    expect([a[0], a[1], ...b.subarray(0, n - 2), a[2], a[3], ...b.subarray(n - 2)]).toEqual([...whole]);
    await expect(driver.generate(first, 0)).rejects.toThrow(/max_new_tokens must be a positive integer, got 0/);
    await expect(driver.generate(BigInt64Array.of(1n), 2)).rejects.toThrow(/expected \[batch 2, 1\] = 2 ids/);
  });

  it("initState is zeros in the card's shapes, growing caches empty", async () => {
    const state = (await opened).initState(3);
    expect(state["ssm.0"]!.dims).toEqual([3, 4]);
    expect(state["key_values.0.key"]!.dims).toEqual([3, 0, 4]);
    expect([...(state["ssm.0"]!.data as Float32Array)]).toEqual(new Array(12).fill(0));
  });

  it("rejects wrong shapes and ids outside the vocabulary, saying expected vs got", async () => {
    const driver = await opened;
    await expect(driver.prefill(new BigInt64Array(5), 2, 3)).rejects.toThrow(/expected \[batch 2, seq 3\] = 6 ids, got 5/);
    await expect(driver.prefill(new BigInt64Array(0), 1, 0)).rejects.toThrow(UserError);
    driver.reset(2);
    await expect(driver.step(new BigInt64Array(3))).rejects.toThrow(/expected \[batch 2, 1\] = 2 ids .*got 3/);
    await expect(driver.step(BigInt64Array.of(1n, 11n))).rejects.toThrow(/input_ids\[1\] = 11 is outside the vocabulary \[0, 11\)/);
  });
});

describe("RecurrentDriver against its card", () => {
  it("refuses a card whose states the graphs lack", async () => {
    const b = await getBackend("cpu");
    const prefill = await b.load(path.join(fixtureDir, "prefill.onnx"));
    const step = await b.load(path.join(fixtureDir, "step.onnx"));
    const conv: StateTensor = { name: "conv.0", kind: "conv", layer: 0, shape: ["batch", 4, 3], dtype: "float32", init: "zeros" };
    expect(() => new RecurrentDriver(prefill, step, { vocab, states: [...golden.states, conv] })).toThrow(
      /prefill\.onnx lacks present_conv\.0 among its outputs/,
    );
    expect(() => new RecurrentDriver(prefill, step, { vocab, states: golden.states.slice(0, 1) })).toThrow(
      /step\.onnx has unexpected past_key_values\.0\.key among its inputs/,
    );
    await expect(async () => (await new RecurrentDriver(prefill, step, { vocab: 12, states: golden.states }).prefill(goldenIds(), batch, seq))).rejects.toThrow(
      /returned logits float32 \[2, 7, 11\], expected float32 \[2, 7, 12\]/,
    );
    await prefill.release();
    await step.release();
  });

  it("generate() without generate.onnx, or a checkpoint without the file, says how to get it", async () => {
    const plain = await openModel(fixtureDir, spec, { ep: "cpu" });
    plain.reset(1);
    await expect(plain.generate(BigInt64Array.of(1n), 2)).rejects.toThrow(/no generate\.onnx.*generate: true/s);
    await plain.release();
    const bare = mkdtempSync(path.join(tmpdir(), "ssmbench-no-generate-"));
    for (const f of ["prefill.onnx", "step.onnx"]) copyFileSync(path.join(fixtureDir, f), path.join(bare, f));
    await expect(openModel(bare, spec, { ep: "cpu", generate: true })).rejects.toThrow(/generate\.onnx is missing.*ssmbench_trainer\.generate/s);
    rmSync(bare, { recursive: true });
  });
});

describe("assertFinite", () => {
  it("passes finite values and names the first NaN/Inf", () => {
    expect(() => assertFinite("x", new Float32Array([1, -2, 3e38]))).not.toThrow();
    expect(() => assertFinite("logits", new Float32Array([0, NaN, Infinity]))).toThrow(
      /logits has 2 non-finite value\(s\) of 3; the first is NaN at index 1/,
    );
  });

  it("the driver refuses non-finite logits from a model", async () => {
    // A stand-in step graph that returns NaN logits, on the contract's names.
    const b = await getBackend("cpu");
    const real = await b.load(path.join(fixtureDir, "step.onnx"));
    const nanStep: Session = {
      ...real,
      path: "nan/step.onnx",
      preallocatedOutputs: false,
      inputNames: real.inputNames,
      outputNames: real.outputNames,
      tensor: real.tensor.bind(real),
      release: () => real.release(),
      run: async (feeds) => {
        const out = await real.run(feeds);
        return { ...out, logits: real.tensor("float32", new Float32Array(vocab).fill(NaN), [1, 1, vocab]) as Tensor };
      },
    };
    const prefill = await b.load(path.join(fixtureDir, "prefill.onnx"));
    const driver = new RecurrentDriver(prefill, nanStep, spec);
    driver.reset(1);
    await expect(driver.step(BigInt64Array.of(3n))).rejects.toThrow(NonFiniteError);
    await expect(driver.step(BigInt64Array.of(3n))).rejects.toThrow(/logits of nan\/step\.onnx has 11 non-finite value\(s\)/);
    await driver.release();
  });
});
