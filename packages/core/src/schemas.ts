// The contracts of ssmbench as zod schemas: a checkpoint's card, a task's spec, a result row.
// JSON schemas are generated from these (see jsonSchemas) and snapshot-tested, so a contract change shows in review.
import { z } from "zod";

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "sha256 as 64 lowercase hex digits");
/** A dimension: a number, or a symbolic axis such as "batch" or "past_seq". */
const dim = z.union([z.number().int().nonnegative(), z.string().min(1)]);

export const StateTensor = z.object({
  /** Name without the past_/present_ prefix, e.g. "ssm.0", "conv.1", "key_values.0.key". */
  name: z.string().regex(/^[a-z_]+(\.[a-z0-9_]+)+$/, "kind.layer[.part], e.g. ssm.0"),
  kind: z.string().min(1),
  layer: z.number().int().nonnegative(),
  shape: z.array(dim).min(1),
  dtype: z.enum(["float32", "float64", "float16", "int64"]),
  init: z.enum(["zeros"]).default("zeros"),
});
export type StateTensor = z.infer<typeof StateTensor>;

export const FileEntry = z.object({
  path: z.string().min(1),
  sha256,
  bytes: z.number().int().positive(),
});

/** The longest prefill an exported checkpoint accepts unless its card says otherwise (export.py's torch.export Dim bound). */
export const MAX_EXPORTED_SEQ = 1 << 20;

export const ModelCard = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lowercase id like mamba-mqar"),
  family: z.string().min(1),
  variant: z.string().min(1),
  paper: z.object({ title: z.string().min(1), arxiv: z.string().regex(/^\d{4}\.\d{4,5}$/) }),
  seedEntries: z.array(z.string()).default([]),
  task: z.object({ id: z.string(), version: z.string(), params: z.record(z.string(), z.unknown()) }),
  vocab: z.number().int().positive(),
  config: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  params: z.number().int().positive(),
  states: z.array(StateTensor).min(1),
  /** Bytes of recurrent state for one sequence (at `stateBytesAt` tokens for growing caches). */
  stateBytesPerSequence: z.number().int().nonnegative(),
  stateBytesAt: z.number().int().positive().optional(),
  /** Longest prefill the exported graph accepts (default MAX_EXPORTED_SEQ). */
  maxSeqLen: z.number().int().positive().optional(),
  files: z.array(FileEntry).min(1),
  export: z.object({
    torch: z.string(),
    onnx: z.string(),
    opset: z.number().int(),
    exporter: z.string(),
    /** Nodes outside the standard ONNX domain ("com.microsoft.LinearAttention"): such graphs need onnxruntime. */
    contrib_ops: z.array(z.string()).optional(),
  }),
  training: z.object({
    seed: z.number().int(),
    steps: z.number().int().nonnegative(),
    batch: z.number().int().positive(),
    lr: z.number().positive(),
    device: z.string(),
    wall_s: z.number().nonnegative(),
    sweep: z.array(z.object({ lr: z.number(), steps: z.number().int(), metric: z.number(), wall_s: z.number() })).default([]),
    final: z.record(z.string(), z.number()),
  }),
  /**
   * generate.onnx (greedy decoding of many tokens in one call: step.onnx in an ONNX Loop), where the checkpoint has
   * it: the step.onnx it was built from, and how many greedy tokens were checked equal to stepping step.onnx.
   */
  generate: z
    .object({
      step_sha256: sha256,
      checked_tokens: z.number().int().positive(),
      /** max difference of the final states against stepping (relative where a state exceeds 1) */
      state_vs_steps: z.number().nonnegative(),
    })
    .optional(),
  parity: z.object({
    prefill_vs_torch: z.number().nonnegative(),
    step_vs_prefill: z.number().nonnegative(),
    /** max |float32 - float64| of the same PyTorch model on the same inputs: the round-off floor of any float32 graph */
    torch_float32_vs_float64: z.number().nonnegative().optional(),
    /** the bound export enforced on both differences above (1e-4 unless the export said otherwise) */
    tolerance: z.number().positive().optional(),
  }),
});
export type ModelCard = z.infer<typeof ModelCard>;

export const TaskSpec = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  version: z.string().regex(/^\d+\.\d+\.\d+$/, "semver"),
  title: z.string(),
  /** How the task scores: accuracy over scored positions unless said otherwise. */
  metric: z.enum(["accuracy", "exact_match", "bits_per_byte", "perplexity"]),
  vocab: z.number().int().positive(),
  params: z.record(z.string(), z.unknown()),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

/** ok; nan: the model produced NaN/Inf; oom: out of memory; timeout: over --cell-timeout; error: anything else; na: not applicable. */
export const RowStatus = z.enum(["ok", "nan", "na", "oom", "timeout", "error"]);
export type RowStatus = z.infer<typeof RowStatus>;

/**
 * The metrics a run can write; units are in the name. bits_per_byte: mean -log2 p(next byte) over the bytes of text
 * the scored positions cover; perplexity: exp of the mean negative log-likelihood (nats) per scored token.
 */
export const Metric = z.enum([
  "accuracy",
  "bits_per_byte",
  "perplexity",
  "prefill_tokens_per_s",
  "decode_ms_per_token",
  "decode_ms_per_token_p90",
  "state_bytes",
  "peak_rss_mb",
]);
export type Metric = z.infer<typeof Metric>;

/** How well a model does a task (one table per task and metric in the report), as opposed to speed and memory. */
export const QUALITY_METRICS = ["accuracy", "bits_per_byte", "perplexity"] as const satisfies readonly Metric[];
export type QualityMetric = (typeof QUALITY_METRICS)[number];
export const isQualityMetric = (m: Metric): m is QualityMetric => (QUALITY_METRICS as readonly Metric[]).includes(m);
/** Accuracy: higher is better; bits per byte and perplexity: lower is better. */
export const higherIsBetter = (m: QualityMetric): boolean => m === "accuracy";

const num = z.union([z.number(), z.nan()]).nullable();

export const ResultRow = z.object({
  run_id: z.string().min(1),
  timestamp: z.string().datetime(),
  git_sha: z.string(),
  host: z.string(),
  cpu: z.string(),
  cores: z.number().int().positive(),
  runtime: z.string(),
  runtime_version: z.string(),
  ep: z.string(),
  model: z.string(),
  checkpoint_sha256: z.string(),
  task: z.string(),
  task_version: z.string(),
  /** The test split or setting, e.g. "test@128/8" for MQAR, or "-" for speed rows. */
  split: z.string(),
  seq_len: z.number().int().nonnegative(),
  batch: z.number().int().positive(),
  metric: Metric,
  value: num,
  ci_low: num,
  ci_high: num,
  n: z.number().int().nonnegative(),
  status: RowStatus,
  note: z.string(),
});
export type ResultRow = z.infer<typeof ResultRow>;
export const resultColumns = Object.keys(ResultRow.shape) as (keyof ResultRow)[];

export function jsonSchemas() {
  return {
    ModelCard: z.toJSONSchema(ModelCard, { io: "input" }),
    TaskSpec: z.toJSONSchema(TaskSpec, { io: "input" }),
    ResultRow: z.toJSONSchema(ResultRow, { io: "input", unrepresentable: "any" }),
  };
}
