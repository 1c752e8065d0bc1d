// MQAR against its spec (Zoology, arXiv 2312.04927, and the generator in HazyResearch/zoology; see mqar.ts).
import { describe, expect, it } from "vitest";
import { generateMqar, mqar, type MqarParams } from "./mqar.ts";
import { Rng } from "./rng.ts";
import { IGNORE, type Example } from "./types.ts";

const p = (vocab: number, seq_len: number, num_kv_pairs: number, power_a = 0.01): MqarParams => ({ vocab, seq_len, num_kv_pairs, power_a });

/** What an example's structure must be; returns the gaps g of the pairs, in pair order. */
function checkExample(e: Example, params: MqarParams): number[] {
  const { vocab: V, seq_len: T, num_kv_pairs: n } = params;
  const half = Math.floor(V / 2);
  const x = Array.from(e.input_ids);
  const y = Array.from(e.targets);
  expect(x).toHaveLength(T);
  expect(y).toHaveLength(T);
  expect(x.every((t) => Number.isInteger(t) && t >= 0 && t < V)).toBe(true);

  // Context k1 v1 .. kn vn: keys in [1, V/2), values in [V/2, V), each distinct within the example.
  const keys = x.filter((_, i) => i < 2 * n && i % 2 === 0);
  const values = x.filter((_, i) => i < 2 * n && i % 2 === 1);
  expect(keys.every((k) => k >= 1 && k < half)).toBe(true);
  expect(values.every((v) => v >= half && v < V)).toBe(true);
  expect(new Set(keys).size).toBe(n);
  expect(new Set(values).size).toBe(n);
  // Nothing is scored inside the context.
  expect(y.slice(0, 2 * n).every((t) => t === IGNORE)).toBe(true);

  // Exactly n scored positions, each at an even offset after the context, holding a key; target = its value.
  const scored = y.flatMap((t, i) => (t === IGNORE ? [] : [i]));
  expect(scored).toHaveLength(n);
  const gapOfKey = new Map<number, number>();
  for (const pos of scored) {
    expect(pos).toBeGreaterThanOrEqual(2 * n);
    expect((pos - 2 * n) % 2).toBe(0);
    const i = keys.indexOf(x[pos]!);
    expect(i, `input at scored position ${pos} is a key`).toBeGreaterThanOrEqual(0);
    expect(y[pos]).toBe(values[i]);
    gapOfKey.set(i, (pos - 2 * n) / 2);
  }
  // Every key is queried exactly once.
  expect([...gapOfKey.keys()].sort((a, b) => a - b)).toEqual(keys.map((_, i) => i));
  const gaps = keys.map((_, i) => gapOfKey.get(i)!);
  expect(Math.max(...gaps)).toBeLessThan(Math.floor((T - 2 * n) / 2));
  return gaps;
}

describe("MQAR examples follow the spec", () => {
  const settings: [string, MqarParams, number][] = [
    ["128/8, vocab 8192 (trained setting)", p(8192, 128, 8), 200],
    ["256/16, vocab 8192", p(8192, 256, 16), 100],
    ["1024/64, vocab 8192", p(8192, 1024, 64), 30],
    ["64/8, small vocab 64", p(64, 64, 8), 200],
    ["37/4, odd length, vocab 64", p(64, 37, 4), 200],
    ["16/4, vocab 10: every key used, every query slot filled", p(10, 16, 4), 200],
    ["128/8, power_a = 1 (uniform gaps)", p(8192, 128, 8, 1), 50],
  ];
  for (const [name, params, n] of settings) {
    it(name, () => {
      const examples = mqar.generate(params, "test", n, 3);
      expect(examples).toHaveLength(n);
      for (const e of examples) checkExample(e, params);
    });
  }

  it("uses all of the key range when the vocabulary is tight", () => {
    const params = p(10, 16, 4);
    for (const e of mqar.generate(params, "train", 50, 0)) {
      const keys = Array.from(e.input_ids.subarray(0, 8)).filter((_, i) => i % 2 === 0);
      expect([...keys].sort()).toEqual([1, 2, 3, 4]); // [1, V/2) has exactly 4 keys
      // 4 pairs and (16 - 8) / 2 = 4 query slots: every even offset after the context is a query.
      expect([8, 10, 12, 14].every((q) => e.targets[q] !== IGNORE)).toBe(true);
    }
  });

  it("fills the other positions with uniform tokens from the whole vocabulary", () => {
    const params = p(64, 128, 8);
    const counts = new Array<number>(64).fill(0);
    let total = 0;
    for (const e of mqar.generate(params, "train", 400, 1)) {
      for (let t = 16; t < 128; t++) {
        if (e.targets[t] !== IGNORE) continue;
        counts[e.input_ids[t]!]!++;
        total++;
      }
    }
    // df = 63, p = 0.001 critical value 103.4
    const chi = counts.reduce((s, c) => s + (c - total / 64) ** 2 / (total / 64), 0);
    expect(chi).toBeLessThan(103.4);
    expect(counts[0]).toBeGreaterThan(0); // 0 is a filler token too (never a key)
  });
});

describe("MQAR determinism", () => {
  const params = mqar.defaultParams;
  const flat = (es: Example[]) => es.map((e) => [Array.from(e.input_ids), Array.from(e.targets)]);

  it("same (params, split, n, seed) gives identical arrays", () => {
    const a = mqar.generate(params, "test", 20, 7);
    const b = mqar.generate(params, "test", 20, 7);
    expect(flat(a)).toEqual(flat(b));
  });

  it("a larger n extends the same stream (earlier examples unchanged)", () => {
    expect(flat(mqar.generate(params, "valid", 5, 7))).toEqual(flat(mqar.generate(params, "valid", 12, 7).slice(0, 5)));
  });

  it("a different split or seed gives different examples", () => {
    const base = flat(mqar.generate(params, "test", 20, 7));
    expect(flat(mqar.generate(params, "train", 20, 7))).not.toEqual(base);
    expect(flat(mqar.generate(params, "valid", 20, 7))).not.toEqual(base);
    expect(flat(mqar.generate(params, "test", 20, 8))).not.toEqual(base);
    // not even one shared example between train and test
    const train = new Set(flat(mqar.generate(params, "train", 200, 7)).map((e) => e[0]!.join(",")));
    expect(base.filter((e) => train.has(e[0]!.join(",")))).toEqual([]);
  });

  it("pins the generated data (datasets on disk must stay reproducible)", () => {
    // FNV-1a over the tokens of the first examples; computed from the implementation as written. A change here
    // means every published split changes: bump mqar.version rather than updating this lightly.
    const es = mqar.generate(params, "train", 3, 0);
    let h = 0x811c9dc5;
    for (const e of es) for (const arr of [e.input_ids, e.targets]) for (const t of arr) h = Math.imul(h ^ (t & 0xffff), 0x01000193) >>> 0;
    expect(Array.from(es[0]!.input_ids.subarray(0, 6))).toEqual(PINNED_FIRST_TOKENS);
    expect(h).toBe(PINNED_HASH);
  });

  it("generateMqar only depends on the Rng it is given", () => {
    const a = generateMqar(params, 3, new Rng(1, "x"));
    const b = generateMqar(params, 3, new Rng(1, "x"));
    expect(flat(a)).toEqual(flat(b));
    expect(flat(generateMqar(params, 3, new Rng(1, "y")))).not.toEqual(flat(a));
  });
});

const PINNED_FIRST_TOKENS = [552, 7906, 1131, 6661, 2549, 6991];
const PINNED_HASH = 0x864e40df;

describe("MQAR gap distribution: power law p(g) ~ (g+1)^(a-1), a = 0.01", () => {
  const params = p(8192, 128, 8);
  const space = (128 - 16) / 2; // 56 query slots
  const w = Array.from({ length: space }, (_, g) => (g + 1) ** (params.power_a - 1));
  const meanOver = (lo: number, hi: number) => {
    let s = 0;
    let m = 0;
    for (let g = lo; g < hi; g++) {
      s += w[g]!;
      m += g * w[g]!;
    }
    return m / s;
  };
  const gaps = mqar.generate(params, "train", 2000, 0).map((e) => checkGapsOnly(e, params));

  it("skews all gaps far below the uniform mean, inside bounds derived from the law", () => {
    const all = gaps.flat();
    const mean = all.reduce((s, x) => s + x, 0) / all.length;
    const uniformMean = (space - 1) / 2; // 27.5
    // The k-th draw without replacement (k = 0..7) comes from p restricted to the slots not yet drawn; its mean lies
    // between p's mean over the lowest (space - k) slots and over the highest (space - k) slots.
    // Averaged over the 8 draws: about [10.7, 18.3]; numpy's choice(p=..., replace=False) gives 14.1.
    const lower = Array.from({ length: 8 }, (_, k) => meanOver(0, space - k)).reduce((s, x) => s + x) / 8;
    const upper = Array.from({ length: 8 }, (_, k) => meanOver(k, space)).reduce((s, x) => s + x) / 8;
    expect(lower).toBeCloseTo(10.69, 1);
    expect(upper).toBeCloseTo(18.32, 1);
    expect(mean).toBeGreaterThan(lower);
    expect(mean).toBeLessThan(upper);
    expect(mean).toBeLessThan(0.7 * uniformMean);
    // short gaps dominate: the shortest slot is queried far more often than the longest
    const count = (g: number) => all.filter((x) => x === g).length;
    expect(count(0)).toBeGreaterThan(10 * count(space - 1));
  });

  it("draws the first pair's gap exactly from p (chi-square over the 56 slots)", () => {
    // The first pair's gap is the first draw: a single draw from p(g) = w_g / sum(w).
    const total = w.reduce((s, x) => s + x, 0);
    const counts = new Array<number>(space).fill(0);
    for (const g of gaps) counts[g[0]!]!++;
    const chi = counts.reduce((s, c, g) => s + (c - (2000 * w[g]!) / total) ** 2 / ((2000 * w[g]!) / total), 0);
    // df = 55, p = 0.001 critical value 93.2
    expect(chi).toBeLessThan(93.2);
    const mean = counts.reduce((s, c, g) => s + c * g, 0) / 2000;
    // E = 11.31, sd = 14.17: within 4 standard errors (4 * 14.17 / sqrt(2000) = 1.27)
    expect(Math.abs(mean - meanOver(0, space))).toBeLessThan(1.27);
  });

  it("power_a = 1 gives uniform gaps", () => {
    const u = mqar.generate(p(8192, 128, 8, 1), "train", 1000, 0).map((e) => checkGapsOnly(e, params));
    const mean = u.flat().reduce((s, x) => s + x, 0) / 8000;
    // sd of uniform on 0..55 is 16.2; mean of 8000 draws (negatively correlated within an example): within 0.8
    expect(Math.abs(mean - 27.5)).toBeLessThan(0.8);
  });
});

/** Gaps of each pair in pair order (a cheaper twin of checkExample for large loops). */
function checkGapsOnly(e: Example, params: MqarParams): number[] {
  const n = params.num_kv_pairs;
  const out = new Array<number>(n);
  for (let q = 2 * n; q < e.targets.length; q++) {
    if (e.targets[q] === IGNORE) continue;
    for (let i = 0; i < n; i++) if (e.input_ids[2 * i] === e.input_ids[q]) out[i] = (q - 2 * n) / 2;
  }
  expect(out.every((g) => g !== undefined)).toBe(true);
  return out;
}

describe("MQAR parameters and settings", () => {
  it("parseParams fills defaults and accepts valid settings", () => {
    expect(mqar.parseParams({})).toEqual({ vocab: 8192, seq_len: 128, num_kv_pairs: 8, power_a: 0.01 });
    expect(mqar.parseParams({ seq_len: 1024, num_kv_pairs: 64 })).toEqual({ vocab: 8192, seq_len: 1024, num_kv_pairs: 64, power_a: 0.01 });
    expect(mqar.parseParams({ vocab: 10, seq_len: 16, num_kv_pairs: 4 }).vocab).toBe(10);
  });

  it("parseParams rejects impossible settings with a clear error", () => {
    expect(() => mqar.parseParams({ seq_len: 31, num_kv_pairs: 8 })).toThrow(/seq_len must leave room for the context and one query slot per pair/);
    expect(() => mqar.parseParams({ vocab: 16, seq_len: 64, num_kv_pairs: 8 })).toThrow(/vocab too small for distinct keys/);
    expect(() => mqar.parseParams({ vocab: 4 })).toThrow(/vocab/);
    expect(() => mqar.parseParams({ power_a: 0 })).toThrow(/power_a/);
    expect(() => mqar.parseParams({ power_a: 1.5 })).toThrow(/power_a/);
    expect(() => mqar.parseParams({ seq_len: 128.5 })).toThrow(/seq_len/);
    expect(() => mqar.parseParams({ num_kv_pairs: 0 })).toThrow(/num_kv_pairs/);
    expect(() => mqar.parseParams({ seq_len: "128" })).toThrow(/seq_len/);
  });

  it("every accepted setting can be generated (boundary: seq_len = 4 * pairs, vocab = 2 * (pairs + 1))", () => {
    for (const raw of [
      { vocab: 10, seq_len: 16, num_kv_pairs: 4 },
      { vocab: 11, seq_len: 17, num_kv_pairs: 4 },
      { vocab: 8, seq_len: 12, num_kv_pairs: 3 },
    ]) {
      const params = mqar.parseParams(raw);
      for (const e of mqar.generate(params, "train", 20, 0)) checkExample(e, params);
    }
  });

  it("settings() lists the trained setting first, then longer ones at the same pair density", () => {
    const names = (trained: MqarParams) => mqar.settings(trained).map((s) => s.name);
    expect(names(mqar.defaultParams)).toEqual(["128/8", "256/16", "512/32", "1024/64"]);
    const s = mqar.settings(mqar.defaultParams);
    expect(s[0]!.params).toEqual(mqar.defaultParams);
    expect(s[3]!.params).toEqual({ vocab: 8192, seq_len: 1024, num_kv_pairs: 64, power_a: 0.01 });
    expect(names(p(8192, 256, 16))).toEqual(["256/16", "512/32", "1024/64"]);
    expect(names(p(8192, 1024, 64))).toEqual(["1024/64"]);
    expect(names(p(256, 128, 4))).toEqual(["128/4", "256/8", "512/16", "1024/32"]);
    expect(mqar.settings(p(256, 128, 4)).every((x) => x.params.vocab === 256)).toBe(true);
    // every listed setting is itself valid
    for (const x of mqar.settings(mqar.defaultParams)) expect(mqar.parseParams(x.params)).toEqual(x.params);
  });

  it("describes itself for cards", () => {
    expect(mqar.id).toBe("mqar");
    expect(mqar.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(mqar.metric).toBe("accuracy");
    expect(mqar.vocab(mqar.defaultParams)).toBe(8192);
    expect(mqar.seqLen(p(64, 37, 4))).toBe(37);
  });
});
