// Language modelling on the King James Bible (kjv.ts: Debian's bible-kjv, split by book), two ways:
//   byte-lm     bits per byte over raw bytes (vocabulary 256), after MambaByte (Wang et al., arXiv 2401.13660)
//   subword-lm  perplexity over a byte-level BPE of 1,024 tokens trained on the train split
//               (datasets/subword-lm/tokenizer.json, loaded with @huggingface/transformers), and bits per byte
// An example is a window of L tokens of one split's text: input_ids = text[o .. o+L), targets = text[o+1 .. o+L+1),
// every position scored. Train windows start at random offsets (seeded); valid and test windows are the split's text
// cut into consecutive windows (stride L, each token scored once), n of them evenly spread when there are more.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import { UserError } from "@ssmbench/core";
import type { PreTrainedTokenizer } from "@huggingface/transformers";
import { z } from "zod";
import { kjvBytes, kjvText } from "./kjv.ts";
import { Rng } from "./rng.ts";
import { scoreLogLikelihood, type Example, type Setting, type Split, type TaskDef } from "./types.ts";

/** Offsets of the windows of `n` examples of length L over a text of `len` tokens (see the file's comment). */
export function windowOffsets(len: number, L: number, split: Split, n: number, rng: Rng): number[] {
  if (len < L + 1) throw new Error(`the ${split} text has ${len} tokens, too few for one window of ${L} (+1 target)`);
  if (split === "train") return Array.from({ length: n }, () => rng.int(0, len - L));
  const K = Math.floor((len - 1) / L); // consecutive windows that fit
  const m = Math.min(n, K);
  return Array.from({ length: m }, (_, i) => Math.floor((i * K) / m) * L);
}

/**
 * Examples as views into one Int32Array copy of the text (made per call): a window's targets are the next window of
 * the same array shifted by one, so 100,000 training windows cost no more memory than the text.
 */
function windows(tokens: ArrayLike<number>, L: number, split: Split, n: number, rng: Rng): Example[] {
  const text = Int32Array.from(tokens);
  return windowOffsets(text.length, L, split, n, rng).map((o) => ({ input_ids: text.subarray(o, o + L), targets: text.subarray(o + 1, o + L + 1) }));
}

const stream = (task: string, split: string, params: Record<string, unknown>) => `${task}/${split}/${JSON.stringify(params)}`;

function lengthSettings<P extends { seq_len: number }>(trained: P, lengths: readonly number[]): Setting<P>[] {
  const list: Setting<P>[] = [{ name: `L${trained.seq_len}`, params: trained }];
  for (const L of lengths) if (L !== trained.seq_len) list.push({ name: `L${L}`, params: { ...trained, seq_len: L } });
  return list;
}

// ---------------------------------------------------------------------------------------------------------------
// byte-lm: next-byte prediction; the metric is bits per byte (mean -log2 p over every scored byte).

export const LmParams = z.object({ seq_len: z.number().int().min(2).max(65536) });
export type LmParams = z.infer<typeof LmParams>;

const byteDefault: LmParams = { seq_len: 1024 };

export const byteLm: TaskDef<LmParams> = {
  id: "byte-lm",
  version: "1.0.0",
  title: "Byte-level language modelling (KJV, bits per byte)",
  metric: "bits_per_byte",
  source: "MambaByte (arXiv 2401.13660): token-free byte-level LM scored in bits per byte (paper: PG-19 and other long-document corpora)",
  defaultParams: byteDefault,
  settings: (trained) => lengthSettings(trained, [4096]),
  vocab: () => 256,
  seqLen: (p) => p.seq_len,
  generate: (params, split, n, seed) => windows(kjvBytes(split), params.seq_len, split, n, new Rng(seed, stream("byte-lm", split, params))),
  parseParams: (raw) => LmParams.parse({ ...byteDefault, ...raw }),
  scoreExample: (example, logits, vocab, offset) => scoreLogLikelihood(example, logits, vocab, offset),
};

// ---------------------------------------------------------------------------------------------------------------
// subword-lm: next-token prediction over the committed BPE; perplexity per token, and bits per byte of the same text.

/** datasets/subword-lm/, where tokenizer.json (and its meta and golden files) are committed. */
export const SUBWORD_DIR = new URL("../../../datasets/subword-lm/", import.meta.url);

/** The committed tokenizer's vocabulary (checked when it loads), known without loading it. */
export const SUBWORD_VOCAB = 1024;

let tokenizer: { tok: PreTrainedTokenizer; bytesOf: Int32Array; sha256: string } | undefined;

/**
 * The committed tokenizer through transformers.js, offline (no hub): its vocabulary, and each token's length in
 * bytes (a byte-level BPE token is a string of the 256 byte symbols, one character a byte).
 */
export function subwordTokenizer(): { tok: PreTrainedTokenizer; bytesOf: Int32Array; sha256: string } {
  if (tokenizer) return tokenizer;
  let raw: string;
  try {
    raw = readFileSync(new URL("tokenizer.json", SUBWORD_DIR), "utf8");
  } catch (e) {
    throw new UserError(`cannot read datasets/subword-lm/tokenizer.json: ${(e as Error).message}`, "it is committed: restore it with git checkout datasets/subword-lm/tokenizer.json");
  }
  // transformers.js is loaded only here, when a subword task runs (it pulls onnxruntime; the browser never needs it).
  const tf = createRequire(import.meta.url)("@huggingface/transformers") as typeof import("@huggingface/transformers");
  tf.env.allowRemoteModels = false;
  const tok = new tf.PreTrainedTokenizer(JSON.parse(raw), {});
  const vocab = tok.get_vocab();
  if (vocab.size !== SUBWORD_VOCAB) throw new Error(`datasets/subword-lm/tokenizer.json has ${vocab.size} tokens, not ${SUBWORD_VOCAB}: retrain it or bump subword-lm's version and SUBWORD_VOCAB`);
  const bytesOf = new Int32Array(vocab.size);
  for (const [piece, id] of vocab) bytesOf[id] = piece.length;
  tokenizer = { tok, bytesOf, sha256: createHash("sha256").update(raw).digest("hex") };
  return tokenizer;
}

const tokenCache = new Map<Split, Int32Array>();

/** One split's whole text as token ids (once per process: the train split takes transformers.js about 15 s). */
export function subwordTokens(split: Split): Int32Array {
  let ids = tokenCache.get(split);
  if (!ids) {
    ids = Int32Array.from(subwordTokenizer().tok.encode(kjvText(split), { add_special_tokens: false }));
    tokenCache.set(split, ids);
  }
  return ids;
}

const subwordDefault: LmParams = { seq_len: 256 };

export const subwordLm: TaskDef<LmParams> = {
  id: "subword-lm",
  version: "1.0.0",
  title: "Subword language modelling (KJV, BPE 1,024, perplexity)",
  metric: "perplexity",
  source: "Byte-level BPE (GPT-2 scheme, Hugging Face tokenizers) of 1,024 tokens on the same text as byte-lm; perplexity per token and bits per byte",
  defaultParams: subwordDefault,
  // 256 tokens are about 840 bytes of this text, 1,024 tokens about 3,100: the spans byte-lm is scored at.
  settings: (trained) => lengthSettings(trained, [1024]),
  vocab: () => SUBWORD_VOCAB,
  seqLen: (p) => p.seq_len,
  generate: (params, split, n, seed) => windows(subwordTokens(split), params.seq_len, split, n, new Rng(seed, stream("subword-lm", split, params))),
  parseParams: (raw) => LmParams.parse({ ...subwordDefault, ...raw }),
  scoreExample: (example, logits, vocab, offset) => scoreLogLikelihood(example, logits, vocab, offset, subwordTokenizer().bytesOf),
};
