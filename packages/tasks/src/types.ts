import type { TaskSpec } from "@ssmbench/core";

/** Targets use this where a position is not scored (as PyTorch's cross-entropy ignore_index). */
export const IGNORE = -100;

/**
 * One example: `targets[i]` is the token the model should predict after reading `input_ids[0..i]`,
 * or IGNORE. Both have the same length.
 */
export interface Example {
  input_ids: Int32Array;
  targets: Int32Array;
}

export type Split = "train" | "valid" | "test";

/** An evaluation setting of a task: a named parameter set (e.g. MQAR at length 512 with 32 pairs). */
export interface Setting<P> {
  name: string;
  params: P;
}

export interface TaskDef<P extends Record<string, unknown> = Record<string, unknown>> {
  id: string;
  version: string;
  title: string;
  metric: TaskSpec["metric"];
  /** Source paper and where the spec comes from, for cards and reports. */
  source: string;
  /** The setting a checkpoint is trained at. */
  defaultParams: P;
  /** Settings evaluated by `bench`, the trained one first. */
  settings(trained: P): Setting<P>[];
  vocab(params: P): number;
  seqLen(params: P): number;
  /**
   * Deterministic: the same (params, split, n, seed) gives the same examples on every machine. A task cut from a
   * fixed text (byte-lm, subword-lm) returns at most as many held-out windows as the split holds, so maybe fewer than n.
   */
  generate(params: P, split: Split, n: number, seed: number): Example[];
  parseParams(raw: Record<string, unknown>): P;
  /** How one example scores (default scoreArgmax: every scored position counts; exact_match tasks: the example). */
  scoreExample?: (example: Example, logits: Float32Array, vocab: number, offset?: number) => Score;
}

export interface Score {
  correct: number;
  total: number;
  /** Language-modelling tasks: the sum over scored positions of -log2 p(target), p the softmax of the logits. */
  bits?: number;
  /** Language-modelling tasks: the bytes of text the scored targets stand for (bits per byte's denominator). */
  bytes?: number;
}

/** Accuracy over scored positions: argmax of the logits at each position with a target. */
export function scoreArgmax(example: Example, logits: Float32Array, vocab: number, offset = 0): Score {
  let correct = 0;
  let total = 0;
  const { targets } = example;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (t === IGNORE) continue;
    total++;
    const base = offset + i * vocab;
    let best = 0;
    let bestValue = logits[base]!;
    for (let v = 1; v < vocab; v++) {
      const x = logits[base + v]!;
      if (x > bestValue) {
        bestValue = x;
        best = v;
      }
    }
    if (best === t) correct++;
  }
  return { correct, total };
}

/**
 * Next-token scoring of a language model: argmax accuracy, and the negative log2-likelihood of every scored target
 * under the softmax of its position's logits (a stable log-sum-exp in float64), with the bytes of text those targets
 * stand for: `bytesOf[token]` (one byte a token when omitted, as for a byte-level model).
 * Mean bits per byte = sum(bits) / sum(bytes); perplexity = 2 ** (sum(bits) / sum(total)).
 */
export function scoreLogLikelihood(example: Example, logits: Float32Array, vocab: number, offset = 0, bytesOf?: ArrayLike<number>): Score {
  let correct = 0;
  let total = 0;
  let bits = 0;
  let bytes = 0;
  const { targets } = example;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (t === IGNORE) continue;
    if (t < 0 || t >= vocab) throw new Error(`target ${t} at position ${i} is outside the vocabulary of ${vocab}`);
    total++;
    const base = offset + i * vocab;
    let best = 0;
    let max = logits[base]!;
    for (let v = 1; v < vocab; v++) {
      const x = logits[base + v]!;
      if (x > max) {
        max = x;
        best = v;
      }
    }
    if (best === t) correct++;
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(logits[base + v]! - max);
    bits += (Math.log(sum) - (logits[base + t]! - max)) / Math.LN2;
    bytes += bytesOf ? bytesOf[t]! : 1;
  }
  return { correct, total, bits, bytes };
}

/** Exact match: the example counts as one correct only when every scored position's argmax is right. */
export function scoreExactMatch(example: Example, logits: Float32Array, vocab: number, offset = 0): Score {
  const s = scoreArgmax(example, logits, vocab, offset);
  return { correct: s.total > 0 && s.correct === s.total ? 1 : 0, total: 1 };
}
