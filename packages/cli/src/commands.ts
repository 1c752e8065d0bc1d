// The commands behind `pnpm bench|train|export|report|list` (yargs wiring is in main.ts).
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "@ssmbench/core";
import { checkPlans, describePlans, loadPlans, loadResults, runReport } from "@ssmbench/report";
import { bench, discoverCheckpoints, discoverFamilies, formatTable, newRunId, renderReliability, resolveModels, taskOf, verifyResults } from "@ssmbench/runner";
import { getBackend, listBackends } from "@ssmbench/runtime";
import { planShardedBench, runShard } from "./shards.ts";
import { writeSplit } from "@ssmbench/tasks";
import { runPython } from "./python.ts";
import { parseList } from "./speed.ts";
import { scaffoldModel } from "./scaffold.ts";

export interface BenchArgs {
  model: string;
  task?: string;
  ep?: string;
  seqLen?: string;
  quick: boolean;
  out: string;
  modelsDir: string;
  data?: string;
  runId?: string;
  /** --resume <run-id>, or "" with --run-id; undefined: a new run. */
  resume?: string;
  examples?: number;
  /** --settings: only the task settings of these lengths */
  settings?: string;
  /** --stream-above: settings longer than this are streamed (constant state) or na (growing state) */
  streamAbove?: number;
  threads?: number;
  cellTimeout?: number;
  verify: boolean;
  /** --shard i/n (else the scheduler's array index, if any). */
  shard?: string;
}

export async function benchCommand(root: string, a: BenchArgs): Promise<void> {
  const modelsDir = resolve(root, a.modelsDir);
  const checkpoints = resolveModels(a.model, root, modelsDir);
  const eps = (a.ep ?? (a.verify ? "cpu" : "cpu,wasm")).split(",").map((s) => s.trim()).filter(Boolean);
  if (a.verify) {
    // --verify measures nothing new: the committed rows are re-measured on the cpu EP unless --ep names others.
    const file = resolve(root, a.out, "leaderboard.csv");
    const { checked } = await verifyResults({ file, checkpoints, eps, threads: a.threads });
    console.log(`all ${checked} accuracy rows of ${file} reproduced exactly`);
    return;
  }
  if (a.cellTimeout !== undefined && !(a.cellTimeout > 0)) throw new UserError(`--cell-timeout ${a.cellTimeout}: must be a positive number of seconds`, "e.g. --cell-timeout 600");
  if (a.examples !== undefined && !(Number.isInteger(a.examples) && a.examples > 0)) throw new UserError(`--examples ${a.examples}: must be a positive integer`, "e.g. --examples 500");
  if (a.threads !== undefined && !(Number.isInteger(a.threads) && a.threads > 0)) throw new UserError(`--threads ${a.threads}: must be a positive integer`, "e.g. --threads 2");
  const seqLens = a.seqLen ? parseList("seq-len", a.seqLen, "1024,4096,16384") : undefined;
  const settingLens = a.settings ? parseList("settings", a.settings, "65536,1048576") : undefined;
  if (a.streamAbove !== undefined && !(Number.isInteger(a.streamAbove) && a.streamAbove > 0)) throw new UserError(`--stream-above ${a.streamAbove}: must be a positive integer`, "e.g. --stream-above 2097152");
  const resume = a.resume !== undefined;
  if (resume && a.resume && a.runId && a.resume !== a.runId) throw new UserError(`--resume ${a.resume} and --run-id ${a.runId} name different runs`, "give the run once: --resume <run-id>");
  const sharded = await planShardedBench({ flag: a.shard, run: a.runId ?? a.resume, checkpoints, eps, task: a.task, outDir: resolve(root, a.out), checkEps: (xs) => Promise.all(xs.map(getBackend)) });
  // A bare --resume in a Slurm array task continues the array's own run (a requeued task picks up its rows).
  if (resume && !a.runId && !a.resume && !sharded) throw new UserError("--resume needs the run to continue", "e.g. --resume 20261122T180000Z-1234 (see results/)");
  if (sharded?.cells.length === 0) return;
  const runId = sharded?.runId ?? a.runId ?? (a.resume || newRunId());
  const started = performance.now();
  const { file, rows } = await runShard(sharded, resolve(root, a.out), () => bench({
    root, checkpoints: sharded?.checkpoints ?? checkpoints, eps: sharded?.eps ?? eps, include: sharded?.include, task: a.task, seqLens, quick: a.quick,
    outDir: resolve(root, a.out), runId, resume, data: a.data ? resolve(a.data) : undefined, examples: a.examples, settingLens, streamAbove: a.streamAbove, threads: a.threads,
    cellTimeoutMs: a.cellTimeout === undefined ? undefined : a.cellTimeout * 1000,
  }));
  console.log(formatTable(rows));
  const failed = rows.filter((r) => r.status !== "ok").length;
  console.log(`\n${rows.length} rows (${failed} not ok) written to ${file} in ${((performance.now() - started) / 1000).toFixed(1)} s; pnpm report puts them on the leaderboard`);
}


export interface TrainArgs {
  model: string;
  task: string;
  device: string;
  lrs: string;
  steps: number;
  batch: number;
  config: string;
  params: string;
  trainExamples: number;
  maxMinutes?: number;
  /** stop a learning rate early once its validation accuracy reaches this (0..1) */
  targetAcc?: number;
  /** processes under torchrun (DistributedDataParallel); 1 = one process */
  nproc?: number;
  id?: string;
}

function dataDir(root: string, task: string, params: Record<string, unknown>): string {
  const slug = Object.values(params).join("-").replace(/[^0-9a-zA-Z.-]/g, "");
  return join(root, "datasets", task, "data", slug);
}

/** Writes the train and valid splits as .npy (skipped when the same ones are there). */
export function writeTrainingData(root: string, taskId: string, rawParams: Record<string, unknown>, trainExamples: number): string {
  const task = taskOf(taskId);
  const params = task.parseParams(rawParams);
  const dir = dataDir(root, taskId, params);
  for (const [split, n] of [["train", trainExamples], ["valid", 1000]] as const) {
    const meta = join(dir, `${split}.meta.json`);
    const same = existsSync(meta) && (() => {
      const m = JSON.parse(readFileSync(meta, "utf8"));
      return m.version === task.version && m.n === n && JSON.stringify(m.params) === JSON.stringify(params);
    })();
    if (!same) writeSplit(task, params, split, n, 0, dir);
  }
  return dir;
}

export async function trainCommand(root: string, a: TrainArgs): Promise<void> {
  const family = discoverFamilies(root).find((f) => f.name === a.model);
  if (!family) throw new UserError(`unknown model family "${a.model}"`, `known: ${discoverFamilies(root).map((f) => f.name).join(", ")} (or scaffold one: see docs/adding-a-model.md)`);
  const params = parseJson(a.params, "--params");
  parseJson(a.config, "--config");
  const data = writeTrainingData(root, a.task, params, a.trainExamples);
  const id = a.id ?? `${a.model}-${a.task}`;
  const run = join(root, "runs", id);
  console.error(`data: ${data}\ntraining ${a.model} on ${a.task} (${a.device}); checkpoints in ${run}`);
  const nproc = a.nproc ?? 1;
  if (!Number.isInteger(nproc) || nproc < 1) throw new UserError(`--nproc ${a.nproc}: not a positive integer`, "e.g. --nproc 4 (one process per GPU)");
  const trainArgs = [
    "--model-dir", family.dir, "--data", data, "--out", run, "--config", a.config, "--lrs", a.lrs,
    "--steps", String(a.steps), "--batch", String(a.batch), "--device", a.device,
    ...(a.maxMinutes ? ["--max-minutes", String(a.maxMinutes)] : []),
    ...(a.targetAcc ? ["--target-acc", String(a.targetAcc)] : []),
  ];
  if (nproc > 1) {
    // torchrun: each process takes a slice of every batch (DDP); the learning rates run one after another.
    runPython(root, "torch.distributed.run", ["--standalone", "--nproc_per_node", String(nproc), "-m", "ssmbench_trainer.train", ...trainArgs]);
  } else {
    runPython(root, "ssmbench_trainer.train", [...trainArgs, ...(a.device.startsWith("cuda") ? ["--jobs", String(a.lrs.split(",").length)] : [])]);
  }
  runPython(root, "ssmbench_trainer.export", ["--model-dir", family.dir, "--run", run, "--data", data, "--out", join(root, "models", id), "--id", id]);
  console.error(`wrote models/${id}; measure it with: pnpm bench --model ${id}`);
}

export interface ExportArgs {
  model?: string;
  task: string;
  run: string[];
  fromCheckpoint?: string;
  precision: "float32" | "float64";
  id?: string;
  params: string;
}

export async function exportCommand(root: string, a: ExportArgs): Promise<void> {
  const common = ["--precision", a.precision, ...(a.id ? ["--id", a.id] : [])];
  if (a.fromCheckpoint) {
    // Re-export: the task and its trained setting come from the checkpoint's own card.
    const dir = resolve(root, a.fromCheckpoint);
    const cardPath = join(dir, "card.json");
    if (!existsSync(cardPath)) throw new UserError(`${a.fromCheckpoint} has no card.json`, "give a checkpoint folder such as models/retnet-mqar-d128");
    const card = JSON.parse(readFileSync(cardPath, "utf8")) as { id: string; task: { id: string; params: Record<string, unknown> } };
    const data = writeTrainingData(root, card.task.id, card.task.params, 100_000);
    const out = join(root, "models", a.id ?? card.id);
    runPython(root, "ssmbench_trainer.export", ["--from-checkpoint", dir, "--data", data, "--out", out, ...common]);
    return;
  }
  if (!a.model || a.run.length === 0) throw new UserError("export needs --model and --run, or --from-checkpoint", "e.g. pnpm export --from-checkpoint models/retnet-mqar-d128 --precision float64");
  const family = discoverFamilies(root).find((f) => f.name === a.model);
  if (!family) throw new UserError(`unknown model family "${a.model}"`, `known: ${discoverFamilies(root).map((f) => f.name).join(", ")}`);
  const data = writeTrainingData(root, a.task, parseJson(a.params, "--params"), 100_000);
  const id = a.id ?? `${a.model}-${a.task}`;
  runPython(root, "ssmbench_trainer.export", ["--model-dir", family.dir, ...a.run.flatMap((r) => ["--run", resolve(r)]), "--data", data, "--out", join(root, "models", id), ...common, "--id", id]);
}

export async function listCommand(root: string, modelsDir: string): Promise<void> {
  console.log("model families (packages/model-*):");
  for (const f of discoverFamilies(root)) console.log(`  ${f.name.padEnd(14)} ${f.description}`);
  console.log("\ncheckpoints (models/*/card.json):");
  for (const { card } of discoverCheckpoints(resolve(root, modelsDir))) {
    const acc = Object.entries(card.training.final).map(([k, v]) => `${k} ${v}`).join(", ");
    console.log(`  ${card.id.padEnd(14)} ${card.family}/${card.task.id} ${JSON.stringify(card.task.params)} params ${card.params.toLocaleString("en-US")}; ${acc}`);
  }
  console.log("\ntasks:");
  const { tasks } = await import("@ssmbench/tasks");
  for (const t of Object.values(tasks)) console.log(`  ${t.id.padEnd(14)} v${t.version} ${t.title} — ${t.source}`);
  console.log("\nexecution providers:");
  for (const b of await listBackends()) console.log(`  ${b.name.padEnd(8)} ${b.available ? "available" : "not available"} (${b.runtime}): ${b.reason}`);
}

export async function reportCommand(root: string, check: boolean): Promise<void> {
  const pages = [{ rel: "reliability.md", title: "# Reliability: faults and bad input", body: renderReliability() }];
  const { message } = await runReport({ root, check, pages });
  console.log(message);
  // Sharded runs whose plan has cells without rows: said, not fatal (the docs show what did run; see `merge`).
  const results = join(root, "results");
  const status = checkPlans(loadPlans(results), loadResults(results));
  if (status.some((s) => s.missing.length > 0)) console.error(`incomplete sharded runs in results/:\n${describePlans(status.filter((s) => s.missing.length > 0))}`);
}

export async function dataCommand(root: string, a: { task: string; split: "train" | "valid" | "test"; n: number; seed: number; params: string; out: string }): Promise<void> {
  const task = taskOf(a.task);
  const files = writeSplit(task, task.parseParams(parseJson(a.params, "--params")), a.split, a.n, a.seed, resolve(root, a.out));
  console.log(JSON.stringify(files, null, 2));
}

function parseJson(text: string, flag: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text);
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
    return v;
  } catch (e) {
    throw new UserError(`${flag} must be a JSON object: ${(e as Error).message}`, `e.g. ${flag} '{"d_model": 64}'`);
  }
}

export function newModelCommand(root: string, a: { name: string; title?: string }): void {
  const dir = scaffoldModel(join(root, "packages"), a.name, a.title);
  console.log(`created ${dir}: model.py (a working example mixer to replace), test_model.py, src/index.ts (manifest, checked against model.py by the runner tests)
next:
  pnpm install                                  # link the new package into the workspace
  pnpm --filter @ssmbench/model-${a.name} test   # the contract checks pass on the example mixer
  edit model.py (see its docstring and docs/adding-a-model.md), then
  pnpm train --model ${a.name} --task mqar && pnpm bench --model ${a.name}`);
}
