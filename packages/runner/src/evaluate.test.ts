import { describe, expect, it } from "vitest";
import { ratioInterval, type StateTensor } from "@ssmbench/core";
import type { RecurrentDriver } from "@ssmbench/runtime";
import { scoreExactMatch, scoreLogLikelihood, type Example } from "@ssmbench/tasks";
import { accuracy, budgetNote, evalBatch, evalPlan, examplesFor, examplesNote, measured, parseExamplesNote, qualityMetrics, streamAccuracy, STREAM_ABOVE, wasStreamed, streamedNote } from "./evaluate.ts";

it("bounds a prefill batch by its logits and by its tokens", () => {
  expect(evalBatch(128, 8192)).toBe(32); // logits bound (MQAR's trained setting)
  expect(evalBatch(1024, 8192)).toBe(4);
  expect(evalBatch(4096, 16)).toBe(16); // token bound: small vocabulary, long sequences
  expect(evalBatch(256, 16)).toBe(64); // at most 64
  expect(evalBatch(1 << 20, 16)).toBe(1); // at least 1
  expect(evalBatch(16384, 16)).toBe(1); // scores bound: attention's seq^2 per example
  expect(evalBatch(8192, 16)).toBe(4);
});

it("reads back what an accuracy row's note says it was measured on", () => {
  expect(parseExamplesNote(`${examplesNote(500, 0)}, trained setting; 1/2 scored positions`)).toEqual({ examples: 500, seed: 0 });
  expect(parseExamplesNote("user data x.jsonl")).toBeUndefined();
});

describe("accuracy() on a language-modelling task", () => {
  // A fake driver: logits depend on the input token only, so a test can work the likelihoods out by hand.
  // vocab 4; after token 0 the model is uniform (2 bits for any target); after token 1 it puts p = 1/2 on token 2.
  const vocab = 4;
  const driver = {
    async prefill(ids: BigInt64Array, batch: number, seq: number) {
      const logits = new Float32Array(batch * seq * vocab);
      ids.forEach((id, i) => {
        if (id === 1n) logits.set([0, 0, Math.log(3), 0], i * vocab); // p = 1/6, 1/6, 1/2, 1/6
      });
      return { logits };
    },
  } as unknown as RecurrentDriver;
  const ex = (ids: number[], targets: number[]): Example => ({ input_ids: Int32Array.from(ids), targets: Int32Array.from(targets) });

  it("sums bits over examples: bits per byte, perplexity, and intervals over examples", async () => {
    // example a: after 0 -> 2 bits, after 1 target 2 -> 1 bit; example b: after 1 target 3 -> log2 6 bits, after 0 -> 2 bits
    const examples = [ex([0, 1], [1, 2]), ex([1, 0], [3, 0])];
    const bytesOf = [1, 1, 2, 3];
    const acc = await accuracy(driver, vocab, examples, undefined, (e, l, v, o) => scoreLogLikelihood(e, l, v, o, bytesOf));
    const bits = [3, Math.log2(6) + 2];
    const bytes = [1 + 2, 3 + 1];
    const lm = acc.likelihood!;
    expect(lm.bits).toBeCloseTo(bits[0]! + bits[1]!, 5);
    expect([lm.tokens, lm.bytes]).toEqual([4, 7]);
    const bpb = ratioInterval(bits, bytes);
    expect(lm.bitsPerByte.value).toBeCloseTo(bpb.value, 5);
    expect(lm.bitsPerByte.low).toBeCloseTo(bpb.low, 5);
    expect(lm.perplexity.value).toBeCloseTo(2 ** (lm.bits / 4), 5);
    expect(lm.perplexity.low).toBeLessThan(lm.perplexity.value);
    expect(measured(acc, "bits_per_byte")).toMatchObject({ n: 7 });
    expect(measured(acc, "perplexity")).toMatchObject({ n: 4 });
    expect(acc.correct).toBe(2); // argmax hits: "after 1 -> 2", and "after 0 -> 0" (the first of four ties)
  });

  it("writes bits per byte for byte-lm, perplexity and bits per byte for subword-lm, accuracy otherwise", async () => {
    expect(qualityMetrics("bits_per_byte")).toEqual(["bits_per_byte"]);
    expect(qualityMetrics("perplexity")).toEqual(["perplexity", "bits_per_byte"]);
    expect(qualityMetrics("exact_match")).toEqual(["accuracy"]);
    const uniform = await accuracy(driver, vocab, [ex([0, 0], [3, 3]), ex([0, 0], [2, 1])], undefined, scoreLogLikelihood);
    expect(measured(uniform, "bits_per_byte")).toEqual({ value: 2, ci: [2, 2], n: 4 }); // every example at 2 bits a byte
    expect(measured(uniform, "perplexity").value).toBeCloseTo(4, 10);
    const plain = await accuracy(driver, vocab, [ex([0, 0], [3, 3])]);
    expect(plain.likelihood).toBeUndefined();
    expect(() => measured(plain, "bits_per_byte")).toThrow(/needs a scorer that returns bits/);
  });
});

describe("examples per setting (a budget of 2^21 tokens)", () => {
  it("gives min(N, max(16, floor(2^21 / T))) examples", () => {
    expect(examplesFor(64, 1000)).toBe(1000);
    expect(examplesFor(2048, 1000)).toBe(1000); // 1,024 fit: still the 1,000 asked for
    expect(examplesFor(4096, 1000)).toBe(512); // LRA's 4K settings stay affordable
    expect(examplesFor(16384, 1000)).toBe(128);
    expect(examplesFor(65536, 1000)).toBe(32);
    expect(examplesFor(2 ** 17, 1000)).toBe(16);
    expect(examplesFor(2 ** 18, 1000)).toBe(16); // 8 would fit: at least 16
    expect(examplesFor(2 ** 20, 1000)).toBe(16);
    expect(examplesFor(2 ** 20, 8)).toBe(8); // never more than asked for
    expect(examplesFor(256, 200)).toBe(200); // --quick's 200
    expect(examplesFor(3000, 1000)).toBe(699); // floor, off the powers of two too
  });

  it("says in the note when the budget cut the count, and the note still reads back", () => {
    expect(budgetNote(1000, 1000)).toBe("");
    expect(budgetNote(16, 1000)).toMatch(/^ \(of 1000 asked for: at most 2,097,152 tokens of examples per setting, and at least 16 examples\)$/);
    const note = `${examplesNote(16, 0)}, another setting${budgetNote(16, 1000)}; 9/16 scored positions; ${streamedNote(16)}`;
    expect(parseExamplesNote(note)).toEqual({ examples: 16, seed: 0 });
    expect(wasStreamed(note)).toBe(true);
    expect(wasStreamed(`${examplesNote(32, 0)}, another setting; 9/32 scored positions`)).toBe(false);
  });
});

describe("evaluation plan by length and state", () => {
  const constant: StateTensor[] = [{ name: "ssm.0", kind: "ssm", layer: 0, shape: ["batch", 8, 4], dtype: "float32", init: "zeros" }];
  const growing: StateTensor[] = [...constant, { name: "key_values.0.key", kind: "key_values", layer: 0, shape: ["batch", 2, "past_seq", 8], dtype: "float32", init: "zeros" }];

  it("prefills up to 2^16 tokens; past it, streams constant states and refuses growing ones", () => {
    expect(STREAM_ABOVE).toBe(65536);
    expect(evalPlan(growing, 65536)).toEqual({ mode: "prefill" });
    expect(evalPlan(constant, 65537)).toEqual({ mode: "stream" });
    expect(evalPlan(constant, 2 ** 20)).toEqual({ mode: "stream" });
    const na = evalPlan(growing, 2 ** 20);
    expect(na.mode).toBe("na");
    expect(na.mode === "na" && na.note).toMatch(/^not run: its state grows with the length \(key_values\.0\.key has a past_seq dim\).*OOM at 2\^20/);
    expect(evalPlan(constant, 64, 32)).toEqual({ mode: "stream" }); // a threshold forces streaming on short settings
  });
});

describe("streamAccuracy()", () => {
  // A fake recurrent model, vocab 3: its logits after a token favour (running sum of tokens) mod 3, so the answer at a
  // position depends on the whole prefix. step() returns one reused buffer, as onnxruntime's pre-allocated output does.
  const vocab = 3;
  function fake() {
    const calls = { steps: 0, prefills: 0 };
    let sums: number[] = [];
    const buf = new Float32Array(64 * vocab);
    const d = {
      reset(batch: number) {
        sums = Array.from({ length: batch }, () => 0);
      },
      async step(tokens: BigInt64Array) {
        calls.steps++;
        buf.fill(0);
        tokens.forEach((t, b) => {
          sums[b] = (sums[b]! + Number(t)) % vocab;
          buf[b * vocab + sums[b]!] = 1;
        });
        return buf.subarray(0, tokens.length * vocab);
      },
      async prefill(ids: BigInt64Array, batch: number, seq: number) {
        calls.prefills++;
        const logits = new Float32Array(batch * seq * vocab);
        for (let b = 0; b < batch; b++) {
          let s = 0;
          for (let t = 0; t < seq; t++) {
            s = (s + Number(ids[b * seq + t]!)) % vocab;
            logits[(b * seq + t) * vocab + s] = 1;
          }
        }
        return { logits };
      },
    };
    return { driver: d as unknown as RecurrentDriver, calls };
  }
  const ex = (ids: number[], targets: number[]): Example => ({ input_ids: Int32Array.from(ids), targets: Int32Array.from(targets) });
  const I = -100;
  // right, right / wrong (sum after [2, 2] is 1), right; one example of another length
  const examples = [ex([1, 1, 0, 2], [I, 2, I, 1]), ex([2, 2, 1, 1], [I, 0, 2, I]), ex([1, 2, 0], [I, I, 0])];

  it("scores the same positions as prefill, stepping each length's examples together", async () => {
    const s = fake();
    const streamed = await streamAccuracy(s.driver, vocab, examples);
    const prefilled = await accuracy(fake().driver, vocab, examples);
    expect([streamed.correct, streamed.total]).toEqual([4, 5]);
    expect([streamed.correct, streamed.total, streamed.value, streamed.ci]).toEqual([prefilled.correct, prefilled.total, prefilled.value, prefilled.ci]);
    expect(streamed.batch).toBe(2); // the two examples of length 4 in one batch
    // stops after the last scored position: 4 steps (length 4, last scored at 3) + 3 (length 3)
    expect(s.calls).toEqual({ steps: 7, prefills: 0 });
  });

  it("scores with the task's scorer on the scored positions alone (exact match counts whole examples)", async () => {
    const streamed = await streamAccuracy(fake().driver, vocab, examples, undefined, scoreExactMatch);
    expect([streamed.correct, streamed.total]).toEqual([2, 3]);
    const lm = await streamAccuracy(fake().driver, vocab, examples, undefined, scoreLogLikelihood);
    const pre = await accuracy(fake().driver, vocab, examples, undefined, scoreLogLikelihood);
    expect(lm.likelihood!.bits).toBeCloseTo(pre.likelihood!.bits, 10);
  });

  it("reports tokens stepped, and steps nothing for examples without a scored position", async () => {
    const s = fake();
    const seen: [number, number][] = [];
    const none = await streamAccuracy(s.driver, vocab, [ex([1, 2, 0], [I, I, I])], (t, T) => seen.push([t, T]));
    expect([none.total, s.calls.steps]).toEqual([0, 0]);
    await streamAccuracy(s.driver, vocab, [ex([1, 2, 0], [I, 0, I])], (t, T) => seen.push([t, T]));
    expect(seen).toEqual([[2, 2]]);
  });
});
