// `pnpm bench --suite speed` end to end on committed checkpoints, with short lengths: the rows it writes, the cells it
// refuses to run and why, the PyTorch eager baseline on the same weights, and the errors before any row.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "@ssmbench/core";
import { formatResultsCsv, parseResultsCsv } from "@ssmbench/report";
import { discoverCheckpoints, loadCheckpoint } from "./discover.ts";
import type { CellResult, CellSpec } from "./speed.ts";
import { TORCH_EP, crashedCell, decodeSteps, speedCheckpoints, speedDefaults, speedSuite, widestPerFamily, type SpeedRuntime, type SpeedRuntimeProvider, type SpeedSuiteOptions } from "./speed-suite.ts";
import { root, ssmbench, tmp } from "./test-cli.ts";

const rowsOf = (dir: string, run: string) => parseResultsCsv(readFileSync(join(dir, `${run}.csv`), "utf8"), `${run}.csv`);

describe("bench --suite speed", () => {
  it("times prefill per length and batch and decode per context, each cell with its state bytes and own peak RSS", () => {
    const out = tmp();
    const r = ssmbench(["bench", "--suite", "speed", "--model", "transformer-mqar-d128", "--quick", "--seq-len", "64,128", "--batch", "1,8", "--contexts", "64", "--ep", "cpu", "--max-logits-gb", "0.02", "--out", out, "--run-id", "s"]);
    expect(r.code, r.err).toBe(0);
    const rows = rowsOf(out, "s");
    expect(rows.every((x) => x.task === "speed" && (x.split === "prefill" || x.split === "decode"))).toBe(true);
    for (const ep of ["cpu", TORCH_EP]) {
      const prefill = rows.filter((x) => x.ep === ep && x.metric === "prefill_tokens_per_s" && x.status === "ok");
      expect(prefill.map((x) => [x.seq_len, x.batch])).toEqual([[64, 1], [64, 8], [128, 1]]);
      // batch 8 x 128 x vocab 8192 floats is 32 MiB of logits, over the 0.02 GiB budget: not run, and said why
      const skipped = rows.find((x) => x.ep === ep && x.seq_len === 128 && x.batch === 8)!;
      expect(skipped.status).toBe("na");
      expect(skipped.note).toContain("--max-logits-gb");
      const decode = rows.filter((x) => x.ep === ep && x.split === "decode");
      expect(decode.map((x) => x.metric).sort()).toEqual(["decode_ms_per_token", "decode_ms_per_token_p90", "peak_rss_mb", "state_bytes"]);
      // the KV cache after 64 tokens of context plus the warm-up and timed steps: 2 layers x (key, value) x 128 floats per token
      const state = decode.find((x) => x.metric === "state_bytes")!.value!;
      expect(state % (2 * 2 * 128 * 4)).toBe(0);
      expect(state / (2 * 2 * 128 * 4)).toBeGreaterThan(64);
      expect(rows.find((x) => x.ep === ep && x.split === "prefill" && x.metric === "peak_rss_mb" && x.seq_len === 64 && x.batch === 1)!.value).toBeGreaterThan(10);
    }
    const torch = rows.find((x) => x.ep === TORCH_EP)!;
    expect(torch.runtime).toBe("pytorch");
    expect(torch.checkpoint_sha256).toMatch(/^[0-9a-f]{64}$/); // the sha256 of weights.safetensors
    expect(torch.note).toContain("eager");
  });

  it("times greedy decoding through generate.onnx where the checkpoint has it, on onnxruntime and PyTorch alike", () => {
    const out = tmp();
    const args = ["bench", "--suite", "speed", "--model", "mamba-induction-heads", "--task", "induction-heads", "--quick", "--seq-len", "64", "--batch", "1", "--contexts", "64", "--ep", "cpu", "--out", out];
    const r = ssmbench([...args, "--generate-chunk", "8", "--run-id", "g"]);
    expect(r.code, r.err).toBe(0);
    const rows = rowsOf(out, "g");
    for (const ep of ["cpu", TORCH_EP]) {
      const greedy = rows.filter((x) => x.ep === ep && x.split === "generate");
      expect(greedy.map((x) => x.metric).sort()).toEqual(["decode_ms_per_token", "decode_ms_per_token_p90", "peak_rss_mb", "state_bytes"]);
      const main = greedy.find((x) => x.metric === "decode_ms_per_token")!;
      expect(main.status).toBe("ok");
      expect(main.value).toBeGreaterThan(0);
      // --quick: at most 32 tokens, 8 per call, so 4 calls (samples)
      expect(main.n).toBe(4);
      expect(main.note).toContain("greedy calls of 8 tokens each, every one from the 64-token context");
    }
    expect(rows.find((x) => x.ep === "cpu" && x.split === "generate")!.note).toContain("generate.onnx called synchronously");
    // --generate-chunk 0: no generate cells; a checkpoint without generate.onnx has none either
    expect(ssmbench([...args, "--generate-chunk", "0", "--run-id", "n"]).code).toBe(0);
    expect(rowsOf(out, "n").some((x) => x.split === "generate")).toBe(false);
    expect(ssmbench(["bench", "--suite", "speed", "--model", "mamba-induction-heads", "--task", "induction-heads", "--generate-chunk", "-1"]).err).toContain("--generate-chunk -1");
  });

  it("refuses a checkpoint without PyTorch weights before writing any row, and says how to add them or skip", () => {
    const out = tmp();
    const r = ssmbench(["bench", "--suite", "speed", "--model", "transformer-mqar", "--quick", "--ep", "cpu", "--out", out, "--run-id", "w"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("weights.safetensors");
    expect(r.err).toContain("--no-torch");
  });

  it("rejects a malformed list of lengths", () => {
    const r = ssmbench(["bench", "--suite", "speed", "--model", "transformer-mqar-d128", "--batch", "1,x"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--batch");
  });

  it("times one checkpoint per family, the widest, so families compare at one width", () => {
    const mqar = discoverCheckpoints(join(root, "models")).filter((c) => c.card.task.id === "mqar");
    const chosen = widestPerFamily(mqar);
    expect(new Set(chosen.map((c) => c.card.family)).size).toBe(chosen.length);
    expect(chosen.length).toBe(new Set(mqar.map((c) => c.card.family)).size);
    const width = (c: (typeof mqar)[number]) => Number(c.card.config.d_model);
    for (const c of chosen) {
      const widths = mqar.filter((o) => o.card.family === c.card.family).map(width);
      expect(width(c)).toBe(Math.max(...widths));
    }
    // a family's variant at the same width (DSS beside S4D) gives way to the plain checkpoint
    expect(chosen.find((c) => c.card.family === "s4d")!.card.id).toBe("s4d-mqar");
    // a variant named by its id is timed beside its family's pick; a family name still picks one
    const withDss = speedCheckpoints(mqar, "all,s4d-dss-mqar").map((c) => c.card.id);
    expect(withDss).toEqual(expect.arrayContaining(["s4d-mqar", "s4d-dss-mqar"]));
    expect(withDss).toHaveLength(chosen.length + 1);
    expect(speedCheckpoints(mqar.filter((c) => c.card.family === "mamba"), "mamba").map((c) => c.card.id)).toEqual(["mamba-mqar-d128"]);
    // the five families trained at two widths are timed at the wider one
    expect(chosen.filter((c) => width(c) === 128).map((c) => c.card.family).sort()).toEqual(["hyena", "mamba", "retnet", "rwkv", "transformer"]);
  });
});

describe("a cell process that dies without a result", () => {
  it("is an oom row when killed by SIGKILL, whether the signal or its wrapper's exit code 137 reports it", () => {
    expect(crashedCell(null, "SIGKILL", "loading\n")).toEqual({ status: "oom", note: "killed by SIGKILL (the kernel's out-of-memory killer): loading" });
    expect(crashedCell(137, null, "")).toMatchObject({ status: "oom" });
    expect(crashedCell(1, null, "boom\nTypeError: x is undefined\n")).toEqual({ status: "error", note: "exited with code 1: TypeError: x is undefined" });
  });

  it("is an oom row when the Python behind scripts/py.mjs is killed: the wrapper exits 137 and says so", () => {
    const r = spawnSync(process.execPath, [join(root, "scripts", "py.mjs"), "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], { encoding: "utf8" });
    expect(r.status).toBe(137);
    expect(crashedCell(r.status, r.signal, r.stderr)).toEqual({ status: "oom", note: "killed by SIGKILL (the kernel's out-of-memory killer): ssmbench: Python was killed by SIGKILL" });
  });
});

describe("bench --suite speed with a runtime supplied by the caller (the cli's Chromium)", () => {
  const ckpt = loadCheckpoint(join(root, "models", "transformer-induction-heads"));
  const options = (out: string, eps: string[], runtimes: SpeedRuntimeProvider[]): SpeedSuiteOptions => ({
    ...speedDefaults, root, checkpoints: [ckpt], eps, torch: false, lengths: [64], batches: [1], contexts: [64], outDir: out, runId: "r", resume: false, runtimes, log: () => {},
    generateChunk: 0, // the checkpoint has generate.onnx; these tests are about prefill and decode cells
  });
  /** A provider of "fake-wasm" whose cells return fixed samples; what it was asked is kept. */
  function fake(result: (spec: CellSpec) => CellResult) {
    const seen = { specs: [] as CellSpec[], closed: 0 };
    const provider: SpeedRuntimeProvider = {
      eps: ["fake-wasm", "fake-wasm2", "fake-gpu"],
      open: async (ep) => {
        if (ep === "fake-gpu") throw new UserError("no adapter", "use fake-wasm");
        const rt: SpeedRuntime = { runtime: "onnxruntime-web (fake)", version: "1.0 (Fake 2)", ep, run: async (spec) => (seen.specs.push(spec), result(spec)), close: async () => void seen.closed++ };
        return rt;
      },
    };
    return { provider, seen };
  }

  it("turns its cells' samples into the same rows as a Node cell's: medians, intervals, state bytes and its own RSS note", async () => {
    const out = tmp();
    const { provider, seen } = fake((spec) => ({ status: "ok", samples_ms: [4, 2, 3, 5, 6], state_bytes: 1000, peak_rss_mb: 300, peak_rss_note: "peak of the renderer", note: `cell of ${spec.kind}` }));
    const { rows } = await speedSuite(options(out, ["fake-wasm"], [provider]));
    expect(seen.specs.map((s) => [s.ep, s.kind, s.seqLen, s.batch])).toEqual([["fake-wasm", "prefill", 64, 1], ["fake-wasm", "decode", 64, 1]]);
    expect(seen.closed).toBe(1);
    expect(rows.every((r) => r.ep === "fake-wasm" && r.runtime === "onnxruntime-web (fake)" && r.runtime_version === "1.0 (Fake 2)" && r.status === "ok")).toBe(true);
    const prefill = rows.find((r) => r.metric === "prefill_tokens_per_s")!;
    expect(prefill.value).toBeCloseTo((64 * 1000) / 4, 6); // the median of the samples
    expect(prefill.ci_low! <= prefill.value! && prefill.value! <= prefill.ci_high!).toBe(true);
    expect(prefill.note).toMatch(/^cell of prefill; median of 5 prefills after warm-up/);
    expect(rows.filter((r) => r.metric === "decode_ms_per_token").map((r) => r.value)).toEqual([4]);
    expect(rows.filter((r) => r.metric === "peak_rss_mb").map((r) => [r.value, r.note])).toEqual([[300, "peak of the renderer"], [300, "peak of the renderer"]]);
    expect(rows.filter((r) => r.metric === "state_bytes").map((r) => r.value)).toEqual([1000, 1000]);
    expect(parseResultsCsv(readFileSync(join(out, "r.csv"), "utf8"), "r.csv")).toHaveLength(rows.length);
  });

  it("asks for generate cells, with their chunk, where the checkpoint has generate.onnx, and writes them as split generate", async () => {
    const { provider, seen } = fake((spec) => ({ status: "ok", samples_ms: [0.5, 0.25, 0.75], state_bytes: 8, peak_rss_mb: 100, note: `cell of ${spec.kind}` }));
    const { rows } = await speedSuite({ ...options(tmp(), ["fake-wasm"], [provider]), generateChunk: 16 });
    expect(seen.specs.map((s) => [s.kind, s.seqLen, s.chunk])).toEqual([["prefill", 64, undefined], ["decode", 64, undefined], ["generate", 64, 16]]);
    const greedy = rows.filter((r) => r.split === "generate");
    expect(greedy.map((r) => r.metric)).toEqual(["decode_ms_per_token", "decode_ms_per_token_p90", "state_bytes", "peak_rss_mb"]);
    expect(greedy[0]!.value).toBe(0.5);
    expect(greedy[0]!.note).toMatch(/^cell of generate; 3 greedy calls of 16 tokens each, every one from the 64-token context/);
  });

  it("writes batched prefill cells over --max-batch-tokens as na rows saying so, without running them; batch 1 and decode still run", async () => {
    const { provider, seen } = fake(() => ({ status: "ok", samples_ms: [1, 1, 1], state_bytes: 8, peak_rss_mb: 100, note: "" }));
    const { rows } = await speedSuite({ ...options(tmp(), ["fake-wasm"], [provider]), lengths: [64, 128], batches: [1, 4], maxBatchTokens: 256 });
    expect(seen.specs.map((s) => [s.kind, s.seqLen, s.batch])).toEqual([["prefill", 64, 1], ["prefill", 64, 4], ["prefill", 128, 1], ["decode", 64, 1]]);
    const skipped = rows.filter((r) => r.status === "na" && r.metric === "prefill_tokens_per_s");
    expect(skipped.map((r) => [r.seq_len, r.batch, r.value])).toEqual([[128, 4, null]]);
    expect(skipped[0]!.note).toBe("not run: batch 4 x 128 = 512 tokens, over this run's --max-batch-tokens 256");
  });

  it("on --resume, re-runs the cells of a checkpoint named by --redo and those measured on another prefill.onnx, replacing their rows", async () => {
    const out = tmp();
    const { provider, seen } = fake(() => ({ status: "ok", samples_ms: [2, 2, 2], state_bytes: 8, peak_rss_mb: 100, note: "" }));
    const first = await speedSuite(options(out, ["fake-wasm"], [provider]));
    const n = first.rows.length;
    // a plain resume of a finished run runs nothing
    await speedSuite({ ...options(out, ["fake-wasm"], [provider]), resume: true });
    expect(seen.specs).toHaveLength(2);
    // --redo: every cell again, and the run holds one set of rows, the new ones
    const { provider: again, seen: seenAgain } = fake(() => ({ status: "ok", samples_ms: [4, 4, 4], state_bytes: 8, peak_rss_mb: 100, note: "" }));
    await speedSuite({ ...options(out, ["fake-wasm"], [again]), resume: true, redo: [ckpt.card.id] });
    expect(seenAgain.specs).toHaveLength(2);
    let rows = rowsOf(out, "r");
    expect(rows).toHaveLength(n);
    expect(rows.find((r) => r.metric === "decode_ms_per_token")!.value).toBe(4);
    // rows of an older prefill.onnx (another sha256) are measured again without --redo
    const stale = rows.map((r) => ({ ...r, checkpoint_sha256: "0".repeat(64) }));
    writeFileSync(join(out, "r.csv"), formatResultsCsv(stale));
    const { provider: third, seen: seenThird } = fake(() => ({ status: "ok", samples_ms: [3, 3, 3], state_bytes: 8, peak_rss_mb: 100, note: "" }));
    await speedSuite({ ...options(out, ["fake-wasm"], [third]), resume: true });
    expect(seenThird.specs).toHaveLength(2);
    rows = rowsOf(out, "r");
    expect(rows).toHaveLength(n);
    expect(new Set(rows.map((r) => r.checkpoint_sha256))).toEqual(new Set([ckpt.card.files.find((f) => f.path === "prefill.onnx")!.sha256]));
  });

  it("with --redo-split decode, measures only the decode cells again and keeps the prefill rows", async () => {
    const out = tmp();
    const { provider } = fake(() => ({ status: "ok", samples_ms: [2, 2, 2], state_bytes: 8, peak_rss_mb: 100, note: "" }));
    const first = await speedSuite(options(out, ["fake-wasm"], [provider]));
    const { provider: again, seen } = fake(() => ({ status: "ok", samples_ms: [5, 5, 5], state_bytes: 8, peak_rss_mb: 100, note: "" }));
    await speedSuite({ ...options(out, ["fake-wasm"], [again]), resume: true, redo: [ckpt.card.id], redoSplit: "decode" });
    expect(seen.specs.map((s) => s.kind)).toEqual(["decode"]);
    const rows = rowsOf(out, "r");
    expect(rows).toHaveLength(first.rows.length);
    expect(rows.find((r) => r.metric === "prefill_tokens_per_s")!.value).toBeCloseTo((64 * 1000) / 2, 6); // kept
    expect(rows.find((r) => r.metric === "decode_ms_per_token")!.value).toBe(5); // measured again
  });

  it("runs each cell on every runtime in turn, so the rows a ratio divides are measured side by side", async () => {
    const { provider, seen } = fake(() => ({ status: "ok", samples_ms: [1, 1, 1], state_bytes: 8, peak_rss_mb: 100, note: "" }));
    await speedSuite(options(tmp(), ["fake-wasm", "fake-wasm2"], [provider]));
    expect(seen.specs.map((s) => [s.kind, s.ep])).toEqual([["prefill", "fake-wasm"], ["prefill", "fake-wasm2"], ["decode", "fake-wasm"], ["decode", "fake-wasm2"]]);
    // decode cells time their steps for decodeMinTimeMs, prefill cells for the timing's minTimeMs
    expect(seen.specs.map((s) => s.timing.minTimeMs)).toEqual([2000, 2000, 4000, 4000]);
  });

  it("caps a growing cache's decode steps at a quarter of the context, so the cell measures that context", async () => {
    const { provider, seen } = fake(() => ({ status: "ok", samples_ms: [1, 1, 1], state_bytes: 8, peak_rss_mb: 100, note: "" }));
    await speedSuite({ ...options(tmp(), ["fake-wasm"], [provider]), contexts: [64, 4096] });
    // the Transformer's KV cache grows: at least 32 steps, at most context / 4; the warm-up no longer than the steps
    expect(seen.specs.filter((s) => s.kind === "decode").map((s) => [s.seqLen, s.steps, s.warmupSteps])).toEqual([[64, 32, 32], [4096, 1024, 64]]);
    const constant = loadCheckpoint(join(root, "models", "mamba-induction-heads")).card;
    expect(decodeSteps(constant, 64, speedDefaults.steps)).toBe(speedDefaults.steps);
    expect(decodeSteps(ckpt.card, 1024, speedDefaults.steps)).toBe(256);
  });

  it("refuses --redo without --resume, a --redo id the run does not time, and a --redo-split that is not a split or has no --redo", () => {
    const a = ssmbench(["bench", "--suite", "speed", "--model", "transformer-induction-heads", "--task", "induction-heads", "--redo", "transformer-induction-heads", "--ep", "cpu", "--no-torch"]);
    expect(a.code).toBe(2);
    expect(a.err).toContain("--resume");
    const b = ssmbench(["bench", "--suite", "speed", "--model", "transformer-induction-heads", "--task", "induction-heads", "--resume", "x", "--redo", "mamba-induction-heads", "--ep", "cpu", "--no-torch"]);
    expect(b.code).toBe(2);
    expect(b.err).toContain("not among this run's checkpoints");
    const c = ssmbench(["bench", "--suite", "speed", "--model", "transformer-induction-heads", "--task", "induction-heads", "--resume", "x", "--redo", "transformer-induction-heads", "--redo-split", "steps", "--ep", "cpu", "--no-torch"]);
    expect(c.code).toBe(2);
    expect(c.err).toContain("--redo-split steps: must be prefill, decode, generate");
    const d = ssmbench(["bench", "--suite", "speed", "--model", "transformer-induction-heads", "--task", "induction-heads", "--resume", "x", "--redo-split", "decode", "--ep", "cpu", "--no-torch"]);
    expect(d.code).toBe(2);
    expect(d.err).toContain("add --redo");
  });

  it("asks decode cells, and only them, for --decode-threads step threads", async () => {
    const { provider, seen } = fake(() => ({ status: "ok", samples_ms: [1, 1, 1], state_bytes: 8, peak_rss_mb: 100, note: "" }));
    await speedSuite({ ...options(tmp(), ["fake-wasm"], [provider]), threads: 2, decodeThreads: 1 });
    expect(seen.specs.map((s) => [s.kind, s.threads, s.stepThreads])).toEqual([["prefill", 2, undefined], ["decode", 2, 1]]);
  });

  it("writes peak RSS as an na row with the reason where the runtime could not measure it, and a failed cell as its status", async () => {
    const { provider } = fake((spec) => (spec.kind === "prefill" ? { status: "ok", samples_ms: [1, 1, 1], state_bytes: 8, peak_rss_note: "not measured: no /proc", note: "" } : { status: "timeout", note: "over the cell budget" }));
    const { rows } = await speedSuite(options(tmp(), ["fake-wasm"], [provider]));
    expect(rows.find((r) => r.metric === "peak_rss_mb")).toMatchObject({ status: "na", value: null, note: "not measured: no /proc" });
    expect(rows.find((r) => r.metric === "decode_ms_per_token")).toMatchObject({ status: "timeout", value: null, note: "over the cell budget" });
  });

  it("refuses before any row: an EP its runtime cannot run here, and an unknown EP naming every EP the suite knows", async () => {
    const out = tmp();
    const { provider, seen } = fake(() => ({ status: "ok", note: "" }));
    await expect(speedSuite(options(out, ["fake-wasm", "fake-gpu"], [provider]))).rejects.toThrow(/no adapter[\s\S]*use fake-wasm/);
    expect(seen.closed).toBe(1); // the runtime opened before the refusal is closed
    await expect(speedSuite(options(out, ["fake-wasn"], [provider]))).rejects.toThrow(/unknown execution provider "fake-wasn" \(did you mean "fake-wasm"\?\)[\s\S]*cpu, wasm, cuda, webgpu, fake-wasm, fake-wasm2, fake-gpu/);
    expect(existsSync(join(out, "r.csv"))).toBe(false);
  });

  it("refuses a Chromium EP where there is no Chromium, naming the fix, before any row", () => {
    const out = tmp();
    const r = ssmbench(["bench", "--suite", "speed", "--model", "transformer-induction-heads", "--ep", "chromium-wasm", "--no-torch", "--quick", "--out", out, "--run-id", "c"], { SSMBENCH_CHROMIUM: "/nonexistent/chromium" });
    expect(r.code).toBe(2);
    expect(r.err).toContain("chromium-wasm");
    expect(r.err).toContain("apt-get install -y chromium");
    expect(existsSync(join(out, "c.csv"))).toBe(false);
  });
});
