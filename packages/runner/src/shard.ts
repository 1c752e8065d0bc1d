// `pnpm bench --shard i/n`: a deterministic slice of the bench matrix. The matrix is a list of cells (a checkpoint
// on an execution provider) in a stable order (checkpoint id, then EP name, by code unit, whatever order the flags
// gave them in); shard i of n takes the i-th of n consecutive, near-equal runs of that list. So the shards never
// overlap, their union is the whole matrix, and every process computes the same split. Without the flag the
// shard comes from the scheduler: a Slurm array task, or a Kubernetes indexed Job.
import { UserError } from "@ssmbench/core";
import { writePlan, type PlannedCell, type ShardPlan } from "@ssmbench/report";
import type { Checkpoint } from "./discover.ts";

export interface Shard {
  /** 1-based, as in vitest's and Playwright's --shard. */
  index: number;
  count: number;
  /** Where it came from, for messages: "--shard 2/4", "SLURM_ARRAY_TASK_ID=1". */
  source: string;
}

export interface Cell {
  model: string;
  ep: string;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every cell of the matrix in the stable order. Checkpoints trained on another task than `task` are not cells. */
export function matrixCells(checkpoints: readonly Checkpoint[], eps: readonly string[], task?: string): Cell[] {
  const models = [...new Set(checkpoints.filter((c) => !task || c.card.task.id === task).map((c) => c.card.id))].sort(cmp);
  const names = [...new Set(eps)].sort(cmp);
  return models.flatMap((model) => names.map((ep) => ({ model, ep })));
}

/**
 * The cells of one shard: the i-th of n consecutive runs whose lengths differ by at most one, the longer ones
 * first (so with more shards than cells, the empty shards are the last ones).
 */
export function shardCells<T>(cells: readonly T[], shard: Pick<Shard, "index" | "count">): T[] {
  const base = Math.floor(cells.length / shard.count);
  const longer = cells.length % shard.count; // the first `longer` shards hold one cell more
  const i = shard.index - 1;
  const from = i * base + Math.min(i, longer);
  return cells.slice(from, from + base + (i < longer ? 1 : 0));
}

const USAGE = "--shard i/n runs the i-th of n slices of the matrix, i from 1 to n (e.g. --shard 2/4)";

/** "2/4" -> shard 2 of 4. Anything else is a UserError naming the value and the fix. */
export function parseShard(text: string, source = `--shard ${text}`): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UserError(`${source}: expected i/n (shard i of n)`, USAGE);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new UserError(`${source}: there must be at least one shard`, USAGE);
  if (index < 1 || index > count) {
    const hint = index === 0 ? `shards are numbered from 1: --shard 1/${count} to --shard ${count}/${count}` : `shard ${index} of ${count} does not exist: use --shard 1/${count} to --shard ${count}/${count}, or raise n`;
    throw new UserError(`${source}: shard ${index} is not between 1 and ${count}`, hint);
  }
  return { index, count, source };
}

type Env = Record<string, string | undefined>;

function envInt(env: Env, name: string, hint: string): number {
  const text = env[name]!;
  if (!/^\s*\d+\s*$/.test(text)) throw new UserError(`${name}=${JSON.stringify(text)} is not a non-negative integer`, hint);
  return Number(text);
}

/**
 * The shard a scheduler gave this process, if any: a Slurm job array (SLURM_ARRAY_TASK_ID, _COUNT, _MIN, _MAX,
 * one task per shard, any contiguous range such as --array=0-3 or 1-4), or a Kubernetes indexed Job
 * (JOB_COMPLETION_INDEX from 0, with SSMBENCH_SHARD_COUNT set to the Job's completions, which Kubernetes does not export).
 */
export function shardFromEnv(env: Env = process.env): Shard | undefined {
  if (env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_ID !== "") {
    const hint = "submit one array task per shard over a contiguous range (sbatch --array=0-<n-1>), or pass --shard i/n";
    const id = envInt(env, "SLURM_ARRAY_TASK_ID", hint);
    if (!env.SLURM_ARRAY_TASK_COUNT) throw new UserError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (Slurm older than 17.11?)", "pass --shard i/n explicitly");
    const count = envInt(env, "SLURM_ARRAY_TASK_COUNT", hint);
    const min = env.SLURM_ARRAY_TASK_MIN ? envInt(env, "SLURM_ARRAY_TASK_MIN", hint) : 0;
    const max = env.SLURM_ARRAY_TASK_MAX ? envInt(env, "SLURM_ARRAY_TASK_MAX", hint) : min + count - 1;
    const step = env.SLURM_ARRAY_TASK_STEP ? envInt(env, "SLURM_ARRAY_TASK_STEP", hint) : 1;
    if (max - min + 1 !== count || step !== 1) {
      throw new UserError(`the Slurm array is not a contiguous range (tasks ${min}..${max}, step ${step}, ${count} tasks), so array task ${id} cannot name a shard`, hint);
    }
    return parseShard(`${id - min + 1}/${count}`, `SLURM_ARRAY_TASK_ID=${id} (array ${min}-${max})`);
  }
  if (env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_INDEX !== "") {
    const hint = "in the indexed Job's spec set env SSMBENCH_SHARD_COUNT to its completions, or pass --shard i/n";
    const index = envInt(env, "JOB_COMPLETION_INDEX", hint);
    if (!env.SSMBENCH_SHARD_COUNT) throw new UserError(`JOB_COMPLETION_INDEX=${index} is set but SSMBENCH_SHARD_COUNT is not (Kubernetes does not export the number of completions)`, hint);
    const count = envInt(env, "SSMBENCH_SHARD_COUNT", hint);
    return parseShard(`${index + 1}/${count}`, `JOB_COMPLETION_INDEX=${index} of SSMBENCH_SHARD_COUNT=${count}`);
  }
  return undefined;
}

/** The flag wins over the environment; `--shard 1/1` runs the whole matrix even inside an array task. */
export function resolveShard(flag: string | undefined, env: Env = process.env): Shard | undefined {
  if (flag !== undefined) return parseShard(flag);
  return shardFromEnv(env);
}

/** Shards of one run land side by side: <run>-shard<i>of<n>.csv. A run id that already ends so is kept. */
export function shardRunId(run: string, shard: Pick<Shard, "index" | "count">): string {
  const suffix = `-shard${shard.index}of${shard.count}`;
  return run.endsWith(suffix) ? run : `${run}${suffix}`;
}

/** The run id the shards share, from a shard's own run id. */
export const baseRunId = (runId: string) => runId.replace(/-shard\d+of\d+$/, "");

export interface ShardSelection {
  shard: Shard;
  runId: string;
  /** The checkpoints and EPs this shard touches (what bench checks before it starts). */
  checkpoints: Checkpoint[];
  eps: string[];
  /** Whether a (checkpoint, EP) pair of those is one of this shard's cells. */
  include: (model: string, ep: string) => boolean;
  cells: Cell[];
  plan: ShardPlan;
}

/** Picks this shard's cells and makes the plan of the whole matrix that the merge checks against. */
export function selectShard(o: { shard: Shard; run: string; checkpoints: readonly Checkpoint[]; eps: readonly string[]; task?: string; command: string }): ShardSelection {
  const { shard } = o;
  const run = baseRunId(o.run);
  const all = matrixCells(o.checkpoints, o.eps, o.task);
  const planned: PlannedCell[] = [];
  for (let s = 1; s <= shard.count; s++) {
    for (const c of shardCells(all, { index: s, count: shard.count })) planned.push({ ...c, shard: s, run_id: shardRunId(run, { index: s, count: shard.count }) });
  }
  const cells = shardCells(all, shard);
  const keys = new Set(cells.map((c) => `${c.model}\u0000${c.ep}`));
  const models = new Set(cells.map((c) => c.model));
  return {
    shard,
    runId: shardRunId(run, shard),
    checkpoints: o.checkpoints.filter((c) => models.has(c.card.id)),
    eps: [...new Set(cells.map((c) => c.ep))],
    include: (model, ep) => keys.has(`${model}\u0000${ep}`),
    cells,
    plan: { run, shards: shard.count, command: o.command, cells: planned },
  };
}

/** Writes the plan beside the shard's CSV (every shard writes the same file). */
export function savePlan(outDir: string, selection: ShardSelection): string {
  return writePlan(outDir, selection.plan);
}

/** The bench command line a missing shard is rerun with: argv without --shard, --run-id and --resume. */
export function rerunCommand(argv: readonly string[]): string {
  const drop = new Set(["--shard", "--run-id", "--resume"]);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.split("=")[0]!;
    if (drop.has(name)) {
      // "--shard 2/4" takes the next word; "--shard=2/4" does not; a bare --resume may be followed by a flag.
      if (!a.includes("=") && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--")) i++;
      continue;
    }
    out.push(/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  }
  return ["pnpm", ...out].join(" ");
}
