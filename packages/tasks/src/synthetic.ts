// The synthetic recall and copying tasks of the SSM literature, each re-implemented from its paper's description
// (the dataset cards under datasets/<task>/card.md list every choice the papers leave open):
//   selective-copying  Mamba (Gu & Dao, arXiv 2312.00752), Sec. 3.1 and App. E.1
//   induction-heads    Mamba, Sec. 4.1.2 and App. E.1 (length extrapolation)
//   associative-recall H3 (Fu et al., arXiv 2212.14052) / safari, as used by Hyena (arXiv 2302.10866)
//   copying            "Repeat After Me" (Jelassi et al., arXiv 2402.01032)
// Every example follows the contract of types.ts: targets[i] is what to predict after reading input_ids[0..i].
import { z } from "zod";
import { Rng } from "./rng.ts";
import { IGNORE, scoreExactMatch, type Example, type Setting, type TaskDef } from "./types.ts";

const positive = z.number().int().positive();

/** A task whose settings differ only in length: the trained one, then `lengths` above it. */
function byLength<P extends { seq_len: number }>(trained: P, lengths: readonly number[], name: (p: P) => string): Setting<P>[] {
  const list: Setting<P>[] = [{ name: name(trained), params: trained }];
  for (const L of lengths) if (L !== trained.seq_len) list.push({ name: name({ ...trained, seq_len: L }), params: { ...trained, seq_len: L } });
  return list;
}

const stream = (task: string, split: string, params: Record<string, unknown>) => `${task}/${split}/${JSON.stringify(params)}`;

/** A task scored by accuracy whose settings differ only in `seq_len` (named L<length>), trained at `defaults`. */
function lengthTask<P extends { vocab: number; seq_len: number }>(def: {
  id: string;
  title: string;
  source: string;
  defaults: P;
  schema: z.ZodType<P>;
  testLengths: readonly number[];
  generate: (p: P, n: number, rng: Rng) => Example[];
}): TaskDef<P> {
  return {
    id: def.id,
    version: "1.0.0",
    title: def.title,
    metric: "accuracy",
    source: def.source,
    defaultParams: def.defaults,
    settings: (trained) => byLength(trained, def.testLengths, (p) => `L${p.seq_len}`),
    vocab: (p) => p.vocab,
    seqLen: (p) => p.seq_len,
    generate: (params, split, n, seed) => def.generate(params, n, new Rng(seed, stream(def.id, split, params))),
    parseParams: (raw) => def.schema.parse({ ...def.defaults, ...raw }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Selective copying (Mamba, Sec. 3.1): `n_copy` data tokens scattered at random positions among noise tokens;
// after them, `n_copy` marker tokens, and after reading the k-th marker the model must output the k-th data token.
// Vocabulary (16 in the paper): 0 = noise, V-1 = marker, data tokens 1 .. V-2.

export const SelectiveCopyingParams = z
  .object({ vocab: z.number().int().min(4), seq_len: positive, n_copy: positive })
  .refine((p) => p.seq_len >= 2 * p.n_copy, { message: "seq_len must hold the tokens to copy and as many markers (seq_len >= 2 * n_copy)" });
export type SelectiveCopyingParams = z.infer<typeof SelectiveCopyingParams>;

export function generateSelectiveCopying(p: SelectiveCopyingParams, n: number, rng: Rng): Example[] {
  const { vocab: V, seq_len: T, n_copy: k } = p;
  const body = T - k;
  return Array.from({ length: n }, () => {
    const input = new Int32Array(T); // 0 = noise everywhere
    const targets = new Int32Array(T).fill(IGNORE);
    const positions = rng.distinct(0, body, k).sort((a, b) => a - b);
    positions.forEach((pos, j) => {
      const token = rng.int(1, V - 1);
      input[pos] = token;
      input[body + j] = V - 1; // the j-th marker...
      targets[body + j] = token; // ...asks for the j-th data token
    });
    return { input_ids: input, targets };
  });
}

export const selectiveCopying = lengthTask<SelectiveCopyingParams>({
  id: "selective-copying",
  title: "Selective copying",
  source: "Mamba (arXiv 2312.00752), Sec. 3.1 / App. E.1 (paper length 4096, vocab 16, 16 tokens)",
  defaults: { vocab: 16, seq_len: 256, n_copy: 16 },
  schema: SelectiveCopyingParams,
  testLengths: [1024, 4096],
  generate: generateSelectiveCopying,
});

// ---------------------------------------------------------------------------------------------------------------
// Induction heads (Mamba, Sec. 4.1.2): random tokens with one special trigger token somewhere, followed by the
// answer; the sequence ends with the trigger again, and the model must output the token that followed it the
// first time. One scored position (the last). Vocabulary 16: trigger = V-1, other tokens 0 .. V-2.

export const InductionHeadsParams = z.object({ vocab: z.number().int().min(3), seq_len: z.number().int().min(4) });
export type InductionHeadsParams = z.infer<typeof InductionHeadsParams>;

export function generateInductionHeads(p: InductionHeadsParams, n: number, rng: Rng): Example[] {
  const { vocab: V, seq_len: T } = p;
  const trigger = V - 1;
  return Array.from({ length: n }, () => {
    const input = new Int32Array(T);
    for (let t = 0; t < T; t++) input[t] = rng.int(0, V - 1); // never the trigger
    const at = rng.int(0, T - 2); // trigger at `at`, answer at `at + 1`, both before the final trigger
    const answer = input[at + 1]!;
    input[at] = trigger;
    input[T - 1] = trigger;
    const targets = new Int32Array(T).fill(IGNORE);
    targets[T - 1] = answer;
    return { input_ids: input, targets };
  });
}

/**
 * Mamba's Table 11 test lengths: every power of two from 2^6 to 2^16, then 2^18 and 2^20. Past 2^16 the bench
 * streams constant-state checkpoints through step.onnx and writes an `na` row for growing-state ones (evaluate.ts).
 */
export const INDUCTION_HEADS_LENGTHS: readonly number[] = [...Array.from({ length: 11 }, (_, i) => 2 ** (6 + i)), 2 ** 18, 2 ** 20];

export const inductionHeads = lengthTask<InductionHeadsParams>({
  id: "induction-heads",
  title: "Induction heads (length extrapolation)",
  source: "Mamba (arXiv 2312.00752), Sec. 4.1.2 / App. E.1 (vocab 16, trained at 256, tested at 2^6 .. 2^20)",
  defaults: { vocab: 16, seq_len: 256 },
  schema: InductionHeadsParams,
  testLengths: INDUCTION_HEADS_LENGTHS,
  generate: generateInductionHeads,
});

// ---------------------------------------------------------------------------------------------------------------
// Associative recall (H3 / safari): each example draws its own dictionary from keys [0, V/2) to values [V/2, V);
// the sequence lists (seq_len - 1) / 2 key-value pairs sampled from it (a key may recur, always with its value),
// then one query key that occurred; the model must output its value. One scored position (the last).

export const AssociativeRecallParams = z
  .object({ vocab: z.number().int().min(4), seq_len: z.number().int().min(3) })
  .refine((p) => p.seq_len % 2 === 1, { message: "seq_len must be odd: key-value pairs, then one query key" })
  .refine((p) => p.vocab % 2 === 0, { message: "vocab must be even: half keys, half values" });
export type AssociativeRecallParams = z.infer<typeof AssociativeRecallParams>;

export function generateAssociativeRecall(p: AssociativeRecallParams, n: number, rng: Rng): Example[] {
  const { vocab: V, seq_len: T } = p;
  const half = V / 2;
  const pairs = (T - 1) / 2;
  return Array.from({ length: n }, () => {
    const value = Array.from({ length: half }, () => rng.int(half, V)); // this example's dictionary
    const input = new Int32Array(T);
    for (let i = 0; i < pairs; i++) {
      const key = rng.int(0, half);
      input[2 * i] = key;
      input[2 * i + 1] = value[key]!;
    }
    const query = input[2 * rng.int(0, pairs)]!;
    input[T - 1] = query;
    const targets = new Int32Array(T).fill(IGNORE);
    targets[T - 1] = value[query]!;
    return { input_ids: input, targets };
  });
}

export const associativeRecall = lengthTask<AssociativeRecallParams>({
  id: "associative-recall",
  title: "Associative recall",
  source: "H3 (arXiv 2212.14052) / safari, as in Hyena (arXiv 2302.10866): vocab 30, one query after key-value pairs",
  defaults: { vocab: 30, seq_len: 129 },
  schema: AssociativeRecallParams,
  testLengths: [513, 2049, 8193],
  generate: generateAssociativeRecall,
});

// ---------------------------------------------------------------------------------------------------------------
// Copying ("Repeat After Me", Jelassi et al.): a random string of k letters, a separator, then the same string
// again; after the separator and after each copied letter the model must output the next letter of the string.
// Scored by exact match: an example counts only when all k letters are right. Training strings have a random
// length k in [min_len, str_len] (the paper trains on strings of varying length up to a maximum and tests beyond it),
// left-padded with a pad token to one length 2 str_len + 1 so that they batch; test settings fix k (min_len = str_len),
// left-padded to the trained length where k is within the trained range.
// Vocabulary: letters 0 .. V-3 (the paper uses 26 letters), separator V-2, pad V-1.

export const CopyingParams = z
  .object({ vocab: z.number().int().min(4), str_len: positive, min_len: positive, pad_to: positive.optional() })
  .refine((p) => p.min_len <= p.str_len, { message: "min_len must be at most str_len" })
  .refine((p) => p.pad_to === undefined || p.pad_to >= p.str_len, { message: "pad_to must be at least str_len" });
export type CopyingParams = z.infer<typeof CopyingParams>;

/** Examples are left-padded to 2 pad_to + 1 tokens (pad_to: str_len unless given). */
const copyingLength = (p: CopyingParams) => 2 * (p.pad_to ?? p.str_len) + 1;

export function generateCopying(p: CopyingParams, n: number, rng: Rng): Example[] {
  const { vocab: V, str_len: maxK, min_len: minK } = p;
  const T = copyingLength(p);
  const separator = V - 2;
  const pad = V - 1;
  return Array.from({ length: n }, () => {
    const k = minK === maxK ? maxK : rng.int(minK, maxK + 1);
    const at = T - (2 * k + 1); // left padding
    const letters = Array.from({ length: k }, () => rng.int(0, V - 2));
    const input = new Int32Array(T).fill(pad);
    const targets = new Int32Array(T).fill(IGNORE);
    letters.forEach((c, j) => {
      input[at + j] = c;
      input[at + k + 1 + j] = c;
      targets[at + k + j] = c; // after the separator (j = 0) or the previous copied letter
    });
    input[at + k] = separator;
    return { input_ids: input, targets };
  });
}

const copyingDefault: CopyingParams = { vocab: 28, str_len: 32, min_len: 1 };
/**
 * A test setting of strings of exactly k letters. Within the trained range (k <= the trained str_len) examples keep
 * the trained padded length, as in training (a short string always came after padding there); beyond it they are
 * 2k + 1 tokens, unpadded.
 */
const fixedLength = (p: CopyingParams, k: number): CopyingParams =>
  k <= p.str_len ? { ...p, str_len: k, min_len: k, pad_to: p.pad_to ?? p.str_len } : { vocab: p.vocab, str_len: k, min_len: k };

export const copying: TaskDef<CopyingParams> = {
  id: "copying",
  version: "1.1.0",
  title: "Copying (exact match by string length)",
  metric: "exact_match",
  source: "Repeat After Me (arXiv 2402.01032): copy a string after a separator, 26 letters, trained on varying lengths",
  defaultParams: copyingDefault,
  settings: (trained) => {
    const name = (p: CopyingParams) => (p.min_len === p.str_len ? `n${p.str_len}` : `n${p.min_len}-${p.str_len}`);
    const list: Setting<CopyingParams>[] = [{ name: name(trained), params: trained }];
    for (const k of [8, 16, 32, 64, 128, 256]) {
      const p = fixedLength(trained, k);
      if (name(p) !== name(trained)) list.push({ name: name(p), params: p });
    }
    return list;
  },
  vocab: (p) => p.vocab,
  seqLen: copyingLength,
  generate: (params, split, n, seed) => generateCopying(params, n, new Rng(seed, stream("copying", split, params))),
  parseParams: (raw) => CopyingParams.parse({ ...copyingDefault, ...raw }),
  scoreExample: scoreExactMatch,
};
