import { describe, expect, it } from "vitest";
import { higherIsBetter, isQualityMetric, jsonSchemas, ModelCard, ResultRow, resultColumns, StateTensor, TaskSpec } from "./schemas.ts";

// The JSON schemas are the published contracts: any change to the zod schemas shows up as a diff of these files
// in review. Regenerate deliberately with `pnpm --filter @ssmbench/core test -- -u`.
describe("jsonSchemas", () => {
  const schemas = jsonSchemas();

  it("generates one schema per contract", () => {
    expect(Object.keys(schemas).sort()).toEqual(["ModelCard", "ResultRow", "TaskSpec"]);
  });

  for (const name of ["ModelCard", "TaskSpec", "ResultRow"] as const) {
    it(`${name} matches the committed schemas/${name}.schema.json`, async () => {
      await expect(JSON.stringify(schemas[name], null, 2) + "\n").toMatchFileSnapshot(`../schemas/${name}.schema.json`);
    });
  }

  it("lists every ResultRow column as required, in column order", () => {
    expect(schemas.ResultRow.required).toEqual(resultColumns);
  });

  it("marks fields with defaults as optional on input", () => {
    expect(schemas.ModelCard.required).not.toContain("seedEntries");
    expect(schemas.ModelCard.required).toContain("files");
  });
});

const sha = "0123456789abcdef".repeat(4);

function card(): Record<string, unknown> {
  // Shaped like what packages/trainer/ssmbench_trainer/export.py writes (extra keys included).
  return {
    id: "mamba-mqar",
    family: "mamba",
    variant: "mamba-1 (S6)",
    paper: { title: "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", arxiv: "2312.00752" },
    task: { id: "mqar", version: "1.0.0", params: { vocab: 8192, seq_len: 128, num_kv_pairs: 8, power_a: 0.01 } },
    vocab: 8192,
    config: { d_model: 64, n_layers: 2, d_state: 16 },
    params: 123456,
    states: [
      { name: "conv.0", kind: "conv", layer: 0, shape: ["batch", 128, 3], dtype: "float32", init: "zeros" },
      { name: "ssm.0", kind: "ssm", layer: 0, shape: ["batch", 128, 16], dtype: "float32" },
    ],
    stateBytesPerSequence: 4 * (128 * 3 + 128 * 16),
    files: [
      { path: "prefill.onnx", sha256: sha, bytes: 1000 },
      { path: "step.onnx", sha256: sha, bytes: 900 },
    ],
    export: { torch: "2.13.0", onnx: "1.23.1", opset: 18, exporter: "torch.export", onnxruntime_check: "1.30.0" },
    training: { seed: 0, steps: 100, batch: 64, lr: 0.003, device: "cpu", wall_s: 12.5, stages: 1, final: { valid_accuracy: 0.99 } },
    parity: { prefill_vs_torch: 1e-6, step_vs_prefill: 2e-6 },
  };
}

function errorPaths(result: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }): string[] {
  return (result.error?.issues ?? []).map((i) => i.path.join("."));
}

describe("ModelCard", () => {
  it("parses a card as export.py writes it and fills defaults", () => {
    const parsed = ModelCard.parse(card());
    expect(parsed.seedEntries).toEqual([]);
    expect(parsed.training.sweep).toEqual([]);
    expect(parsed.states[1]!.init).toBe("zeros");
    expect(parsed.states[0]!.shape).toEqual(["batch", 128, 3]);
  });

  it("rejects a file whose sha256 is not 64 lowercase hex digits", () => {
    for (const bad of [sha.toUpperCase(), sha.slice(1), sha + "0", "g".repeat(64), ""]) {
      const c = card();
      (c.files as { sha256: string }[])[1]!.sha256 = bad;
      const r = ModelCard.safeParse(c);
      expect(r.success, bad).toBe(false);
      expect(errorPaths(r)).toEqual(["files.1.sha256"]);
    }
  });

  it("rejects bad state tensors", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: "ssm" }, "states.0.name"], // no layer part
      [{ name: "SSM.0" }, "states.0.name"],
      [{ dtype: "bfloat16" }, "states.0.dtype"],
      [{ shape: [] }, "states.0.shape"],
      [{ shape: ["batch", -1] }, "states.0.shape.1"],
      [{ layer: 0.5 }, "states.0.layer"],
      [{ init: "random" }, "states.0.init"],
    ];
    for (const [patch, path] of cases) {
      const c = card();
      const states = c.states as Record<string, unknown>[];
      states[0] = { ...states[0], ...patch };
      const r = ModelCard.safeParse(c);
      expect(r.success, JSON.stringify(patch)).toBe(false);
      expect(errorPaths(r), JSON.stringify(patch)).toContain(path);
    }
  });

  it("accepts dotted multi-part state names", () => {
    expect(StateTensor.parse({ name: "key_values.0.key", kind: "kv", layer: 0, shape: ["batch", 4, "past_seq", 8], dtype: "float16" }).name).toBe(
      "key_values.0.key",
    );
  });

  it("requires at least one state and one file", () => {
    expect(errorPaths(ModelCard.safeParse({ ...card(), states: [] }))).toEqual(["states"]);
    expect(errorPaths(ModelCard.safeParse({ ...card(), files: [] }))).toEqual(["files"]);
  });

  it("rejects bad ids, arxiv numbers and non-positive sizes", () => {
    expect(errorPaths(ModelCard.safeParse({ ...card(), id: "Mamba_MQAR" }))).toEqual(["id"]);
    expect(errorPaths(ModelCard.safeParse({ ...card(), id: "-mamba" }))).toEqual(["id"]);
    expect(errorPaths(ModelCard.safeParse({ ...card(), paper: { title: "x", arxiv: "arXiv:2312.00752" } }))).toEqual(["paper.arxiv"]);
    expect(errorPaths(ModelCard.safeParse({ ...card(), vocab: 0 }))).toEqual(["vocab"]);
    expect(errorPaths(ModelCard.safeParse({ ...card(), parity: { prefill_vs_torch: -1, step_vs_prefill: 0 } }))).toEqual([
      "parity.prefill_vs_torch",
    ]);
    const c = card();
    (c.files as { bytes: number }[])[0]!.bytes = 0;
    expect(errorPaths(ModelCard.safeParse(c))).toEqual(["files.0.bytes"]);
  });

  it("rejects config values that are not scalars", () => {
    expect(errorPaths(ModelCard.safeParse({ ...card(), config: { d_model: [64] } }))).toEqual(["config.d_model"]);
  });
});

describe("TaskSpec", () => {
  const spec = { id: "mqar", version: "1.0.0", title: "MQAR", metric: "accuracy", vocab: 8192, params: { seq_len: 128 } };

  it("parses a valid spec", () => {
    expect(TaskSpec.parse(spec)).toEqual(spec);
  });

  it("rejects a non-semver version and an unknown metric", () => {
    expect(errorPaths(TaskSpec.safeParse({ ...spec, version: "1.0" }))).toEqual(["version"]);
    expect(errorPaths(TaskSpec.safeParse({ ...spec, metric: "f1" }))).toEqual(["metric"]);
    expect(errorPaths(TaskSpec.safeParse({ ...spec, id: "MQAR" }))).toEqual(["id"]);
  });

  it("accepts the language-modelling metrics", () => {
    for (const metric of ["bits_per_byte", "perplexity"]) expect(TaskSpec.parse({ ...spec, metric }).metric).toBe(metric);
  });
});

describe("ResultRow", () => {
  const row = {
    run_id: "2025-01-01T00-00-00Z-abc",
    timestamp: "2025-01-01T00:00:00.123Z",
    git_sha: "242bf5f",
    host: "box",
    cpu: "Some CPU",
    cores: 2,
    runtime: "onnxruntime-node",
    runtime_version: "1.30.0",
    ep: "cpu",
    model: "mamba-mqar",
    checkpoint_sha256: sha,
    task: "mqar",
    task_version: "1.0.0",
    split: "test@128/8",
    seq_len: 128,
    batch: 16,
    metric: "accuracy",
    value: 0.98,
    ci_low: 0.97,
    ci_high: 0.99,
    n: 8000,
    status: "ok",
    note: "",
  };

  it("parses a valid row; resultColumns are its keys in order", () => {
    expect(ResultRow.parse(row)).toEqual(row);
    expect(resultColumns).toEqual(Object.keys(row));
  });

  it("accepts NaN and null for value and interval (rows of failed runs)", () => {
    const r = ResultRow.parse({ ...row, value: Number.NaN, ci_low: null, ci_high: null, status: "oom" });
    expect(r.value).toBeNaN();
    expect(r.ci_low).toBeNull();
  });

  it("rejects typical mistakes", () => {
    expect(errorPaths(ResultRow.safeParse({ ...row, status: "passed" }))).toEqual(["status"]);
    expect(errorPaths(ResultRow.safeParse({ ...row, status: "OK" }))).toEqual(["status"]);
    expect(errorPaths(ResultRow.safeParse({ ...row, metric: "tokens_per_s" }))).toEqual(["metric"]);
    expect(errorPaths(ResultRow.safeParse({ ...row, timestamp: "2025-01-01 00:00:00" }))).toEqual(["timestamp"]);
    expect(errorPaths(ResultRow.safeParse({ ...row, cores: 0 }))).toEqual(["cores"]);
    expect(errorPaths(ResultRow.safeParse({ ...row, n: -1 }))).toEqual(["n"]);
    expect(errorPaths(ResultRow.safeParse({ ...row, value: "0.98" }))).toEqual(["value"]);
    for (const metric of ["bits_per_byte", "perplexity"]) expect(ResultRow.safeParse({ ...row, metric }).success).toBe(true);
    const { note: _note, ...missing } = row;
    expect(errorPaths(ResultRow.safeParse(missing))).toEqual(["note"]);
  });
});

describe("quality metrics", () => {
  it("are accuracy (higher is better), bits per byte and perplexity (lower is better); speed metrics are not", () => {
    expect(higherIsBetter("accuracy")).toBe(true);
    expect(higherIsBetter("bits_per_byte")).toBe(false);
    expect(higherIsBetter("perplexity")).toBe(false);
    expect(isQualityMetric("perplexity")).toBe(true);
    expect(isQualityMetric("prefill_tokens_per_s")).toBe(false);
  });
});
