// Multi-query associative recall (MQAR), after Zoology (Arora et al., arXiv 2312.04927) and its generator in
// HazyResearch/zoology (zoology/data/associative_recall.py), re-implemented from the published spec:
//  - keys from [1, V/2), values from [V/2, V), each distinct within an example;
//  - context k1 v1 k2 v2 .. kn vn;
//  - each key is queried once after the context, at query slot 2*g (slots are the even offsets after the
//    context), with gaps g drawn without replacement, p(g) proportional to (g+1)^(a-1);
//  - every other position holds a uniform random token from the whole vocabulary;
//  - the target (the key's value) sits at the query key's position: what to predict after reading it.
import { z } from "zod";
import { Rng } from "./rng.ts";
import { IGNORE, type Example, type Setting, type Split, type TaskDef } from "./types.ts";

export const MqarParams = z
  .object({
    vocab: z.number().int().min(8),
    seq_len: z.number().int().positive(),
    num_kv_pairs: z.number().int().positive(),
    power_a: z.number().positive().max(1),
  })
  .refine((p) => p.seq_len >= 4 * p.num_kv_pairs, {
    message: "seq_len must leave room for the context and one query slot per pair (seq_len >= 4 * num_kv_pairs)",
  })
  .refine((p) => Math.floor(p.vocab / 2) - 1 >= p.num_kv_pairs, { message: "vocab too small for distinct keys" });
export type MqarParams = z.infer<typeof MqarParams>;

/** Zoology's second setting: the one the first checkpoints train at. */
const trainedDefault: MqarParams = { vocab: 8192, seq_len: 128, num_kv_pairs: 8, power_a: 0.01 };

/** Longer settings, same pair density (one pair per 16 tokens), to show how recall degrades with length. */
const longer: [number, number][] = [
  [256, 16],
  [512, 32],
  [1024, 64],
];

function gapWeights(space: number, a: number): number[] {
  return Array.from({ length: space }, (_, g) => (g + 1) ** (a - 1));
}

export function generateMqar(params: MqarParams, n: number, rng: Rng): Example[] {
  const { vocab, seq_len: T, num_kv_pairs: pairs, power_a: a } = params;
  const half = Math.floor(vocab / 2);
  const context = 2 * pairs;
  const space = Math.floor((T - context) / 2);
  const weights = gapWeights(space, a);
  const out: Example[] = [];
  for (let e = 0; e < n; e++) {
    const keys = rng.distinct(1, half, pairs);
    const values = rng.distinct(half, vocab, pairs);
    const gaps = rng.weightedDistinct(weights, pairs);
    const input = new Int32Array(T);
    const targets = new Int32Array(T).fill(IGNORE);
    const filled = new Uint8Array(T);
    for (let i = 0; i < pairs; i++) {
      input[2 * i] = keys[i]!;
      input[2 * i + 1] = values[i]!;
      filled[2 * i] = filled[2 * i + 1] = 1;
      const q = context + 2 * gaps[i]!;
      input[q] = keys[i]!;
      filled[q] = 1;
      targets[q] = values[i]!;
    }
    for (let t = 0; t < T; t++) if (!filled[t]) input[t] = rng.int(0, vocab);
    out.push({ input_ids: input, targets });
  }
  return out;
}

export const mqar: TaskDef<MqarParams> = {
  id: "mqar",
  version: "1.0.0",
  title: "Multi-query associative recall",
  metric: "accuracy",
  source: "Zoology (arXiv 2312.04927), generator spec of HazyResearch/zoology",
  defaultParams: trainedDefault,
  settings(trained) {
    const density = trained.seq_len / trained.num_kv_pairs;
    const list: Setting<MqarParams>[] = [{ name: settingName(trained), params: trained }];
    for (const [len] of longer) {
      if (len <= trained.seq_len) continue;
      const p = { ...trained, seq_len: len, num_kv_pairs: Math.floor(len / density) };
      list.push({ name: settingName(p), params: p });
    }
    return list;
  },
  vocab: (p) => p.vocab,
  seqLen: (p) => p.seq_len,
  generate(params, split: Split, n, seed) {
    // One stream per (split, setting): test examples never repeat training ones by construction of the stream.
    const rng = new Rng(seed, `mqar/${split}/${settingName(params)}/${params.vocab}/${params.power_a}`);
    return generateMqar(params, n, rng);
  },
  parseParams: (raw) => MqarParams.parse({ ...trainedDefault, ...raw }),
};

function settingName(p: MqarParams): string {
  return `${p.seq_len}/${p.num_kv_pairs}`;
}
