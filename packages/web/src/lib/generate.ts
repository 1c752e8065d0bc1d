// Greedy generation through the recurrent contract: prefill the prompt once, then one step.onnx call per new
// token, feeding the argmax back, or, where the driver has the checkpoint's generate.onnx, `chunk` tokens per call
// (the same tokens, the state kept inside onnxruntime between them). Browser-safe; the text demo and its Node test
// run this same function.
import { UserError } from "@ssmbench/core";
import type { RecurrentDriver } from "@ssmbench/runtime/driver";
import { argmax } from "@ssmbench/runtime/browser";

export interface GeneratedToken {
  token: number;
  /** ms since generation started (prefill included) */
  atMs: number;
}

export interface Generation {
  prompt: number[];
  tokens: number[];
  prefillMs: number;
  /** ms spent in step() or generate() calls */
  decodeMs: number;
  /** new tokens per second of decoding (the tokens after the first, over decodeMs) */
  tokensPerS: number;
  /** what produced the tokens after the first: one step.onnx call each, or generate.onnx `chunk` at a time */
  via: "step.onnx" | "generate.onnx";
}

/** Tokens per generate.onnx call in generateGreedy: few enough that a page paints them as they come. */
export const GENERATE_CHUNK = 16;

/**
 * Generates `n` tokens greedily after `prompt`. The first new token comes from prefill's last logits; each
 * further one from step(previous token), or `chunk` at a time from generate() where the driver has generate.onnx.
 * `onToken` sees every token as it is produced (a chunk's tokens as its call returns).
 */
export async function generateGreedy(
  driver: RecurrentDriver,
  prompt: readonly number[],
  n: number,
  onToken?: (t: GeneratedToken, index: number) => void | Promise<void>,
  now: () => number = () => performance.now(),
  chunk = GENERATE_CHUNK,
): Promise<Generation> {
  if (prompt.length === 0) throw new UserError("the prompt is empty", "type at least one token");
  if (!Number.isInteger(n) || n < 1) throw new UserError(`the number of tokens to generate must be a positive integer, got ${n}`);
  const V = driver.spec.vocab;
  const t0 = now();
  const pre = await driver.prefill(BigInt64Array.from(prompt.map(BigInt)), 1, prompt.length);
  const prefillMs = now() - t0;
  const tokens: number[] = [argmax(pre.logits, (prompt.length - 1) * V, V)];
  await onToken?.({ token: tokens[0]!, atMs: prefillMs }, 0);
  const input = new BigInt64Array(1);
  let decodeMs = 0;
  const via = driver.generateSession ? "generate.onnx" : "step.onnx";
  while (tokens.length < n) {
    input[0] = BigInt(tokens[tokens.length - 1]!);
    const s = now();
    const next = driver.generateSession
      ? Array.from(await driver.generate(input, Math.min(chunk, n - tokens.length)), Number)
      : [argmax(await driver.step(input), 0, V)];
    decodeMs += now() - s;
    for (const token of next) {
      tokens.push(token);
      await onToken?.({ token, atMs: now() - t0 }, tokens.length - 1);
    }
  }
  return { prompt: [...prompt], tokens, prefillMs, decodeMs, tokensPerS: n > 1 && decodeMs > 0 ? ((n - 1) * 1000) / decodeMs : Number.NaN, via };
}

/** A checkpoint whose task is a byte-level language model reads and writes UTF-8 bytes (vocabulary 256 or more). */
export const isByteLm = (card: { task: { id: string }; vocab: number }) => /(^|-)byte(-|$)|bytes?-lm|^lm-bytes?/.test(card.task.id) && card.vocab >= 256;

/** "12 7 3" (token ids separated by spaces or commas) -> [12, 7, 3], each checked against the vocabulary. */
export function parseTokenIds(text: string, vocab: number): number[] {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  return parts.map((p, i) => {
    if (!/^\d+$/.test(p)) throw new UserError(`token ${i + 1} ("${p}") is not a token id`, `type token ids from 0 to ${vocab - 1}, separated by spaces`);
    const id = Number(p);
    if (id >= vocab) throw new UserError(`token ${i + 1} (${id}) is outside the vocabulary [0, ${vocab})`, `type token ids from 0 to ${vocab - 1}`);
    return id;
  });
}

/** Text -> UTF-8 bytes as token ids (byte-level LM checkpoints). */
export const encodeBytes = (text: string): number[] => [...new TextEncoder().encode(text)];

/** Byte token ids -> text (invalid UTF-8 sequences show as U+FFFD). */
export const decodeBytes = (ids: readonly number[]): string => new TextDecoder().decode(Uint8Array.from(ids.filter((t) => t < 256)));
