// Accuracy of a checkpoint on examples: batched prefill, argmax at the scored positions.
import { wilsonInterval } from "@ssmbench/core";
import type { RecurrentDriver } from "@ssmbench/runtime";
import { scoreArgmax, type Example } from "@ssmbench/tasks";

export interface Accuracy {
  correct: number;
  total: number;
  examples: number;
  value: number;
  ci: [number, number];
  batch: number;
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
      });
      done += chunk.length;
      onProgress?.(done);
    }
  }
  return { correct, total, examples: examples.length, value: total ? correct / total : Number.NaN, ci: wilsonInterval(correct, total), batch: batchUsed };
}
