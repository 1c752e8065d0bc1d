// Greedy generation through the recurrent contract: prefill the prompt once, then one step.onnx call per new
// token, feeding the argmax back. Browser-safe; the text demo and its Node test run this same function.
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
  /** ms spent in step() calls */
  decodeMs: number;
  /** new tokens per second of decoding (steps only) */
  tokensPerS: number;
}

/**
 * Generates `n` tokens greedily after `prompt`. The first new token comes from prefill's last logits; each
 * further one from step(previous token). `onToken` sees every token as it is produced.
 */
export async function generateGreedy(
  driver: RecurrentDriver,
  prompt: readonly number[],
  n: number,
  onToken?: (t: GeneratedToken, index: number) => void | Promise<void>,
  now: () => number = () => performance.now(),
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
  for (let i = 1; i < n; i++) {
    input[0] = BigInt(tokens[i - 1]!);
    const s = now();
    const logits = await driver.step(input);
    decodeMs += now() - s;
    tokens.push(argmax(logits, 0, V));
    await onToken?.({ token: tokens[i]!, atMs: now() - t0 }, i);
  }
  return { prompt: [...prompt], tokens, prefillMs, decodeMs, tokensPerS: n > 1 && decodeMs > 0 ? ((n - 1) * 1000) / decodeMs : Number.NaN };
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
