// Accuracy of a checkpoint on examples: batched prefill, argmax at the scored positions; for language-modelling
// tasks (scorers that return bits) also bits per byte and perplexity, with intervals over examples.
// Settings longer than STREAM_ABOVE tokens are stepped through step.onnx instead (constant-state checkpoints only),
// keeping only the scored positions' logits; every setting evaluates at most a token budget's worth of examples.
import { ratioInterval, wilsonInterval, type QualityMetric, type StateTensor, type TaskSpec } from "@ssmbench/core";
import type { RecurrentDriver } from "@ssmbench/runtime";
import { IGNORE, scoreArgmax, type Example, type Score } from "@ssmbench/tasks";

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
 * Examples per prefill call: keeps the [batch, seq, vocab] logits near 128 MB, a batch at most 2^16 tokens and
 * batch x seq^2 at most 2^28 (attention's [batch, heads, seq, seq] scores grow with both: 64 x 4096 tokens of a
 * small-vocabulary task once took a 2-layer attention model past 24 GB, and 4 x 16,384 got one killed).
 */
export const evalBatch = (seqLen: number, vocab: number) =>
  Math.max(1, Math.min(64, Math.floor(2 ** 25 / (seqLen * vocab)), Math.floor(2 ** 16 / seqLen), Math.floor(2 ** 28 / seqLen ** 2)));

/** Tokens a setting's test examples may hold in all: a setting of length T gets at most 2^21 / T examples... */
export const EXAMPLE_TOKEN_BUDGET = 2 ** 21;
/** ...but never fewer than this (16 at 2^18 and 2^20), nor more than asked for. */
export const MIN_EXAMPLES = 16;

/**
 * Test examples of a setting of `seqLen` tokens when `asked` are asked for (bench's --examples, default 1000):
 * min(asked, max(16, floor(2^21 / seqLen))). 1000 up to 2,048 tokens, 512 at 4K, 32 at 2^16, 16 at 2^18 and 2^20.
 * A function of the setting alone, so a rerun (bench --verify reads the count off the row's note) draws the same examples.
 */
export function examplesFor(seqLen: number, asked: number): number {
  return Math.min(asked, Math.max(MIN_EXAMPLES, Math.floor(EXAMPLE_TOKEN_BUDGET / Math.max(1, seqLen))));
}

/** Settings longer than this many tokens are not prefilled: they are streamed through step.onnx, or not run. */
export const STREAM_ABOVE = 2 ** 16;

/** The card's states whose size grows with the length (a `past_seq` dim: attention's key_values, Hyena's hist). */
export const growingStates = (states: readonly StateTensor[]) => states.filter((s) => s.shape.includes("past_seq"));

/**
 * How a setting of `seqLen` tokens is evaluated: batched prefill up to `streamAbove` tokens; past it, token by token
 * through step.onnx when every state has a constant size, else not at all (an `na` row whose note says why).
 */
export type EvalPlan = { mode: "prefill" } | { mode: "stream" } | { mode: "na"; note: string };
export function evalPlan(states: readonly StateTensor[], seqLen: number, streamAbove = STREAM_ABOVE): EvalPlan {
  if (seqLen <= streamAbove) return { mode: "prefill" };
  const growing = growingStates(states);
  if (growing.length === 0) return { mode: "stream" };
  return {
    mode: "na",
    note:
      `not run: its state grows with the length (${growing.map((s) => s.name).slice(0, 2).join(", ")}${growing.length > 2 ? ", ..." : ""} ` +
      `${growing.length === 1 ? "has" : "have"} a past_seq dim), and settings over ${streamAbove.toLocaleString("en-US")} tokens are ` +
      `streamed through step.onnx for constant-size states only; the Mamba paper's attention rows are OOM at 2^20 (Table 11)`,
  };
}

/** What a streamed row's note adds: how it was evaluated (bench --verify reads it back with wasStreamed). */
export const streamedNote = (batch: number) => `streamed through step.onnx (${batch} examples stepped together, token by token; logits kept at scored positions only)`;
export const wasStreamed = (note: string) => note.includes("streamed through step.onnx");

/** What a row's note adds when the token budget (examplesFor) cut the examples below the count asked for. */
export const budgetNote = (count: number, asked: number) =>
  count < asked ? ` (of ${asked} asked for: at most ${EXAMPLE_TOKEN_BUDGET.toLocaleString("en-US")} tokens of examples per setting, and at least ${MIN_EXAMPLES} examples)` : "";

/** Sums of scores over examples, and the Accuracy they make. */
class Tally {
  correct = 0;
  total = 0;
  batch = 1;
  readonly bits: number[] = [];
  readonly tokens: number[] = [];
  readonly bytes: number[] = [];

  add(s: Score): void {
    this.correct += s.correct;
    this.total += s.total;
    if (s.bits !== undefined) {
      this.bits.push(s.bits);
      this.tokens.push(s.total);
      this.bytes.push(s.bytes ?? s.total);
    }
  }

  result(examples: number): Accuracy {
    if (this.bits.length > 0 && this.bits.length !== examples) throw new Error("the scorer returned bits for some examples only");
    return {
      correct: this.correct,
      total: this.total,
      examples,
      value: this.total ? this.correct / this.total : Number.NaN,
      ci: wilsonInterval(this.correct, this.total),
      batch: this.batch,
      ...(this.bits.length ? { likelihood: likelihood(this.bits, this.tokens, this.bytes) } : {}),
    };
  }
}

/** Examples grouped by length (user data may mix lengths), in order of first appearance. */
function byLength(examples: readonly Example[]): Map<number, Example[]> {
  const byLen = new Map<number, Example[]>();
  for (const e of examples) {
    const group = byLen.get(e.input_ids.length);
    if (group) group.push(e);
    else byLen.set(e.input_ids.length, [e]);
  }
  return byLen;
}

export async function accuracy(driver: RecurrentDriver, vocab: number, examples: readonly Example[], onProgress?: (done: number) => void, score: typeof scoreArgmax = scoreArgmax): Promise<Accuracy> {
  const tally = new Tally();
  let done = 0;
  for (const [T, group] of byLength(examples)) {
    const B = evalBatch(T, vocab);
    tally.batch = Math.max(tally.batch, Math.min(B, group.length));
    for (let i = 0; i < group.length; i += B) {
      const chunk = group.slice(i, i + B);
      const ids = new BigInt64Array(chunk.length * T);
      chunk.forEach((e, b) => e.input_ids.forEach((t, j) => (ids[b * T + j] = BigInt(t))));
      const { logits } = await driver.prefill(ids, chunk.length, T);
      chunk.forEach((e, b) => tally.add(score(e, logits, vocab, b * T * vocab)));
      done += chunk.length;
      onProgress?.(done);
    }
  }
  return tally.result(examples.length);
}

/**
 * accuracy() through step.onnx: the examples of one length are stepped together (batch = all of them), token by
 * token from the initial state, and only the logits of scored positions are kept, so memory does not grow with
 * the length (for a constant-state checkpoint). Stepping stops after the last scored position. Each example is
 * scored on its scored positions alone, by the same scorer (scorers read targets and logits, not input_ids).
 * `onStep(t, T)` reports the tokens stepped of the current length.
 */
export async function streamAccuracy(driver: RecurrentDriver, vocab: number, examples: readonly Example[], onStep?: (t: number, T: number) => void, score: typeof scoreArgmax = scoreArgmax): Promise<Accuracy> {
  const tally = new Tally();
  for (const group of byLength(examples).values()) {
    const B = group.length;
    tally.batch = Math.max(tally.batch, B);
    const scored = group.map((e) => {
      const at: number[] = [];
      e.targets.forEach((t, i) => t !== IGNORE && at.push(i));
      return Int32Array.from(at);
    });
    const kept = scored.map((at) => new Float32Array(at.length * vocab));
    const next = new Int32Array(B); // per example: the index in `scored` of its next scored position
    const end = Math.max(0, ...scored.map((at) => (at.length ? at[at.length - 1]! + 1 : 0)));
    const column = new BigInt64Array(B);
    if (end > 0) driver.reset(B);
    for (let t = 0; t < end; t++) {
      for (let b = 0; b < B; b++) column[b] = BigInt(group[b]!.input_ids[t]!);
      const logits = await driver.step(column); // [B, vocab], a reused buffer: copy what is kept
      for (let b = 0; b < B; b++) {
        const at = scored[b]!;
        const k = next[b]!;
        if (k < at.length && at[k] === t) {
          kept[b]!.set(logits.subarray(b * vocab, (b + 1) * vocab), k * vocab);
          next[b] = k + 1;
        }
      }
      if (onStep && ((t + 1) % 4096 === 0 || t + 1 === end)) onStep(t + 1, end);
    }
    group.forEach((e, b) => {
      const at = scored[b]!;
      const compact: Example = { input_ids: Int32Array.from(at, (i) => e.input_ids[i]!), targets: Int32Array.from(at, (i) => e.targets[i]!) };
      tally.add(score(compact, kept[b]!, vocab, 0));
    });
  }
  return tally.result(examples.length);
}

/**
 * One setting's evaluation as bench and bench --verify run it: the plan (evalPlan) picks batched prefill or
 * streaming through step.onnx; an `na` plan is the caller's to report (it throws here).
 */
export async function evaluateSetting(
  driver: RecurrentDriver,
  card: { vocab: number; states: readonly StateTensor[] },
  examples: readonly Example[],
  o: { score?: typeof scoreArgmax; onProgress?: (done: number, total: number) => void; streamAbove?: number } = {},
): Promise<Accuracy & { streamed: boolean }> {
  const T = Math.max(0, ...examples.map((e) => e.input_ids.length));
  const plan = evalPlan(card.states, T, o.streamAbove);
  if (plan.mode === "na") throw new Error(plan.note);
  if (plan.mode === "stream") return { ...(await streamAccuracy(driver, card.vocab, examples, o.onProgress, o.score)), streamed: true };
  return { ...(await accuracy(driver, card.vocab, examples, o.onProgress && ((n) => o.onProgress!(n, examples.length)), o.score)), streamed: false };
}
