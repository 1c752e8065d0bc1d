import { describe, expect, it } from "vitest";
import { medianWithCI, quantile, ratioInterval, wilsonInterval } from "./stats.ts";

describe("wilsonInterval", () => {
  // Textbook values: Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I.
  const cases: [number, number, number, number][] = [
    [0, 10, 0, 0.2775],
    [1, 10, 0.0179, 0.4042],
    [10, 10, 0.7225, 1],
    [81, 263, 0.2553, 0.3662],
    [50, 100, 0.4038, 0.5962],
  ];
  for (const [k, n, lo, hi] of cases) {
    it(`${k}/${n} -> [${lo}, ${hi}]`, () => {
      const [l, h] = wilsonInterval(k, n);
      expect(Math.abs(l - lo)).toBeLessThan(1e-4);
      expect(Math.abs(h - hi)).toBeLessThan(1e-4);
    });
  }

  it("is exact at the ends: 0/n starts at 0, n/n ends at 1, upper(0/n) = z^2/(n+z^2)", () => {
    const z2 = 1.959964 ** 2;
    for (const n of [1, 7, 100, 10_000]) {
      const [l0, h0] = wilsonInterval(0, n);
      expect(l0).toBe(0);
      expect(h0).toBeCloseTo(z2 / (n + z2), 12);
      const [l1, h1] = wilsonInterval(n, n);
      expect(h1).toBe(1);
      expect(l1).toBeCloseTo(n / (n + z2), 12);
    }
  });

  it("contains the point estimate, stays in [0, 1] and is symmetric under k -> n-k", () => {
    for (const n of [1, 3, 20, 250]) {
      for (let k = 0; k <= n; k++) {
        const [l, h] = wilsonInterval(k, n);
        expect(l).toBeGreaterThanOrEqual(0);
        expect(h).toBeLessThanOrEqual(1);
        expect(l).toBeLessThanOrEqual(k / n + 1e-12);
        expect(h).toBeGreaterThanOrEqual(k / n - 1e-12);
        const [l2, h2] = wilsonInterval(n - k, n);
        expect(l).toBeCloseTo(1 - h2, 12);
        expect(h).toBeCloseTo(1 - l2, 12);
      }
    }
  });

  it("narrows as n grows and widens with z", () => {
    const w = (k: number, n: number, z?: number) => {
      const [l, h] = wilsonInterval(k, n, z);
      return h - l;
    };
    expect(w(500, 1000)).toBeLessThan(w(50, 100));
    expect(w(50, 100)).toBeLessThan(w(5, 10));
    expect(w(50, 100, 2.575829)).toBeGreaterThan(w(50, 100));
    // 99% Wilson interval for 50/100: 0.5 +- 0.1247.
    const [l, h] = wilsonInterval(50, 100, 2.575829);
    expect(Math.abs(l - 0.3753)).toBeLessThan(1e-4);
    expect(Math.abs(h - 0.6247)).toBeLessThan(1e-4);
  });

  it("gives NaN for n = 0", () => {
    const [l, h] = wilsonInterval(0, 0);
    expect(l).toBeNaN();
    expect(h).toBeNaN();
  });
});

describe("quantile (linear interpolation, as numpy's default)", () => {
  const s = [1, 1, 2, 3, 4, 5, 6, 9]; // sorted [3,1,4,1,5,9,2,6]

  it("matches numpy.quantile", () => {
    // numpy.quantile(x, [0, .1, .25, .5, .9, 1]) -> 1, 1, 1.75, 3.5, 6.9, 9
    expect(quantile(s, 0)).toBe(1);
    expect(quantile(s, 0.1)).toBeCloseTo(1, 12);
    expect(quantile(s, 0.25)).toBeCloseTo(1.75, 12);
    expect(quantile(s, 0.5)).toBeCloseTo(3.5, 12);
    expect(quantile(s, 0.9)).toBeCloseTo(6.9, 12);
    expect(quantile(s, 1)).toBe(9);
  });

  it("handles one value and no values", () => {
    expect(quantile([42], 0)).toBe(42);
    expect(quantile([42], 0.37)).toBe(42);
    expect(quantile([42], 1)).toBe(42);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it("returns exact order statistics at their positions", () => {
    const xs = [10, 20, 30, 40, 50];
    xs.forEach((x, i) => expect(quantile(xs, i / 4)).toBe(x));
    expect(quantile(xs, 0.125)).toBe(15);
  });
});

describe("medianWithCI", () => {
  it("handles empty and single samples", () => {
    const e = medianWithCI([]);
    expect(e.n).toBe(0);
    expect(e.median).toBeNaN();
    expect(e.low).toBeNaN();
    expect(e.high).toBeNaN();
    expect(medianWithCI([7])).toEqual({ median: 7, low: 7, high: 7, n: 1 });
  });

  it("sorts its input without changing it and takes the middle", () => {
    const samples = [5, 1, 4, 2, 3];
    const r = medianWithCI(samples);
    expect(samples).toEqual([5, 1, 4, 2, 3]);
    expect(r).toEqual({ median: 3, low: 1, high: 5, n: 5 }); // too few samples for 95%: the range
    expect(medianWithCI([4, 1, 3, 2]).median).toBe(2.5);
  });

  it("uses the classic order statistics (n=10: X(2), X(9); n=20: X(6), X(15); n=100: X(40), X(61))", () => {
    const ranks = (n: number) => {
      const r = medianWithCI(Array.from({ length: n }, (_, i) => n - i)); // values 1..n, shuffled order
      return [r.low, r.high];
    };
    expect(ranks(10)).toEqual([2, 9]);
    expect(ranks(20)).toEqual([6, 15]);
    expect(ranks(100)).toEqual([40, 61]);
    expect(medianWithCI(Array.from({ length: 100 }, (_, i) => i + 1)).median).toBe(50.5);
  });

  it("is symmetric in rank and covers the median with >= 95% (exact binomial) for 6 <= n <= 300", () => {
    for (let n = 6; n <= 300; n++) {
      const r = medianWithCI(Array.from({ length: n }, (_, i) => i + 1));
      const lo = r.low - 1; // 0-based indices
      const hi = r.high - 1;
      expect(lo + hi, `n=${n}`).toBe(n - 1);
      // P(X(lo+1) <= median <= X(hi+1)) = P(lo+1 <= B <= hi) with B ~ Binomial(n, 1/2).
      let logC = 0; // log C(n, b), starting at b = 0
      let coverage = 0;
      for (let b = 0; b <= hi; b++) {
        if (b > 0) logC += Math.log((n - b + 1) / b);
        if (b >= lo + 1) coverage += Math.exp(logC - n * Math.LN2);
      }
      expect(coverage, `n=${n}`).toBeGreaterThanOrEqual(0.95);
      expect(r.low).toBeLessThanOrEqual(r.median);
      expect(r.high).toBeGreaterThanOrEqual(r.median);
    }
  });
});

describe("ratioInterval", () => {
  it("is the ratio of the sums, with the delta-method interval worked by hand", () => {
    // num 2, 4, 9 over den 1, 2, 3: R = 15/6 = 2.5; residuals 2-2.5, 4-5, 9-7.5 = -0.5, -1, 1.5; ss = 3.5;
    // se = sqrt(3.5 / (3 * 2)) / (6 / 3) = 0.381881...
    const r = ratioInterval([2, 4, 9], [1, 2, 3]);
    const se = Math.sqrt(3.5 / 6) / 2;
    expect(r.value).toBe(2.5);
    expect(r.low).toBeCloseTo(2.5 - 1.959964 * se, 12);
    expect(r.high).toBeCloseTo(2.5 + 1.959964 * se, 12);
  });

  it("has zero width when every unit has the same ratio, and no interval below 2 units", () => {
    const same = ratioInterval([3, 6, 30], [1, 2, 10]);
    expect([same.value, same.low, same.high]).toEqual([3, 3, 3]);
    const one = ratioInterval([3], [2]);
    expect(one.value).toBe(1.5);
    expect(one.low).toBeNaN();
    expect(ratioInterval([], []).value).toBeNaN();
  });

  it("narrows as the number of units grows (like 1/sqrt(n))", () => {
    const make = (n: number) => ratioInterval(Array.from({ length: n }, (_, i) => (i % 2 ? 3 : 1)), Array.from({ length: n }, () => 1));
    const w = (r: { low: number; high: number }) => r.high - r.low;
    // values 1, 3, 1, 3, ... over 1 each: R = 2, residuals -+1, se = 1 / sqrt(n - 1)
    expect(w(make(100))).toBeCloseTo((2 * 1.959964) / Math.sqrt(99), 12);
    expect(w(make(400)) / w(make(100))).toBeCloseTo(Math.sqrt(99 / 399), 12);
  });
});
