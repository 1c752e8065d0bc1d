// Small statistics shared by the runner and the report.

/** Wilson score interval for a binomial proportion (95% by default); stable near 0 and 1, unlike the normal one. */
export function wilsonInterval(successes: number, n: number, z = 1.959964): [number, number] {
  if (n === 0) return [Number.NaN, Number.NaN];
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At p = 0 or 1 the exact bound is 0 or 1; floating point lands a hair inside it.
  return [successes === 0 ? 0 : Math.max(0, centre - half), successes === n ? 1 : Math.min(1, centre + half)];
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Median with a distribution-free 95% confidence interval from order statistics
 * (binomial ranks n/2 -+ 1.96 sqrt(n)/2), as benchmark tools report it.
 */
export function medianWithCI(samples: readonly number[]): { median: number; low: number; high: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { median: Number.NaN, low: Number.NaN, high: Number.NaN, n };
  const half = 0.98 * Math.sqrt(n);
  // Centred on the 0-based median position (n-1)/2, so the ranks are symmetric (lo + hi = n - 1), e.g. n = 100 -> X(40), X(61) 1-based.
  const mid = (n - 1) / 2;
  const lo = Math.max(0, Math.floor(mid - half));
  const hi = Math.min(n - 1, Math.ceil(mid + half));
  return { median: quantile(s, 0.5), low: s[lo]!, high: s[hi]!, n };
}

/**
 * A ratio of sums over independent units and its normal (delta-method) 95% interval: R = sum(num) / sum(den), with
 * the variance of R estimated from the units' residuals num_i - R den_i, as for a ratio estimator in survey sampling.
 * The units are examples and the ratio, e.g., bits per byte (bits of an example over its bytes), so the interval
 * reflects how much examples differ, not just how many positions were scored. Fewer than 2 units: no interval.
 */
export function ratioInterval(num: readonly number[], den: readonly number[], z = 1.959964): { value: number; low: number; high: number } {
  if (num.length !== den.length) throw new Error("ratioInterval: num and den differ in length");
  const n = num.length;
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) {
    a += num[i]!;
    b += den[i]!;
  }
  if (n === 0 || b === 0) return { value: Number.NaN, low: Number.NaN, high: Number.NaN };
  const r = a / b;
  if (n < 2) return { value: r, low: Number.NaN, high: Number.NaN };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (num[i]! - r * den[i]!) ** 2;
  const se = Math.sqrt(ss / (n * (n - 1))) / (b / n);
  return { value: r, low: r - z * se, high: r + z * se };
}
