// LRA ListOps (Tay et al., arXiv 2011.04006; after Nangia & Bowman, arXiv 1804.06028): a nested list of
// operations on digits, e.g. [MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ] = 8, to be evaluated after reading it.
// Our own generator after the published one (google-research/long-range-arena, lra_benchmarks/data/listops.py):
//  - a node at depth d < max_depth is an operator with probability 0.25, otherwise a digit 0..9 (uniform); at
//    max_depth always a digit (the root is at depth 1);
//  - an operator takes 2..max_args arguments (uniform), each a node one level deeper, and is one of MIN, MAX,
//    MED (median; of an even count, the mean of the two middle values rounded down) and SM (sum mod 10);
//  - tokens as LRA's tokenizer sees them (parentheses dropped): "[MIN" .. arguments .. "]"; a tree is kept when
//    min_length < tokens < seq_len (LRA: 500 < length < 2000), trees outside are drawn again;
//  - the sequence is left-padded to seq_len with PAD and the value (0..9) is the label token at the last position.
// Vocabulary 16: digits 0..9 are tokens 0..9, then MIN, MAX, MED, SM, "]" and PAD.
import { z } from "zod";
import { labelledSequence } from "./classification.ts";
import { Rng } from "./rng.ts";
import type { Example, Setting, TaskDef } from "./types.ts";

export const LISTOPS = { MIN: 10, MAX: 11, MED: 12, SM: 13, END: 14, PAD: 15 } as const;
export const LISTOPS_VOCAB = 16;
const OPERATORS = [LISTOPS.MIN, LISTOPS.MAX, LISTOPS.MED, LISTOPS.SM];
/** LRA's VALUE_P: a node below max_depth is an operator when a uniform draw is <= 0.25. */
const OPERATOR_P = 0.25;
/** Draws per example before giving up (the settings in use accept one tree in a few hundred at most). */
const MAX_DRAWS = 1_000_000;

export const ListOpsParams = z
  .object({
    seq_len: z.number().int().min(3),
    min_length: z.number().int().min(0),
    max_depth: z.number().int().min(2),
    max_args: z.number().int().min(2),
  })
  .refine((p) => p.min_length + 2 <= p.seq_len, { message: "min_length must be below seq_len - 1 (kept trees have min_length < length < seq_len)" })
  .refine((p) => maxTokens(p.max_depth, p.max_args) > p.min_length, { message: "no tree of max_depth and max_args is longer than min_length" });
export type ListOpsParams = z.infer<typeof ListOpsParams>;

/** The longest tree (in tokens) of a given depth bound and argument count. */
function maxTokens(maxDepth: number, maxArgs: number): number {
  let len = 1;
  for (let d = maxDepth - 1; d >= 1 && len < 1e9; d--) len = 2 + maxArgs * len;
  return len;
}

export function applyOperator(op: number, args: readonly number[]): number {
  switch (op) {
    case LISTOPS.MIN:
      return Math.min(...args);
    case LISTOPS.MAX:
      return Math.max(...args);
    case LISTOPS.SM:
      return args.reduce((a, b) => a + b, 0) % 10;
    case LISTOPS.MED: {
      const s = [...args].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 ? s[m]! : Math.floor((s[m - 1]! + s[m]!) / 2);
    }
    default:
      throw new RangeError(`not a ListOps operator: ${op}`);
  }
}

class TooLong extends Error {}

/** One draw of LRA's tree generator, written into `out`; aborts (TooLong) as soon as it reaches `limit` tokens. */
function drawTree(rng: Rng, depth: number, p: ListOpsParams, out: number[], limit: number): number {
  if (out.length >= limit) throw new TooLong();
  if (depth >= p.max_depth || rng.float() > OPERATOR_P) {
    const digit = rng.int(0, 10);
    out.push(digit);
    return digit;
  }
  const op = OPERATORS[rng.int(0, OPERATORS.length)]!;
  const n = rng.int(2, p.max_args + 1);
  out.push(op);
  const args: number[] = [];
  for (let i = 0; i < n; i++) args.push(drawTree(rng, depth + 1, p, out, limit));
  if (out.length >= limit) throw new TooLong();
  out.push(LISTOPS.END);
  return applyOperator(op, args);
}

/** A tree with min_length < tokens < seq_len, by rejection as LRA draws them; its tokens and value. */
export function generateTree(p: ListOpsParams, rng: Rng): { tokens: number[]; value: number } {
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const tokens: number[] = [];
    try {
      const value = drawTree(rng, 1, p, tokens, p.seq_len);
      if (tokens.length > p.min_length) return { tokens, value };
    } catch (e) {
      if (!(e instanceof TooLong)) throw e;
    }
  }
  throw new Error(`listops: no tree with ${p.min_length} < length < ${p.seq_len} in ${MAX_DRAWS} draws (max_depth ${p.max_depth}, max_args ${p.max_args})`);
}

/** Trained at lengths 100..500 on CPU; LRA's 500..2000 is the evaluation setting. */
const listopsDefault: ListOpsParams = { seq_len: 500, min_length: 100, max_depth: 10, max_args: 10 };
const lraSetting: ListOpsParams = { seq_len: 2000, min_length: 500, max_depth: 10, max_args: 10 };
const settingName = (p: ListOpsParams) => `${p.min_length}-${p.seq_len}`;

export const listops: TaskDef<ListOpsParams> = {
  id: "listops",
  version: "1.0.0",
  title: "LRA ListOps",
  metric: "accuracy",
  source: "Long Range Arena (arXiv 2011.04006), generator of google-research/long-range-arena: depth 10, 2..10 arguments, 500 < length < 2000, 10 classes",
  defaultParams: listopsDefault,
  settings(trained) {
    const list: Setting<ListOpsParams>[] = [{ name: settingName(trained), params: trained }];
    const lra = { ...lraSetting, max_depth: trained.max_depth, max_args: trained.max_args };
    if (settingName(lra) !== settingName(trained)) list.push({ name: settingName(lra), params: lra });
    return list;
  },
  vocab: () => LISTOPS_VOCAB,
  seqLen: (p) => p.seq_len,
  generate(params, split, n, seed): Example[] {
    const rng = new Rng(seed, `listops/${split}/${JSON.stringify(params)}`);
    return Array.from({ length: n }, () => {
      const { tokens, value } = generateTree(params, rng);
      return labelledSequence(tokens, params.seq_len, LISTOPS.PAD, value);
    });
  },
  parseParams: (raw) => ListOpsParams.parse({ ...listopsDefault, ...raw }),
};
