// Accuracy of a checkpoint on examples: batched prefill, argmax at the scored positions; for language-modelling
// tasks (scorers that return bits) also bits per byte and perplexity, with intervals over examples.
import { ratioInterval, wilsonInterval, type QualityMetric, type TaskSpec } from "@ssmbench/core";
import type { RecurrentDriver } from "@ssmbench/runtime";
import { scoreArgmax, type Example } from "@ssmbench/tasks";

export interface Interval {
  value: number;
  low: number;
  high: number;
}

/** A language model's likelihood of the examples' scored targets. */
export interface Likelihood {
  /** sum of -log2 p(target) over scored positions */
  bits: number;
  tokens: number;
  /** bytes of text the scored targets stand for */
  bytes: number;
  /** bits / bytes, with a delta-method 95% interval over examples (each example's bits over its bytes) */
  bitsPerByte: Interval;
  /** 2^(bits / tokens), the interval of bits per token mapped through 2^x */
  perplexity: Interval;
}

export interface Accuracy {
  correct: number;
  total: number;
  examples: number;
  value: number;
  ci: [number, number];
  batch: number;
  /** Present when the scorer returns bits (language-modelling tasks). */
  likelihood?: Likelihood;
}

/** The rows a task's evaluation writes, by its metric: accuracy; bits per byte; perplexity and bits per byte. */
export function qualityMetrics(metric: TaskSpec["metric"]): QualityMetric[] {
  if (metric === "bits_per_byte") return ["bits_per_byte"];
  if (metric === "perplexity") return ["perplexity", "bits_per_byte"];
  return ["accuracy"];
}

/** One quality metric of an evaluation: value, 95% interval and n (scored positions, tokens or bytes). */
export function measured(acc: Accuracy, metric: QualityMetric): { value: number; ci: [number, number]; n: number } {
  if (metric === "accuracy") return { value: acc.value, ci: acc.ci, n: acc.total };
  const lm = acc.likelihood;
  if (!lm) throw new Error(`${metric} needs a scorer that returns bits (a language-modelling task's scoreExample)`);
  const x = metric === "bits_per_byte" ? lm.bitsPerByte : lm.perplexity;
  return { value: x.value, ci: [x.low, x.high], n: metric === "bits_per_byte" ? lm.bytes : lm.tokens };
}

function likelihood(bits: number[], tokens: number[], bytes: number[]): Likelihood {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const perToken = ratioInterval(bits, tokens);
  return {
    bits: sum(bits),
    tokens: sum(tokens),
    bytes: sum(bytes),
    bitsPerByte: ratioInterval(bits, bytes),
    perplexity: { value: 2 ** perToken.value, low: 2 ** perToken.low, high: 2 ** perToken.high },
  };
}

/** The split name of an accuracy row measured on a task setting's test examples ("test@128/8"). */
export const testSplit = (settingName: string) => `test@${settingName}`;

/** An accuracy row's note starts with what it was measured on, written and read (bench --verify) in one place. */
export const examplesNote = (n: number, seed: number) => `${n} test examples, seed ${seed}`;
export function parseExamplesNote(note: string): { examples: number; seed: number } | undefined {
  const m = /^(\d+) test examples, seed (\d+)/.exec(note);
  return m ? { examples: Number(m[1]), seed: Number(m[2]) } : undefined;
}

/**
 * Examples per prefill call: keeps the [batch, seq, vocab] logits near 128 MB and a batch at most 2^16 tokens
 * (attention's [batch, heads, seq, seq] scores grow with both: 64 x 4096 tokens of a small-vocabulary task
 * once took a 2-layer attention model past 24 GB).
 */
export const evalBatch = (seqLen: number, vocab: number) =>
  Math.max(1, Math.min(64, Math.floor(2 ** 25 / (seqLen * vocab)), Math.floor(2 ** 16 / seqLen)));

export async function accuracy(driver: RecurrentDriver, vocab: number, examples: readonly Example[], onProgress?: (done: number) => void, score: typeof scoreArgmax = scoreArgmax): Promise<Accuracy> {
  let correct = 0;
  let total = 0;
  let batchUsed = 1;
  const bits: number[] = [];
  const tokens: number[] = [];
  const bytes: number[] = [];
  // Group by length (user data may mix lengths); each group is run in batches.
  const byLen = new Map<number, Example[]>();
  for (const e of examples) byLen.set(e.input_ids.length, [...(byLen.get(e.input_ids.length) ?? []), e]);
  let done = 0;
  for (const [T, group] of byLen) {
    const B = evalBatch(T, vocab);
    batchUsed = Math.max(batchUsed, Math.min(B, group.length));
    for (let i = 0; i < group.length; i += B) {
      const chunk = group.slice(i, i + B);
      const ids = new BigInt64Array(chunk.length * T);
      chunk.forEach((e, b) => e.input_ids.forEach((t, j) => (ids[b * T + j] = BigInt(t))));
      const { logits } = await driver.prefill(ids, chunk.length, T);
      chunk.forEach((e, b) => {
        const s = score(e, logits, vocab, b * T * vocab);
        correct += s.correct;
        total += s.total;
        if (s.bits !== undefined) {
          bits.push(s.bits);
          tokens.push(s.total);
          bytes.push(s.bytes ?? s.total);
        }
      });
      done += chunk.length;
      onProgress?.(done);
    }
  }
  if (bits.length > 0 && bits.length !== examples.length) throw new Error("the scorer returned bits for some examples only");
  return {
    correct,
    total,
    examples: examples.length,
    value: total ? correct / total : Number.NaN,
    ci: wilsonInterval(correct, total),
    batch: batchUsed,
    ...(bits.length ? { likelihood: likelihood(bits, tokens, bytes) } : {}),
  };
}
