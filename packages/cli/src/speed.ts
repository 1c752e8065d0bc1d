// `pnpm bench --suite speed`: the options of the speed suite, checked, then the suite itself (runner/speed-suite.ts),
// with Chromium's EPs (chromium-wasm, chromium-webgpu) from packages/web, which the runner cannot import.
import { resolve } from "node:path";
import { UserError } from "@ssmbench/core";
import { formatTable, newRunId, resolveModels, speedCheckpoints, speedDefaults, speedSuite, type SpeedSplit } from "@ssmbench/runner";

const SPLITS: readonly SpeedSplit[] = ["prefill", "decode", "generate"];

export interface SpeedArgs {
  model: string;
  task?: string;
  ep?: string;
  seqLen?: string;
  batch?: string;
  contexts?: string;
  torch: boolean;
  maxLogitsGb?: number;
  maxBatchTokens?: number;
  decodeThreads?: number;
  quick: boolean;
  out: string;
  modelsDir: string;
  runId?: string;
  resume?: string;
  /** --redo a,b: with --resume, checkpoints measured again from scratch. */
  redo?: string;
  /** --redo-split decode: only that split of the --redo checkpoints is measured again. */
  redoSplit?: string;
  /** --generate-chunk: greedy tokens per generate.onnx call in generate cells (0: none). */
  generateChunk?: number;
  threads?: number;
  cellTimeout?: number;
}

export function parseList(flag: string, text: string, example: string): number[] {
  const out = text.split(",").map((s) => Number(s.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1)) throw new UserError(`--${flag}: "${text}" is not a list of positive integers`, `e.g. --${flag} ${example}`);
  return out;
}

export async function speedCommand(root: string, a: SpeedArgs): Promise<void> {
  const all = resolveModels(a.model, root, resolve(root, a.modelsDir));
  const onTask = all.filter((c) => c.card.task.id === (a.task ?? "mqar"));
  const checkpoints = all.length === 1 ? all : speedCheckpoints(onTask, a.model);
  if (!checkpoints.length) throw new UserError(`no checkpoint of "${a.model}" is trained on ${a.task ?? "mqar"}`, "choose --task, or name a checkpoint id");
  if (a.maxLogitsGb !== undefined && !(a.maxLogitsGb > 0)) throw new UserError(`--max-logits-gb ${a.maxLogitsGb}: must be a positive number`, "e.g. --max-logits-gb 2");
  if (a.decodeThreads !== undefined && !(Number.isInteger(a.decodeThreads) && a.decodeThreads > 0)) throw new UserError(`--decode-threads ${a.decodeThreads}: must be a positive integer`, "e.g. --decode-threads 1");
  if (a.maxBatchTokens !== undefined && !(Number.isInteger(a.maxBatchTokens) && a.maxBatchTokens > 0)) throw new UserError(`--max-batch-tokens ${a.maxBatchTokens}: must be a positive integer`, "e.g. --max-batch-tokens 131072");
  if (a.cellTimeout !== undefined && !(a.cellTimeout > 0)) throw new UserError(`--cell-timeout ${a.cellTimeout}: must be a positive number of seconds`, "e.g. --cell-timeout 600");
  const redo = a.redo?.split(",").map((s) => s.trim()).filter(Boolean);
  if (redo?.length && a.resume === undefined) throw new UserError("--redo re-measures checkpoints inside an earlier run", "add --resume <run-id> (the run to correct)");
  const unknownRedo = redo?.filter((id) => !checkpoints.some((c) => c.card.id === id)) ?? [];
  if (unknownRedo.length) throw new UserError(`--redo ${unknownRedo.join(", ")}: not among this run's checkpoints (${checkpoints.map((c) => c.card.id).join(", ")})`, "name checkpoint ids that --model selects");
  if (a.redoSplit !== undefined && !SPLITS.includes(a.redoSplit as SpeedSplit)) throw new UserError(`--redo-split ${a.redoSplit}: must be ${SPLITS.join(", ")}`, "e.g. --redo-split decode");
  if (a.generateChunk !== undefined && !(Number.isInteger(a.generateChunk) && a.generateChunk >= 0)) throw new UserError(`--generate-chunk ${a.generateChunk}: must be a whole number of tokens`, "e.g. --generate-chunk 64, or 0 for no generate cells");
  if (a.redoSplit !== undefined && !redo?.length) throw new UserError("--redo-split narrows --redo", "add --redo <checkpoint ids> (and --resume <run-id>)");
  const quick = a.quick;
  const started = performance.now();
  const runId = a.runId ?? (a.resume || newRunId());
  // Loaded here, not at start-up: playwright-core and esbuild only for the speed suite.
  const { chromiumSpeedRuntimes } = await import("@ssmbench/web/speed");
  const { file, rows } = await speedSuite({
    root,
    checkpoints,
    eps: (a.ep ?? "cpu,wasm").split(",").map((s) => s.trim()).filter(Boolean),
    torch: a.torch,
    lengths: a.seqLen ? parseList("seq-len", a.seqLen, "1024,4096,16384,65536") : quick ? [1024, 4096] : speedDefaults.lengths,
    batches: a.batch ? parseList("batch", a.batch, "1,8") : quick ? [1] : speedDefaults.batches,
    contexts: a.contexts ? parseList("contexts", a.contexts, "1024,8192,65536") : quick ? [1024] : speedDefaults.contexts,
    maxLogitsBytes: a.maxLogitsGb !== undefined ? a.maxLogitsGb * 2 ** 30 : speedDefaults.maxLogitsBytes,
    maxBatchTokens: a.maxBatchTokens,
    decodeThreads: a.decodeThreads,
    threads: a.threads,
    timing: quick ? { warmup: 1, minSamples: 3, minTimeMs: 200, maxTimeMs: 5000, floorSamples: 2 } : speedDefaults.timing,
    steps: quick ? 32 : speedDefaults.steps,
    warmupSteps: quick ? 4 : speedDefaults.warmupSteps,
    decodeMinTimeMs: quick ? undefined : speedDefaults.decodeMinTimeMs,
    cellTimeoutMs: (a.cellTimeout ?? speedDefaults.cellTimeoutMs / 1000) * 1000,
    outDir: resolve(root, a.out),
    runId,
    resume: a.resume !== undefined,
    redo,
    redoSplit: a.redoSplit as SpeedSplit | undefined,
    generateChunk: a.generateChunk,
    runtimes: [chromiumSpeedRuntimes()],
  });
  console.log(formatTable(rows));
  const failed = rows.filter((r) => r.status !== "ok").length;
  console.log(`\n${rows.length} rows (${failed} not ok) written to ${file} in ${((performance.now() - started) / 1000).toFixed(1)} s; pnpm report draws docs/speed.md from them`);
}
