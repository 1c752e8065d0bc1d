// Timing as tinybench and mitata do it: warm-up, then samples until both a minimum count and a minimum time,
// capped by a maximum time; median with a distribution-free 95% interval.
import { medianWithCI } from "@ssmbench/core";

export interface TimingOptions {
  warmup: number;
  minSamples: number;
  minTimeMs: number;
  maxTimeMs: number;
  /** samples always taken, even past maxTimeMs (default 1) */
  floorSamples?: number;
}

export const fullTiming: TimingOptions = { warmup: 2, minSamples: 7, minTimeMs: 2000, maxTimeMs: 30_000 };
export const quickTiming: TimingOptions = { warmup: 1, minSamples: 3, minTimeMs: 200, maxTimeMs: 5_000 };

export interface Timing {
  samplesMs: number[];
  median: number;
  low: number;
  high: number;
  p90: number;
  n: number;
}

export async function measure(fn: () => Promise<unknown>, opts: TimingOptions): Promise<Timing> {
  for (let i = 0; i < opts.warmup; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  for (;;) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
    const elapsed = performance.now() - start;
    if ((samples.length >= opts.minSamples && elapsed >= opts.minTimeMs) || (elapsed >= opts.maxTimeMs && samples.length >= (opts.floorSamples ?? 1))) break;
  }
  return summarize(samples);
}

export function summarize(samplesMs: number[]): Timing {
  const { median, low, high, n } = medianWithCI(samplesMs);
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const p90 = sorted[Math.min(sorted.length - 1, Math.floor(0.9 * (sorted.length - 1) + 0.5))] ?? Number.NaN;
  return { samplesMs, median, low, high, p90, n };
}
