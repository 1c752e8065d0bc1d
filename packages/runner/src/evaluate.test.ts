import { describe, expect, it } from "vitest";
import { ratioInterval } from "@ssmbench/core";
import type { RecurrentDriver } from "@ssmbench/runtime";
import { scoreLogLikelihood, type Example } from "@ssmbench/tasks";
import { accuracy, evalBatch, examplesNote, measured, parseExamplesNote, qualityMetrics } from "./evaluate.ts";

it("bounds a prefill batch by its logits and by its tokens", () => {
  expect(evalBatch(128, 8192)).toBe(32); // logits bound (MQAR's trained setting)
  expect(evalBatch(1024, 8192)).toBe(4);
  expect(evalBatch(4096, 16)).toBe(16); // token bound: small vocabulary, long sequences
  expect(evalBatch(256, 16)).toBe(64); // at most 64
  expect(evalBatch(1 << 20, 16)).toBe(1); // at least 1
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
