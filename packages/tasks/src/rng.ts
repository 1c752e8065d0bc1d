// A small seeded PRNG written here on purpose: the generators are the single source of truth for every split,
// so their random stream must never change under a library upgrade. sfc32 (Chris Doty-Humphrey's Small Fast
// Counter, PractRand-clean) seeded through splitmix32.

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Hash a string (e.g. a split name) into 32 bits (FNV-1a), to derive independent streams from one seed. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = "") {
    const init = splitmix32((seed ^ hashString(stream)) >>> 0);
    this.a = init();
    this.b = init();
    this.c = init();
    this.d = init();
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [lo, hi), without modulo bias (rejection sampling). */
  int(lo: number, hi: number): number {
    const range = hi - lo;
    if (!(range > 0) || range > 2 ** 32) throw new RangeError(`Rng.int: bad range [${lo}, ${hi})`);
    const limit = 2 ** 32 - (2 ** 32 % range);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return lo + (x % range);
  }

  /** k distinct integers from [lo, hi), in random order (partial Fisher-Yates over a sparse map). */
  distinct(lo: number, hi: number, k: number): number[] {
    const n = hi - lo;
    if (k > n) throw new RangeError(`Rng.distinct: cannot draw ${k} distinct values from ${n}`);
    const swapped = new Map<number, number>();
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      const j = this.int(i, n);
      const vj = swapped.get(j) ?? j;
      swapped.set(j, swapped.get(i) ?? i);
      out.push(lo + vj);
    }
    return out;
  }

  /** k distinct indices drawn without replacement with probability proportional to `weights` (like numpy's choice). */
  weightedDistinct(weights: readonly number[], k: number): number[] {
    const w = [...weights];
    const available = w.filter((x) => x > 0).length;
    if (k > available) throw new RangeError(`Rng.weightedDistinct: cannot draw ${k} distinct indices from ${available} with positive weight`);
    let total = w.reduce((s, x) => s + x, 0);
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      let r = this.float() * total;
      let j = 0;
      for (; j < w.length - 1; j++) {
        if (w[j]! === 0) continue;
        r -= w[j]!;
        if (r < 0) break;
      }
      while (w[j] === 0) j--; // float rounding at the end of the scan
      out.push(j);
      total -= w[j]!;
      w[j] = 0;
    }
    return out;
  }
}
