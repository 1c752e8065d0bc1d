// Result rows of a run in the browser, in the schema of every other row (core's ResultRow), so that a visitor's
// CSV can be dropped into results/ and `pnpm report` merges it. Browser-safe.
import { ResultRow, type Metric, type ModelCard, type RowStatus } from "@ssmbench/core";
import { examplesNote, testSplit, type Accuracy, type Timing } from "@ssmbench/runner/browser";

export interface BrowserEnv {
  /** navigator.userAgent */
  userAgent: string;
  /** navigator.platform (or userAgentData.platform) */
  platform: string;
  /** navigator.hardwareConcurrency */
  cores: number;
  /** onnxruntime-web's version (ort.env.versions.web) */
  ortVersion: string;
  /** wasm threads in use (1 unless the page is cross-origin isolated) */
  threads: number;
}

export interface BrowserRun {
  runId: string;
  /** The commit the site was built from (site data), for provenance. */
  gitSha: string;
  ep: "wasm" | "webgpu";
  env: BrowserEnv;
  card: Pick<ModelCard, "id" | "files">;
}

/** "Chromium 141 (headless)", "Chrome 141", "Edge 141", "Firefox 140", "Safari 18", or "browser", read off a user agent. */
export function browserName(userAgent: string): string {
  const known: [RegExp, string][] = [
    [/HeadlessChrome\/(\d+)/, "Chromium $1 (headless)"],
    [/Edg\/(\d+)/, "Edge $1"],
    [/Firefox\/(\d+)/, "Firefox $1"],
    [/Chromium\/(\d+)/, "Chromium $1"],
    [/Chrome\/(\d+)/, "Chrome $1"],
    [/Version\/(\d+).*Safari\//, "Safari $1"],
  ];
  for (const [re, name] of known) {
    const m = re.exec(userAgent);
    if (m) return name.replace("$1", m[1]!);
  }
  return "browser";
}

/** The runtime column of a browser row: "onnxruntime-web (chromium)", "onnxruntime-web (firefox)", ... */
export function browserRuntime(userAgent: string): string {
  return `onnxruntime-web (${browserName(userAgent).split(" ")[0]!.toLowerCase()})`;
}

/**
 * The ep column of a browser row: "chromium-wasm", "firefox-webgpu", ... A browser's figures join the leaderboard as
 * their own execution provider, so they never replace the rows of onnxruntime-web's wasm EP run in Node.
 */
export function browserEp(ep: BrowserRun["ep"], userAgent: string): string {
  return `${browserName(userAgent).split(" ")[0]!.toLowerCase()}-${ep}`;
}

/** browser-20261123T101112Z-ab12: sorts by time like bench's run ids, and never collides with them. */
export function browserRunId(now = new Date(), random = Math.random): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `browser-${stamp}-${Math.floor(random() * 0xffff).toString(16).padStart(4, "0")}`;
}

interface RowFields {
  task: string;
  task_version: string;
  split: string;
  seq_len: number;
  batch: number;
  metric: Metric;
  value: number | null;
  ci_low?: number | null;
  ci_high?: number | null;
  n: number;
  status: RowStatus;
  note: string;
}

function row(run: BrowserRun, f: RowFields, now: Date): ResultRow {
  const { env } = run;
  return ResultRow.parse({
    run_id: run.runId,
    timestamp: now.toISOString(),
    git_sha: run.gitSha,
    host: browserName(env.userAgent),
    cpu: env.platform || "unknown",
    cores: Math.max(1, env.cores || 1),
    runtime: browserRuntime(env.userAgent),
    runtime_version: env.ortVersion,
    ep: browserEp(run.ep, env.userAgent),
    model: run.card.id,
    checkpoint_sha256: run.card.files.find((x) => x.path === "prefill.onnx")?.sha256 ?? "",
    ci_low: null,
    ci_high: null,
    ...f,
  });
}

const where = (env: BrowserEnv) => `in the browser (${env.threads} wasm thread${env.threads === 1 ? "" : "s"}): ${env.userAgent}`;

/** The accuracy row of a setting, as bench writes it (same split name, note prefix and counts). */
export function accuracyRow(
  run: BrowserRun,
  t: { task: string; version: string; setting: string; seqLen: number; trained: boolean; examples: number; seed: number; exactMatch: boolean },
  acc: Accuracy,
  now = new Date(),
): ResultRow {
  return row(run, {
    task: t.task,
    task_version: t.version,
    split: testSplit(t.setting),
    seq_len: t.seqLen,
    batch: acc.batch,
    metric: "accuracy",
    value: acc.value,
    ci_low: acc.ci[0],
    ci_high: acc.ci[1],
    n: acc.total,
    status: "ok",
    note: `${examplesNote(t.examples, t.seed)}${t.trained ? ", trained setting" : ", another setting"}; ${acc.correct}/${acc.total} ${t.exactMatch ? "examples exactly right" : "scored positions"}; ${where(run.env)}`,
  }, now);
}

/** Speed rows as bench --quick writes them: prefill tokens/s at one length, decode ms/token (median, p90), state bytes. */
export function speedRows(run: BrowserRun, seqLen: number, prefill: Timing, decode: Timing, stateBytes: number, now = new Date()): ResultRow[] {
  const base = { task: "speed", task_version: "-", split: "-", seq_len: seqLen, batch: 1 };
  const decodeNote = `${decode.n} steps after a ${seqLen}-token prefill; ${where(run.env)}`;
  return [
    row(run, { ...base, metric: "prefill_tokens_per_s", value: (seqLen * 1000) / prefill.median, ci_low: (seqLen * 1000) / prefill.high, ci_high: (seqLen * 1000) / prefill.low, n: prefill.n, status: "ok", note: `median of ${prefill.n} runs after warm-up; ${prefill.median.toFixed(1)} ms per prefill; ${where(run.env)}` }, now),
    row(run, { ...base, metric: "decode_ms_per_token", value: decode.median, ci_low: decode.low, ci_high: decode.high, n: decode.n, status: "ok", note: decodeNote }, now),
    row(run, { ...base, metric: "decode_ms_per_token_p90", value: decode.p90, n: decode.n, status: "ok", note: decodeNote }, now),
    row(run, { ...base, metric: "state_bytes", value: stateBytes, n: 1, status: "ok", note: "bytes of all state tensors per sequence, read off the runtime's tensors" }, now),
  ];
}

/** A row for a run that failed (the error's first line), so a failure is kept apart from not run. */
export function failedRow(run: BrowserRun, t: { task: string; version: string; split: string; seqLen: number }, metric: Metric, err: unknown, now = new Date()): ResultRow {
  const message = String((err as Error)?.message ?? err).split("\n")[0]!.slice(0, 300);
  return row(run, { task: t.task, task_version: t.version, split: t.split, seq_len: t.seqLen, batch: 1, metric, value: null, n: 0, status: "error", note: `${message}; ${where(run.env)}` }, now);
}
