// Sharded runs (`pnpm bench --shard i/n`): every shard writes the same plan of the whole matrix beside its CSV,
// results/<run>.plan.json, so that the merge knows which cells were expected and can name the ones that are missing.
import fs from "node:fs";
import path from "node:path";
import { UserError, type ResultRow } from "@ssmbench/core";
import { byFields, cmp } from "./format.ts";

/** One cell of the bench matrix (a checkpoint on an execution provider), the shard that runs it, and its run id. */
export interface PlannedCell {
  model: string;
  ep: string;
  /** 1-based shard number. */
  shard: number;
  run_id: string;
}

export interface ShardPlan {
  /** The run id shared by the shards; each shard writes <run>-shard<i>of<n>.csv. */
  run: string;
  shards: number;
  /** The bench command without --shard / --run-id / --resume, to rerun a missing shard. */
  command: string;
  cells: PlannedCell[];
}

export const PLAN_SUFFIX = ".plan.json";

export const planPath = (dir: string, run: string) => path.join(dir, `${run}${PLAN_SUFFIX}`);

const cellOrder = byFields<PlannedCell>(
  (c) => c.shard,
  (c) => c.model,
  (c) => c.ep,
);

function sameCells(a: readonly PlannedCell[], b: readonly PlannedCell[]): boolean {
  const key = (xs: readonly PlannedCell[]) => JSON.stringify([...xs].sort(cellOrder).map((c) => [c.model, c.ep, c.shard, c.run_id]));
  return key(a) === key(b);
}

/**
 * Writes the plan (atomically: temp file, then rename). Every shard writes the same one; a plan already there
 * with other cells means two different matrices were given one run id, which is refused.
 */
export function writePlan(dir: string, plan: ShardPlan): string {
  const file = planPath(dir, plan.run);
  if (fs.existsSync(file)) {
    const current = readPlan(file);
    if (!sameCells(current.cells, plan.cells) || current.shards !== plan.shards) {
      throw new UserError(
        `${file} plans a different matrix for run ${plan.run} (${current.cells.length} cells in ${current.shards} shards; this shard computes ${plan.cells.length} in ${plan.shards})`,
        "give every shard of one run the same models, EPs and shard count, or choose another --run-id",
      );
    }
    return file;
  }
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify({ ...plan, cells: [...plan.cells].sort(cellOrder) }, null, 2)}\n`);
  fs.renameSync(tmp, file);
  return file;
}

const isString = (x: unknown): x is string => typeof x === "string" && x.length > 0;
const isShard = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 1;

/** Reads and checks one plan file; a UserError names the file and the first problem. */
export function readPlan(file: string): ShardPlan {
  const fail = (why: string) => new UserError(`${file}: not a shard plan (${why})`, "plans are written by pnpm bench --shard; remove the file or rerun a shard to rewrite it");
  let raw: any;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (typeof raw !== "object" || raw === null) throw fail("not an object");
  if (!isString(raw.run)) throw fail("run must be a run id");
  if (!isShard(raw.shards)) throw fail("shards must be a positive integer");
  if (typeof raw.command !== "string") throw fail("command must be a string");
  if (!Array.isArray(raw.cells)) throw fail("cells must be a list");
  raw.cells.forEach((c: any, i: number) => {
    if (!isString(c?.model) || !isString(c?.ep) || !isString(c?.run_id) || !isShard(c?.shard) || c.shard > raw.shards) throw fail(`cells[${i}] must have model, ep, run_id and a shard from 1 to ${raw.shards}`);
  });
  return { run: raw.run, shards: raw.shards, command: raw.command, cells: raw.cells.map((c: PlannedCell) => ({ model: c.model, ep: c.ep, shard: c.shard, run_id: c.run_id })) };
}

/** Every plan in `dir`, by run id. No directory: none. */
export function loadPlans(dir: string): ShardPlan[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(PLAN_SUFFIX))
    .sort(cmp)
    .map((f) => readPlan(path.join(dir, f)));
}

export interface PlanStatus {
  plan: ShardPlan;
  /** Planned cells without a single result row from their shard. */
  missing: PlannedCell[];
  /** Shards (1-based) none of whose cells has a row: most likely never ran or died at the start. */
  absentShards: number[];
}

/** For each plan, the cells that have no row of their shard's run id in `rows`. */
export function checkPlans(plans: readonly ShardPlan[], rows: readonly ResultRow[]): PlanStatus[] {
  const seen = new Set(rows.map((r) => JSON.stringify([r.run_id, r.model, r.ep])));
  return plans.map((plan) => {
    const missing = plan.cells.filter((c) => !seen.has(JSON.stringify([c.run_id, c.model, c.ep]))).sort(cellOrder);
    const absentShards = Array.from({ length: plan.shards }, (_, i) => i + 1).filter((s) => {
      const cells = plan.cells.filter((c) => c.shard === s);
      return cells.length > 0 && cells.every((c) => missing.includes(c));
    });
    return { plan, missing, absentShards };
  });
}

/** A few lines per plan: complete, or which cells are missing and the command that reruns each missing shard. */
export function describePlans(status: readonly PlanStatus[]): string {
  return status
    .map(({ plan, missing }) => {
      const head = `run ${plan.run}: ${plan.cells.length - missing.length} of ${plan.cells.length} cells in ${plan.shards} shard(s)`;
      if (missing.length === 0) return `${head}, complete`;
      const lines = [`${head}; missing:`];
      for (const s of [...new Set(missing.map((c) => c.shard))]) {
        const cells = missing.filter((c) => c.shard === s);
        lines.push(`  shard ${s}/${plan.shards} (${cells[0]!.run_id}.csv): ${cells.map((c) => `${c.model} on ${c.ep}`).join(", ")}`);
        lines.push(`    rerun: ${plan.command} --shard ${s}/${plan.shards} --run-id ${plan.run} --resume`);
      }
      return lines.join("\n");
    })
    .join("\n");
}
