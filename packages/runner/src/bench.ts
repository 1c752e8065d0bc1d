// `bench`: the matrix checkpoint x EP x (task setting | length). Each measurement becomes one result row,
// written as soon as it is finished; a failure becomes a row with its status, and the run goes on.
import { basename } from "node:path";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { MAX_EXPORTED_SEQ, UserError, didYouMean, type Metric, type ResultRow, type RowStatus } from "@ssmbench/core";
import { getBackend, openModel, type RecurrentDriver } from "@ssmbench/runtime";
import { tasks, type Example, type TaskDef } from "@ssmbench/tasks";
import { verifyCheckpoint, type Checkpoint } from "./discover.ts";
import { oneLine, statusOf, withBudget } from "./cell.ts";
import { budgetNote, evalPlan, evaluateSetting, examplesFor, examplesNote, measured, qualityMetrics, streamedNote, testSplit } from "./evaluate.ts";
import { Progress } from "./progress.ts";
import { ResultFile, provenance, rowKey, type Provenance } from "./results.ts";
import { decodeTiming, prefillTiming, stateBytes } from "./speed.ts";
import { fullTiming, quickTiming } from "./timing.ts";
import { loadJsonl } from "./userdata.ts";

export interface BenchOptions {
  root: string;
  checkpoints: Checkpoint[];
  eps: string[];
  /** Restrict accuracy to this task (a checkpoint is evaluated on the task it was trained on). */
  task?: string;
  seqLens?: number[];
  quick: boolean;
  outDir: string;
  runId: string;
  resume: boolean;
  data?: string;
  /** Test examples per setting (default 1000, quick 200), fewer at long settings: examplesFor(seqLen, examples). */
  examples?: number;
  /** Only the task settings whose sequence length is one of these (--settings); default all. */
  settingLens?: number[];
  /** Settings longer than this are streamed through step.onnx, or `na` for growing-state checkpoints (default STREAM_ABOVE = 2^16). */
  streamAbove?: number;
  threads?: number;
  /** Time budget of one matrix cell in ms (--cell-timeout): over it, the cell becomes a "timeout" row. */
  cellTimeoutMs?: number;
  /** Only these (checkpoint id, EP) cells of checkpoints x eps (a shard of the matrix: see shard.ts). */
  include?: (model: string, ep: string) => boolean;
  log?: (line: string) => void;
}

export const TEST_SEED = 0;

export interface BenchResult {
  file: string;
  rows: ResultRow[];
}

export function taskOf(id: string): TaskDef<any> {
  const t = (tasks as Record<string, TaskDef<any>>)[id];
  if (!t) throw new UserError(`unknown task "${id}"${didYouMean(id, Object.keys(tasks))}`, `known tasks: ${Object.keys(tasks).join(", ")}`);
  return t;
}

export async function bench(o: BenchOptions): Promise<BenchResult> {
  const log = o.log ?? ((s: string) => console.error(s));
  // Everything that can be refused is checked before the first row is written.
  const backends = await Promise.all(o.eps.map((ep) => getBackend(ep)));
  if (o.task) taskOf(o.task);
  const lengths = o.seqLens ?? (o.quick ? [1024] : [1024, 4096, 16384]);
  for (const c of o.checkpoints) {
    verifyCheckpoint(c);
    const limit = c.card.maxSeqLen ?? MAX_EXPORTED_SEQ;
    const over = lengths.filter((L) => L > limit);
    if (over.length) throw new UserError(`--seq-len ${over.join(",")} is above ${c.card.id}'s limit of ${limit} tokens (the length its prefill.onnx was exported for)`, `choose lengths up to ${limit}`);
    // The ONNX graphs must have the inputs and outputs the card names (the driver checks them when it opens).
    await (await openModel(c.dir, c.card, { ep: "cpu", threads: 1 })).release();
  }
  // Validate the user's data (all lines) against every checkpoint's vocabulary before anything runs.
  if (o.data) for (const c of o.checkpoints) loadJsonl(o.data, c.card.vocab);
  const userData = o.data ? { file: o.data, sha: createHash("sha256").update(readFileSync(o.data)).digest("hex").slice(0, 12) } : undefined;

  const out = new ResultFile(o.outDir, o.runId, o.resume);
  try {
    return await runMatrix(o, out, backends, userData, lengths, log);
  } finally {
    out.close();
  }
}

type Backends = Awaited<ReturnType<typeof getBackend>>[];

async function runMatrix(o: BenchOptions, out: ResultFile, backends: Backends, userData: { file: string; sha: string } | undefined, lengths: number[], log: (s: string) => void): Promise<BenchResult> {
  const prov: Provenance = provenance(o.root, o.runId);
  const timing = o.quick ? quickTiming : fullTiming;
  const cell = <T>(driver: RecurrentDriver, fn: (d: RecurrentDriver) => Promise<T>) => withBudget(driver, o.cellTimeoutMs, fn);
  const nExamples = o.examples ?? (o.quick ? 200 : 1000);
  const written: ResultRow[] = [];

  for (const ckpt of o.checkpoints) {
    const { card } = ckpt;
    const task = taskOf(card.task.id);
    if (o.task && o.task !== card.task.id) {
      log(`skip ${card.id}: trained on ${card.task.id}, not ${o.task}`);
      continue;
    }
    const trained = task.parseParams(card.task.params);
    const all = o.quick ? task.settings(trained).slice(0, 1) : task.settings(trained);
    const settings = o.settingLens ? all.filter((s) => o.settingLens!.includes(task.seqLen(s.params))) : all;
    for (const backend of backends) {
      if (o.include && !o.include(card.id, backend.name)) continue;
      const base = { ...prov, runtime: backend.runtime, runtime_version: backend.version, ep: backend.name, model: card.id, checkpoint_sha256: card.files.find((f) => f.path === "prefill.onnx")?.sha256 ?? "" };
      const emit = (r: { task: string; task_version: string; split: string; seq_len: number; batch: number; metric: Metric; value: number | null; ci_low?: number | null; ci_high?: number | null; n: number; status: RowStatus; note: string }) => {
        const row: ResultRow = { ...base, timestamp: new Date().toISOString(), ci_low: null, ci_high: null, ...r };
        out.append(row);
        written.push(row);
        log(`  ${card.id} ${backend.name} ${r.metric} ${r.split} len ${r.seq_len}: ${r.status === "ok" ? fmtValue(r.metric, r.value) : r.status.toUpperCase()} ${r.status === "ok" ? "" : r.note}`);
      };
      const done = (k: Parameters<typeof rowKey>[0]) => out.done(rowKey(k));

      let driver: RecurrentDriver;
      try {
        driver = await openModel(ckpt.dir, card, { ep: backend.name, threads: o.threads });
      } catch (e) {
        emit({ task: card.task.id, task_version: task.version, split: "-", seq_len: 0, batch: 1, metric: qualityMetrics(task.metric)[0]!, value: null, n: 0, status: "error", note: oneLine(e) });
        continue;
      }
      log(`${card.id} on ${backend.name} (${backend.runtime} ${backend.version})`);
      try {
        // Accuracy: the task's settings (trained first), or the user's JSONL.
        // The note names the examples actually evaluated: a language-modelling task cuts its test text into at most
        // as many windows as fit, which can be fewer than asked for.
        // A setting's example count is a function of its length (examplesFor: a token budget), so --verify redraws them.
        const evals: { split: string; task: string; version: string; examples: () => Example[]; seqLen: number; note: (count: number) => string }[] = userData
          ? [{ split: `data:${basename(userData.file)}`, task: "jsonl", version: userData.sha, examples: () => loadJsonl(userData.file, card.vocab), seqLen: 0, note: () => `user data ${userData.file}` }]
          : settings.map((s) => {
              const seqLen = task.seqLen(s.params);
              return {
                split: testSplit(s.name),
                task: task.id,
                version: task.version,
                examples: () => task.generate(s.params, "test", examplesFor(seqLen, nExamples), TEST_SEED),
                seqLen,
                note: (count) => `${examplesNote(count, TEST_SEED)}${s === all[0] ? ", trained setting" : ", another setting"}${budgetNote(count, nExamples)}`,
              };
            });
        // User data is scored by argmax accuracy; a task by its metrics (accuracy, or bits per byte and perplexity).
        const metrics = userData ? (["accuracy"] as const) : qualityMetrics(task.metric);
        for (const ev of evals) {
          // Past streamAbove tokens a growing-state checkpoint is not run: an na row says why (before any example is drawn).
          const planned = ev.seqLen ? evalPlan(card.states, ev.seqLen, o.streamAbove) : undefined;
          const notRun = (seq_len: number, note: string) => {
            for (const metric of metrics) emit({ task: ev.task, task_version: ev.version, split: ev.split, seq_len, batch: 1, metric, value: null, n: 0, status: "na", note });
          };
          // A row's batch depends on the lengths evaluated, so --resume matches it without batch and length,
          // and skips before generating the examples.
          const kept = (r: ResultRow) => r.status === "ok" || (planned?.mode === "na" && r.status === "na");
          if (o.resume && metrics.every((m) => out.all.some((r) => kept(r) && r.metric === m && r.model === card.id && r.split === ev.split && r.ep === backend.name))) continue;
          if (planned?.mode === "na") {
            notRun(ev.seqLen, planned.note);
            continue;
          }
          const examples = ev.examples();
          const longest = Math.max(0, ...examples.map((e) => e.input_ids.length));
          const plan = planned ?? evalPlan(card.states, longest, o.streamAbove);
          if (plan.mode === "na") {
            notRun(longest, plan.note);
            continue;
          }
          // streaming reports tokens stepped, prefill examples done
          const progress = new Progress(`${card.id} ${backend.name} ${ev.split}${plan.mode === "stream" ? " (streamed)" : ""}`, plan.mode === "stream" ? longest : examples.length);
          try {
            const score = userData ? undefined : task.scoreExample;
            const acc = await cell(driver, (d) => evaluateSetting(d, card, examples, { score, onProgress: (n) => progress.update(n), streamAbove: o.streamAbove }));
            progress.stop();
            const seq_len = ev.seqLen || examples[0]!.input_ids.length;
            const lm = acc.likelihood;
            const what = lm
              ? `${lm.tokens} scored tokens (${lm.bytes} bytes) in ${acc.examples} windows; 95% interval over windows (delta method)`
              : `${acc.correct}/${acc.total} ${score ? "examples exactly right" : "scored positions"}`;
            for (const metric of metrics) {
              const m = measured(acc, metric);
              emit({ task: ev.task, task_version: ev.version, split: ev.split, seq_len, batch: acc.batch, metric, value: m.value, ci_low: m.ci[0], ci_high: m.ci[1], n: m.n, status: "ok", note: `${ev.note(examples.length)}; ${what}${acc.streamed ? `; ${streamedNote(acc.batch)}` : ""}` });
            }
          } catch (e) {
            progress.stop();
            for (const metric of metrics) emit({ task: ev.task, task_version: ev.version, split: ev.split, seq_len: ev.seqLen, batch: 1, metric, value: null, n: 0, status: statusOf(e), note: oneLine(e) });
          }
        }
        if (userData) continue;
        // Speed: prefill at each length, then decode per token after the shortest context.
        let bytes = Number.NaN;
        for (const L of lengths) {
          const k = { model: card.id, task: "speed", split: "-", ep: backend.name, seq_len: L, batch: 1, metric: "prefill_tokens_per_s" as const };
          if (done(k)) continue;
          try {
            const t = await cell(driver, (d) => prefillTiming(d, card.vocab, L, 1, timing));
            bytes = stateBytes(driver.state!, 1);
            emit({ ...k, task_version: "-", value: (L * 1000) / t.median, ci_low: (L * 1000) / t.high, ci_high: (L * 1000) / t.low, n: t.n, status: "ok", note: `median of ${t.n} runs after warm-up; ${t.median.toFixed(1)} ms per prefill; ${load()}` });
          } catch (e) {
            emit({ ...k, task_version: "-", value: null, n: 0, status: statusOf(e), note: oneLine(e) });
          }
        }
        const context = Math.min(...lengths);
        const steps = o.quick ? 64 : 512;
        const dk = { model: card.id, task: "speed", split: "-", ep: backend.name, seq_len: context, batch: 1 };
        if (!done({ ...dk, metric: "decode_ms_per_token" })) {
          try {
            const t = await cell(driver, (d) => decodeTiming(d, card.vocab, context, steps, o.quick ? 8 : 32));
            const note = `${t.n} steps after a ${context}-token prefill; ${load()}`;
            emit({ ...dk, task_version: "-", metric: "decode_ms_per_token", value: t.median, ci_low: t.low, ci_high: t.high, n: t.n, status: "ok", note });
            emit({ ...dk, task_version: "-", metric: "decode_ms_per_token_p90", value: t.p90, n: t.n, status: "ok", note });
            bytes = stateBytes(driver.state!, 1);
          } catch (e) {
            emit({ ...dk, task_version: "-", metric: "decode_ms_per_token", value: null, n: 0, status: statusOf(e), note: oneLine(e) });
          }
        }
        if (Number.isFinite(bytes)) emit({ ...dk, task_version: "-", metric: "state_bytes", value: bytes, n: 1, status: "ok", note: "bytes of all state tensors per sequence, read off the runtime's tensors" });
        emit({ ...dk, task_version: "-", metric: "peak_rss_mb", value: process.resourceUsage().maxRSS / 1024, n: 1, status: "ok", note: "peak resident set of the bench process so far (includes earlier checkpoints of this run)" });
      } finally {
        await driver.release();
      }
    }
  }
  return { file: out.path, rows: written };
}

/** The machine's 1-minute load average, kept with each timing: other work on the machine slows it. */
const load = () => `load average ${loadavg()[0]!.toFixed(2)} (${availableParallelism()} cores)`;


export function fmtValue(metric: Metric, v: number | null): string {
  if (v === null || Number.isNaN(v)) return "-";
  if (metric === "accuracy") return `${(100 * v).toFixed(2)}%`;
  if (metric === "bits_per_byte") return `${v.toFixed(4)} bits/byte`;
  if (metric === "perplexity") return v.toFixed(3);
  if (metric === "prefill_tokens_per_s") return `${Math.round(v).toLocaleString("en-US")} tok/s`;
  if (metric.startsWith("decode_ms")) return `${v.toFixed(3)} ms`;
  if (metric === "state_bytes") return `${Math.round(v).toLocaleString("en-US")} B`;
  return `${v.toFixed(1)} MB`;
}
