// `bench --suite speed`: prefill tokens/s against length and batch, decode latency per token against context (one
// step.onnx call per token, and greedy decoding through generate.onnx where the checkpoint has it), state bytes and
// peak RSS, for each checkpoint on each execution provider and on PyTorch eager (the reference model.py
// with the same weights), all in one run so every ratio is taken between rows measured side by side.
// Each cell runs in its own process (speed-cell.ts, or ssmbench_trainer/speed.py for PyTorch): its peak RSS is its
// own, and a crash or an out-of-memory kill costs one row, not the run.
import { spawn, spawnSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { UserError, didYouMean, type Metric, type ModelCard, type ResultRow, type RowStatus } from "@ssmbench/core";
import { TORCH_EP } from "@ssmbench/report";
import { EP_NAMES, getBackend } from "@ssmbench/runtime";
import { verifyCheckpoint, type Checkpoint } from "./discover.ts";
import { growingStates } from "./evaluate.ts";
import { ResultFile, provenance, rowKey } from "./results.ts";
import { GENERATE_CHUNK, MIN_STEPS, type CellResult, type CellSpec } from "./speed.ts";
import { summarize, type TimingOptions } from "./timing.ts";

/** The ep column of PyTorch eager rows (named once, in the report that reads them). */
export { TORCH_EP };
export const WEIGHTS = "weights.safetensors";

export interface SpeedSuiteOptions {
  root: string;
  checkpoints: Checkpoint[];
  /** onnxruntime execution providers (cpu, wasm, ...) */
  eps: string[];
  /** also time PyTorch eager on the same weights (needs the Python venv and weights.safetensors) */
  torch: boolean;
  lengths: number[];
  batches: number[];
  contexts: number[];
  /** cells whose logits tensor alone would exceed this many bytes are not run (status na, with the size) */
  maxLogitsBytes: number;
  /** batched (batch > 1) prefill cells of more tokens than this (batch x length) are not run (status na); default: no limit */
  maxBatchTokens?: number;
  threads?: number;
  /** decode cells: threads of the step (onnxruntime-node and PyTorch); default: `threads` */
  decodeThreads?: number;
  timing: TimingOptions;
  steps: number;
  warmupSteps: number;
  /** decode cells time steps for at least this long (default: timing.minTimeMs) */
  decodeMinTimeMs?: number;
  cellTimeoutMs: number;
  outDir: string;
  runId: string;
  resume: boolean;
  /**
   * Checkpoint ids measured again from scratch when resuming (after a re-export or a change to their model.py,
   * which the eager baseline runs): their earlier rows in the run are dropped first. Rows measured on an older
   * prefill.onnx than the card's are re-measured without it.
   */
  redo?: readonly string[];
  /** With redo: only the rows (and cells) of this split are measured again, the others kept (e.g. decode after a change to the step timing). */
  redoSplit?: SpeedSplit;
  /** generate cells (checkpoints with generate.onnx): tokens per call (default GENERATE_CHUNK); 0: no generate cells */
  generateChunk?: number;
  /** EPs timed by a runtime the caller supplies (the cli's Chromium, from packages/web), beside onnxruntime's own */
  runtimes?: SpeedRuntimeProvider[];
  log?: (line: string) => void;
}

export const speedDefaults = {
  lengths: [1024, 4096, 16384, 65536],
  batches: [1, 8],
  contexts: [1024, 8192, 65536],
  maxLogitsBytes: 2 ** 31,
  timing: { warmup: 1, minSamples: 5, minTimeMs: 2000, maxTimeMs: 20_000, floorSamples: 3 } satisfies TimingOptions,
  // Decode: at least MIN_STEPS steps and decodeMinTimeMs, at most `steps`. This VM runs a 0.1 ms step at one speed
  // for a second or two, then at half of it (both runtimes alike); 4 s of steps spans several such phases, where 256
  // steps (the earlier default) fell inside one. Growing caches: see decodeSteps.
  steps: 65536,
  warmupSteps: 64,
  decodeMinTimeMs: 4000,
  cellTimeoutMs: 300_000,
};

/** The speed suite's splits: prefill, decode (step.onnx per token), generate (generate.onnx, greedy). */
export type SpeedSplit = CellSpec["kind"];

/** Where the suite's cells run: the ep column of their rows, the runtime and version columns, and one cell's run. */
export interface SpeedRuntime {
  runtime: string;
  version: string;
  ep: string;
  /** Times one cell within timeoutMs; every failure comes back as a CellResult status (never thrown). */
  run: (spec: CellSpec, timeoutMs: number) => Promise<CellResult>;
  /** Frees what the runtime holds (a server, a bundle), after the suite's last cell. */
  close?: () => Promise<void>;
}

/**
 * Execution providers that the runner itself does not run (so that it needs no browser code): a package above it
 * (packages/web, wired in by the cli) serves these names. open() refuses, with a UserError saying how to fix it,
 * an EP that cannot run here; it is called before the first row.
 */
export interface SpeedRuntimeProvider {
  eps: readonly string[];
  open: (ep: string) => Promise<SpeedRuntime>;
}

/** The widest checkpoint of each family (on one task), so every family is timed at the same width. */
export function widestPerFamily(checkpoints: Checkpoint[]): Checkpoint[] {
  const best = new Map<string, Checkpoint>();
  const width = (c: Checkpoint) => Number((c.card.config as Record<string, unknown>).d_model ?? 0);
  for (const c of checkpoints) {
    const cur = best.get(c.card.family);
    // At equal width the family's plain checkpoint (s4d-mqar) before its variants (s4d-dss-mqar): the shorter id.
    if (!cur || width(c) > width(cur) || (width(c) === width(cur) && c.card.id.length < cur.card.id.length)) best.set(c.card.family, c);
  }
  return [...best.values()];
}

/**
 * The checkpoints a speed run times out of those `--model` selected on the task: a family or "all" at one checkpoint
 * per family, the widest, so families compare at one width; a checkpoint named by its id as well (--model
 * all,s4d-dss-induction-heads adds a variant beside its family's plain checkpoint).
 */
export function speedCheckpoints(onTask: Checkpoint[], selector: string): Checkpoint[] {
  const ids = new Set(selector.split(",").map((s) => s.trim()));
  const chosen = new Set([...widestPerFamily(onTask.filter((c) => !ids.has(c.card.id))), ...onTask.filter((c) => ids.has(c.card.id))]);
  return onTask.filter((c) => chosen.has(c));
}

export async function speedSuite(o: SpeedSuiteOptions): Promise<{ file: string; rows: ResultRow[] }> {
  const log = o.log ?? ((s: string) => console.error(s));
  const threads = o.threads ?? availableParallelism();
  // Everything that can be refused is refused before the first row.
  const runtimes: SpeedRuntime[] = [];
  const close = () => Promise.all(runtimes.map((rt) => rt.close?.()));
  try {
    await openRuntimes(o, runtimes);
    return await runSuite(o, runtimes, log, threads);
  } finally {
    await close();
  }
}

async function openRuntimes(o: SpeedSuiteOptions, runtimes: SpeedRuntime[]): Promise<void> {
  const known = [...EP_NAMES, ...(o.runtimes ?? []).flatMap((p) => p.eps)];
  for (const ep of o.eps) {
    const provider = o.runtimes?.find((p) => p.eps.includes(ep));
    if (provider) {
      runtimes.push(await provider.open(ep));
      continue;
    }
    if (!known.includes(ep)) throw new UserError(`unknown execution provider "${ep}"${didYouMean(ep, known)}`, `--suite speed runs: ${known.join(", ")}`);
    const b = await getBackend(ep);
    runtimes.push({ runtime: b.runtime, version: b.version, ep: b.name, run: (spec, t) => runNodeCell(o.root, spec, t) });
  }
  for (const c of o.checkpoints) verifyCheckpoint(c);
  if (o.torch) {
    const missing = o.checkpoints.filter((c) => !c.card.files.some((f) => f.path === WEIGHTS));
    if (missing.length)
      throw new UserError(
        `no PyTorch weights (${WEIGHTS}) in ${missing.map((c) => c.card.id).join(", ")}: the PyTorch eager baseline needs them`,
        `re-export, or backfill from the training run: node scripts/py.mjs -m ssmbench_trainer.weights --checkpoint models/<id> --from runs/<run>/best.pt; or pass --no-torch`,
      );
    runtimes.push({ runtime: "pytorch", version: torchVersion(o.root), ep: TORCH_EP, run: (spec, t) => runTorchCell(o.root, spec, t) });
  }
}

async function runSuite(o: SpeedSuiteOptions, runtimes: SpeedRuntime[], log: (s: string) => void, threads: number): Promise<{ file: string; rows: ResultRow[] }> {
  const out = new ResultFile(o.outDir, o.runId, o.resume);
  const prov = provenance(o.root, o.runId);
  const written: ResultRow[] = [];
  try {
    const chunk = o.generateChunk ?? GENERATE_CHUNK;
    for (const ckpt of o.checkpoints) {
      const { card } = ckpt;
      const emitters = runtimes.map((rt) => {
        const base = { ...prov, runtime: rt.runtime, runtime_version: rt.version, ep: rt.ep, model: card.id, checkpoint_sha256: card.files.find((f) => f.path === (rt.ep === TORCH_EP ? WEIGHTS : "prefill.onnx"))?.sha256 ?? "" };
        const redo = o.redo?.includes(card.id) ?? false;
        // This checkpoint's rows from an earlier attempt that no longer describe it: all of them (or those of
        // --redo-split) under --redo, else those measured on another file (their cells run again below, and their
        // extra rows must not linger).
        const redone = (r: ResultRow) => redo && (o.redoSplit === undefined || r.split === o.redoSplit);
        const dropped = out.forget((r) => r.model === card.id && r.ep === rt.ep && r.task === "speed" && (redone(r) || r.checkpoint_sha256 !== base.checkpoint_sha256));
        if (dropped) log(`  ${card.id} ${rt.ep}: ${dropped} earlier row(s) dropped (${redo ? `--redo${o.redoSplit ? ` --redo-split ${o.redoSplit}` : ""}` : "measured on another checkpoint file"})`);
        return (r: { split: SpeedSplit; seq_len: number; batch: number; metric: Metric; value: number | null; ci_low?: number | null; ci_high?: number | null; n: number; status: RowStatus; note: string }) => {
          const row: ResultRow = { ...base, timestamp: new Date().toISOString(), task: "speed", task_version: "-", ci_low: null, ci_high: null, ...r };
          out.append(row);
          written.push(row);
        };
      });
      const cells: Omit<CellSpec, "dir" | "ep" | "threads" | "timing" | "steps" | "warmupSteps">[] = [
        ...o.lengths.flatMap((L) => o.batches.map((B) => ({ kind: "prefill" as const, seqLen: L, batch: B }))),
        ...o.contexts.map((C) => ({ kind: "decode" as const, seqLen: C, batch: 1 })),
        // greedy decoding in one call per `chunk` tokens, from the same contexts (checkpoints with generate.onnx)
        ...(card.generate && chunk > 0 ? o.contexts.map((C) => ({ kind: "generate" as const, seqLen: C, batch: 1, chunk })) : []),
      ];
      // Cell by cell, every runtime in turn: the rows a ratio divides are measured seconds apart, not minutes, so
      // this machine's drift moves them together.
      for (const cell of cells)
        for (const [i, rt] of runtimes.entries()) {
          const emit = emitters[i]!;
          const main: Metric = cell.kind === "prefill" ? "prefill_tokens_per_s" : "decode_ms_per_token";
          const decoding = cell.kind !== "prefill";
          const k = { split: cell.kind, seq_len: cell.seqLen, batch: cell.batch };
          if (out.done(rowKey({ model: card.id, task: "speed", ep: rt.ep, metric: main, ...k }))) continue;
          const logitsBytes = cell.batch * (cell.kind === "prefill" ? cell.seqLen : 1) * card.vocab * 4;
          if (logitsBytes > o.maxLogitsBytes) {
            emit({ ...k, metric: main, value: null, n: 0, status: "na", note: `not run: the logits alone would take ${gib(logitsBytes)} (batch ${cell.batch} x ${cell.seqLen} x vocab ${card.vocab} floats), over --max-logits-gb ${gib(o.maxLogitsBytes)}` });
            continue;
          }
          const batchTokens = cell.batch * cell.seqLen;
          if (cell.kind === "prefill" && cell.batch > 1 && o.maxBatchTokens !== undefined && batchTokens > o.maxBatchTokens) {
            emit({ ...k, metric: main, value: null, n: 0, status: "na", note: `not run: batch ${cell.batch} x ${cell.seqLen} = ${batchTokens} tokens, over this run's --max-batch-tokens ${o.maxBatchTokens}` });
            continue;
          }
          const stepThreads = decoding ? o.decodeThreads : undefined;
          // generate cells restart every call from the context, so a growing cache needs no cap (decodeSteps)
          const steps = cell.kind === "decode" ? decodeSteps(card, cell.seqLen, o.steps) : o.steps;
          const timing = decoding && o.decodeMinTimeMs !== undefined ? { ...o.timing, minTimeMs: o.decodeMinTimeMs } : o.timing;
          const spec: CellSpec = { dir: ckpt.dir, ep: rt.ep, threads, ...(stepThreads !== undefined ? { stepThreads } : {}), timing, steps, warmupSteps: Math.min(o.warmupSteps, steps), ...cell };
          const started = performance.now();
          const r = await rt.run(spec, o.cellTimeoutMs);
          const where = `${card.id} ${rt.runtime} ${rt.ep} ${cell.kind} len ${cell.seqLen} batch ${cell.batch}`;
          if (r.status !== "ok" || !r.samples_ms?.length) {
            emit({ ...k, metric: main, value: null, n: 0, status: r.status === "ok" ? "error" : r.status, note: r.note });
            log(`  ${where}: ${r.status.toUpperCase()} ${r.note}`);
            continue;
          }
          const t = summarize(r.samples_ms);
          const what = {
            prefill: `median of ${t.n} prefills after warm-up, ${t.median.toFixed(1)} ms each`,
            decode: `${t.n} steps after a ${cell.seqLen}-token context`,
            generate: `${t.n} greedy calls of ${chunk} tokens each, every one from the ${cell.seqLen}-token context (ms per token: a call's time over ${chunk})`,
          }[cell.kind];
          const note = `${r.note}; ${what}; load average ${loadavg()[0]!.toFixed(2)} (${availableParallelism()} cores)`;
          if (cell.kind === "prefill") {
            const tokens = cell.batch * cell.seqLen * 1000;
            emit({ ...k, metric: main, value: tokens / t.median, ci_low: tokens / t.high, ci_high: tokens / t.low, n: t.n, status: "ok", note });
          } else {
            emit({ ...k, metric: main, value: t.median, ci_low: t.low, ci_high: t.high, n: t.n, status: "ok", note });
            emit({ ...k, metric: "decode_ms_per_token_p90", value: t.p90, n: t.n, status: "ok", note });
          }
          if (r.state_bytes !== undefined) emit({ ...k, metric: "state_bytes", value: r.state_bytes, n: 1, status: "ok", note: "bytes of all state tensors per sequence after this cell's tokens" });
          if (r.peak_rss_mb !== undefined) emit({ ...k, metric: "peak_rss_mb", value: r.peak_rss_mb, n: 1, status: "ok", note: r.peak_rss_note ?? "peak resident set of this cell's own process (model, inputs, outputs, runtime)" });
          else if (r.peak_rss_note) emit({ ...k, metric: "peak_rss_mb", value: null, n: 0, status: "na", note: r.peak_rss_note });
          log(`  ${where}: ${cell.kind === "prefill" ? `${Math.round((cell.batch * cell.seqLen * 1000) / t.median)} tok/s` : `${t.median.toFixed(3)} ms/token`} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
        }
    }
  } finally {
    out.close();
  }
  return { file: out.path, rows: written };
}

/**
 * The most timed steps of a decode cell at `context`: `steps`, but for a growing cache (a state with past_seq) at
 * most a quarter of the context, so the cell still measures that context (1K + 256 steps), not a longer one.
 */
export function decodeSteps(card: Pick<ModelCard, "states">, context: number, steps: number): number {
  return growingStates(card.states).length ? Math.min(steps, Math.max(MIN_STEPS, Math.floor(context / 4))) : steps;
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

function torchVersion(root: string): string {
  const r = spawnSync(process.execPath, [join(root, "scripts", "py.mjs"), "-c", "import torch, safetensors; print(torch.__version__)"], { cwd: join(root, "packages", "trainer"), encoding: "utf8" });
  if (r.status !== 0) throw new UserError("the PyTorch eager baseline needs the Python venv with torch and safetensors", "run bash scripts/setup-python.sh, or pass --no-torch");
  return r.stdout.trim();
}

function runNodeCell(root: string, spec: CellSpec, timeoutMs: number): Promise<CellResult> {
  const tsx = join(root, "node_modules", ".bin", "tsx");
  return runChild(tsx, ["--conditions=@ssmbench/source", join(import.meta.dirname, "speed-cell.ts"), JSON.stringify(spec)], root, timeoutMs);
}

function runTorchCell(root: string, spec: CellSpec, timeoutMs: number): Promise<CellResult> {
  const t = spec.timing;
  const args = ["-m", "ssmbench_trainer.speed", "--checkpoint", spec.dir, "--kind", spec.kind, "--seq-len", String(spec.seqLen), "--batch", String(spec.batch), "--threads", String(spec.threads), ...(spec.stepThreads !== undefined ? ["--step-threads", String(spec.stepThreads)] : [])];
  args.push("--warmup", String(t.warmup), "--min-samples", String(t.minSamples), "--min-time-ms", String(t.minTimeMs), "--max-time-ms", String(t.maxTimeMs), "--floor", String(t.floorSamples ?? 1));
  args.push("--steps", String(spec.steps), "--min-steps", String(Math.min(MIN_STEPS, spec.steps)), "--warmup-steps", String(spec.warmupSteps));
  if (spec.chunk !== undefined) args.push("--chunk", String(spec.chunk));
  return runChild(process.execPath, [join(root, "scripts", "py.mjs"), ...args], join(root, "packages", "trainer"), timeoutMs);
}

/** Runs one cell's process; its last stdout line is the CellResult. A kill by the kernel reads as out of memory. */
function runChild(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<CellResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-2000)));
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-child.pid!, "SIGKILL");
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").pop() ?? "";
      if (timedOut) return resolve({ status: "timeout", note: `over the cell budget of ${timeoutMs / 1000} s` });
      try {
        return resolve(JSON.parse(last) as CellResult);
      } catch {
        resolve(crashedCell(code, signal, stderr));
      }
    });
  });
}

/**
 * The row of a cell process that died without printing its result: a SIGKILL it did not ask for is the kernel's
 * out-of-memory killer (an oom row); it shows as the signal, or as exit code 128 + 9 when it reaches the cell
 * through its tsx or shell wrapper. Anything else is an error row with the last line the cell wrote to stderr.
 */
export function crashedCell(code: number | null, signal: NodeJS.Signals | null, stderr: string): CellResult {
  const killed = signal === "SIGKILL" || code === 137;
  const why = killed ? "killed by SIGKILL (the kernel's out-of-memory killer)" : `exited with ${signal ?? `code ${code}`}`;
  return { status: killed ? "oom" : "error", note: `${why}: ${stderr.trim().split("\n").pop() ?? ""}`.slice(0, 300) };
}
