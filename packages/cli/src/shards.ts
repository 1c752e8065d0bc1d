// The command-line side of sharded runs: `pnpm bench --shard i/n` (or a Slurm / Kubernetes array index) and
// `ssmbench merge`, which merges the shards' CSVs and names the planned cells that have no rows.
import fs from "node:fs";
import path from "node:path";
import { UserError } from "@ssmbench/core";
import { LEADERBOARD_CSV, checkPlans, describePlans, formatResultsCsv, loadPlans, loadResults, mergeLeaderboard, planPath } from "@ssmbench/report";
import { baseRunId, rerunCommand, resolveShard, savePlan, selectShard, type Checkpoint, type Shard, type ShardSelection } from "@ssmbench/runner";

/** Thrown when a merge lacks planned cells: exit code 1, after the merged file is written. */
export class IncompleteResults extends Error {
  override name = "IncompleteResults";
}

/**
 * The run id the shards of one array share when none is given: the Slurm array job's id. Elsewhere nothing names
 * the group of shards (each process would make up its own id, and the merge would see n runs of one shard each).
 */
export function defaultShardRun(shard: Shard, env: Record<string, string | undefined> = process.env): string {
  if (env.SLURM_ARRAY_JOB_ID) return `slurm-${env.SLURM_ARRAY_JOB_ID}`;
  throw new UserError(`${shard.source} without --run-id: the shards of one run must share a run id`, `pass the same --run-id to every shard, e.g. --run-id big --shard ${shard.index}/${shard.count} (inside a Slurm array it defaults to slurm-<array job id>)`);
}

/**
 * undefined when the bench is not sharded. Otherwise this shard's cells, its run id (<run>-shard<i>of<n>) and the
 * plan of the whole matrix, which `runShard` writes; a shard with no cells writes it here and has nothing to run.
 */
export async function planShardedBench(o: {
  flag?: string;
  run?: string;
  checkpoints: Checkpoint[];
  eps: string[];
  task?: string;
  outDir: string;
  checkEps: (eps: string[]) => Promise<unknown>;
  argv?: string[];
  log?: (line: string) => void;
}): Promise<ShardSelection | undefined> {
  const shard = resolveShard(o.flag);
  if (!shard) return undefined;
  const log = o.log ?? ((s: string) => console.error(s));
  const sel = selectShard({ shard, run: o.run || defaultShardRun(shard), checkpoints: o.checkpoints, eps: o.eps, task: o.task, command: rerunCommand(o.argv ?? process.argv.slice(2)) });
  await o.checkEps(o.eps);
  const total = sel.plan.cells.length;
  if (sel.cells.length === 0) {
    savePlan(o.outDir, sel);
    log(`shard ${shard.index}/${shard.count} (${shard.source}) has no cells: the matrix has ${total} (checkpoints x EPs), so nothing to run; fewer shards would do`);
  } else {
    log(`shard ${shard.index}/${shard.count} (${shard.source}): ${sel.cells.length} of ${total} cells (${sel.cells.map((c) => `${c.model} on ${c.ep}`).join(", ")}) as run ${sel.runId}; plan in ${planPath(o.outDir, sel.plan.run)}`);
  }
  return sel;
}

/**
 * Runs one shard's bench with the plan written first (so a shard killed later still counts as missing). A shard
 * refused for bad input before any row (a UserError from bench's checks) takes back a plan it created, when no
 * shard of the run has a CSV yet: bad input leaves nothing behind, sharded or not.
 */
export async function runShard<T>(sel: ShardSelection | undefined, outDir: string, run: () => Promise<T>): Promise<T> {
  if (!sel) return run();
  const file = planPath(outDir, sel.plan.run);
  const created = !fs.existsSync(file);
  savePlan(outDir, sel);
  try {
    return await run();
  } catch (e) {
    const anyCsv = sel.plan.cells.some((c) => fs.existsSync(path.join(outDir, `${c.run_id}.csv`)));
    if (created && e instanceof UserError && !anyCsv) fs.rmSync(file, { force: true });
    throw e;
  }
}

/** `ssmbench merge`: every CSV of the folder into its leaderboard.csv, then each sharded run's missing cells. */
export function mergeCommand(root: string, a: { results: string; run?: string }): void {
  const dir = path.resolve(root, a.results);
  if (!fs.existsSync(dir)) throw new UserError(`no results folder ${dir}`, "pass --results <folder holding the shards' CSVs>");
  const rows = loadResults(dir);
  const merged = mergeLeaderboard(rows);
  const out = path.join(dir, LEADERBOARD_CSV);
  fs.writeFileSync(out, formatResultsCsv(merged));
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".csv") && f !== LEADERBOARD_CSV).length;
  console.log(`merged ${rows.length} rows of ${files} result file(s) into ${out}: ${merged.length} rows`);
  let plans = loadPlans(dir);
  if (a.run !== undefined) {
    const run = baseRunId(a.run);
    plans = plans.filter((p) => p.run === run);
    if (plans.length === 0) throw new UserError(`no plan for run ${run} in ${dir}`, `plans are written by pnpm bench --shard; runs with plans here: ${loadPlans(dir).map((p) => p.run).join(", ") || "none"}`);
  }
  const status = checkPlans(plans, rows);
  if (status.length > 0) console.log(describePlans(status));
  const incomplete = status.filter((s) => s.missing.length > 0);
  if (incomplete.length > 0) {
    const cells = incomplete.reduce((n, s) => n + s.missing.length, 0);
    throw new IncompleteResults(`${cells} planned cell(s) have no rows in ${dir} (listed above); rerun their shards with the commands shown, then merge again`);
  }
}

/**
 * --suite speed is not sharded: its tables divide timings only within one run on one machine (each checkpoint by
 * the attention baseline of its run), which shards on different machines would leave empty. Refused, not ignored,
 * so that an array of n tasks does not time the whole suite n times.
 */
export function refuseShardedSpeed(flag: string | undefined): void {
  const shard = resolveShard(flag);
  if (shard && shard.count > 1) {
    throw new UserError(
      `${shard.source}: --suite speed is not sharded (its ratios divide timings of one run on one machine)`,
      "run --suite speed in one job (e.g. sbatch --wrap 'pnpm bench --suite speed --model all'); shard the default suite instead",
    );
  }
}
