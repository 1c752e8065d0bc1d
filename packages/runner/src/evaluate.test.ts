import { expect, it } from "vitest";
import { evalBatch, examplesNote, parseExamplesNote } from "./evaluate.ts";

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
