// Speed of one checkpoint on one EP: prefill tokens/s at several lengths, decode latency per token through
// step.onnx (one call per token) or generate.onnx (greedy, `chunk` tokens per call) after a prefilled context, and
// the recurrent state's size in bytes.
import type { RowStatus } from "@ssmbench/core";
import type { RecurrentDriver, State } from "@ssmbench/runtime";
import { Rng } from "@ssmbench/tasks";
import { statusOf } from "./cell.ts";
import { measure, summarize, type Timing, type TimingOptions } from "./timing.ts";

/** One cell of the speed suite: what its process (or browser page) is asked to time. */
export interface CellSpec {
  dir: string;
  ep: string;
  /** generate: greedy decoding through generate.onnx, `chunk` tokens per call (the PyTorch cell: the same greedy loop) */
  kind: "prefill" | "decode" | "generate";
  /** prefill length, or decode context */
  seqLen: number;
  batch: number;
  threads: number;
  /** decode cells: intra-op threads of the step (onnxruntime-node's step session, PyTorch after the context); default `threads` */
  stepThreads?: number;
  timing: TimingOptions;
  steps: number;
  warmupSteps: number;
  /** generate cells: tokens per generate.onnx call (default GENERATE_CHUNK) */
  chunk?: number;
}

/** Tokens per generate.onnx call in a generate cell, unless the run says otherwise. */
export const GENERATE_CHUNK = 64;

/** What a cell reports back (one JSON line from a cell process, or the value a browser page returns). */
export interface CellResult {
  status: RowStatus;
  samples_ms?: number[];
  state_bytes?: number;
  peak_rss_mb?: number;
  /** What peak_rss_mb measured, where that is not the cell's own process; without peak_rss_mb, why there is none (an na row). */
  peak_rss_note?: string;
  note: string;
}

/** Decode: at least this many timed steps (and the timing's minimum time), at most CellSpec.steps. */
export const MIN_STEPS = 32;

/**
 * Times one cell on an open driver, the same way on every runtime (a Node process, a browser page): prefill of
 * `batch` x `seqLen` tokens, or single steps after a `seqLen`-token context. `note` says when the context was
 * synthetic (its prefill ran out of memory). State bytes are read off the state after the cell's tokens.
 */
export async function timeCell(
  driver: RecurrentDriver,
  vocab: number,
  c: Pick<CellSpec, "kind" | "seqLen" | "batch" | "timing" | "steps" | "warmupSteps" | "chunk">,
): Promise<{ samplesMs: number[]; stateBytes: number; note?: string }> {
  if (c.kind === "prefill") {
    const t = await prefillTiming(driver, vocab, c.seqLen, c.batch, c.timing);
    return { samplesMs: t.samplesMs, stateBytes: stateBytes(driver.state!, c.batch) };
  }
  let note: string | undefined;
  try {
    await driver.prefill(randomIds(c.seqLen, vocab, 7), 1, c.seqLen);
  } catch (e) {
    if (statusOf(e) !== "oom") throw e;
    // Step time depends on the state's shapes, not its values: time it from a state of the right size.
    driver.useState(driver.filledState(1, c.seqLen, normalFill(0)), 1);
    note = `the ${c.seqLen}-token prefill ran out of memory, so the context is a N(0,1) state of its shape`;
  }
  const t =
    c.kind === "generate"
      ? await generateTiming(driver, vocab, c.chunk ?? GENERATE_CHUNK, c.steps, c.warmupSteps, c.timing.minTimeMs)
      : await stepTiming(driver, vocab, c.steps, c.warmupSteps, MIN_STEPS, c.timing.minTimeMs);
  return { samplesMs: t.samplesMs, stateBytes: stateBytes(driver.state!, 1), note };
}

export function randomIds(n: number, vocab: number, seed: number): BigInt64Array {
  const rng = new Rng(seed, "speed");
  const ids = new BigInt64Array(n);
  for (let i = 0; i < n; i++) ids[i] = BigInt(rng.int(0, vocab));
  return ids;
}

export async function prefillTiming(driver: RecurrentDriver, vocab: number, seqLen: number, batch: number, opts: TimingOptions): Promise<Timing> {
  const ids = randomIds(seqLen * batch, vocab, seqLen);
  return measure(() => driver.prefill(ids, batch, seqLen), opts);
}

/** Per-token latency of step(): prefill `context` tokens, warm up, then time `steps` single steps. */
export async function decodeTiming(driver: RecurrentDriver, vocab: number, context: number, steps: number, warmup: number): Promise<Timing> {
  await driver.prefill(randomIds(context, vocab, 7), 1, context);
  return stepTiming(driver, vocab, steps, warmup);
}

/**
 * Times single steps from the driver's current state, after `warmup` untimed ones: `steps` of them, or, with
 * `minTimeMs`, as many as reach both `minSteps` and that time (at most `steps`), so slow steps (a long growing
 * history) keep the cell short while fast ones still get many samples.
 */
export async function stepTiming(driver: RecurrentDriver, vocab: number, steps: number, warmup: number, minSteps = steps, minTimeMs = 0): Promise<Timing> {
  const ids = randomIds(warmup + steps, vocab, 8);
  const token = new BigInt64Array(1);
  for (let i = 0; i < warmup; i++) {
    token[0] = ids[i]!;
    await driver.step(token);
  }
  const samples: number[] = [];
  const start = performance.now();
  for (let i = warmup; i < warmup + steps; i++) {
    token[0] = ids[i]!;
    const t0 = performance.now();
    await driver.step(token);
    samples.push(performance.now() - t0);
    if (samples.length >= minSteps && performance.now() - start >= minTimeMs) break;
  }
  return summarize(samples);
}

/**
 * Per-token latency of greedy decoding through generate.onnx after the driver's current state (the context): each
 * call generates `chunk` tokens from that same state, so every sample (a call's time over `chunk`) measures the
 * context the cell names, growing caches included. Untimed calls first (at least `warmup` tokens, one call at
 * least), then calls until at least MIN_STEPS tokens and `minTimeMs`, at most `steps` tokens (one call at least).
 */
export async function generateTiming(driver: RecurrentDriver, vocab: number, chunk: number, steps: number, warmup: number, minTimeMs = 0): Promise<Timing> {
  const context = driver.state!;
  const batch = Object.values(context)[0]!.dims[0]!;
  const first = BigInt64Array.from(randomIds(batch, vocab, 8));
  /** One call from the context; its ms per token (restoring the context is not timed). */
  const call = async () => {
    driver.useState(context, batch);
    const t0 = performance.now();
    await driver.generate(first, chunk);
    return (performance.now() - t0) / chunk;
  };
  for (let done = 0; done < Math.max(1, warmup); done += chunk) await call();
  const samples: number[] = [];
  const start = performance.now();
  do samples.push(await call());
  while ((samples.length + 1) * chunk <= steps && (samples.length * chunk < MIN_STEPS || performance.now() - start < minTimeMs));
  return summarize(samples);
}

/** N(0, 1) values, deterministic: what a synthetic decode context is filled with. */
export function normalFill(seed: number): (i: number) => number {
  const rng = new Rng(seed, "state");
  return () => Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
}

/** Bytes of recurrent state per sequence, read off the state tensors themselves. */
export function stateBytes(state: State, batch: number): number {
  let bytes = 0;
  for (const t of Object.values(state)) bytes += (t.data as ArrayLike<number> & { byteLength: number }).byteLength;
  return bytes / batch;
}
