// Merging sharded runs: the plan file (written once per run, checked), the cells that have no rows, and a merge
// that does not depend on the order its rows were read in.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { UserError, type ResultRow } from "@ssmbench/core";
import { formatResultsCsv, loadResults, mergeLeaderboard } from "./results.ts";
import { checkPlans, describePlans, loadPlans, planPath, readPlan, writePlan, type ShardPlan } from "./shards.ts";

const fixtures = fileURLToPath(new URL("../fixtures", import.meta.url));
const rows = loadResults(path.join(fixtures, "basic", "results"));
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-shards-"));

const plan: ShardPlan = {
  run: "big",
  shards: 2,
  command: "pnpm bench --model all --ep cpu,wasm",
  cells: [
    { model: "a", ep: "cpu", shard: 1, run_id: "big-shard1of2" },
    { model: "a", ep: "wasm", shard: 1, run_id: "big-shard1of2" },
    { model: "b", ep: "cpu", shard: 2, run_id: "big-shard2of2" },
    { model: "b", ep: "wasm", shard: 2, run_id: "big-shard2of2" },
  ],
};
const row = (run_id: string, model: string, ep: string, extra: Partial<ResultRow> = {}): ResultRow => ({ ...rows[0]!, run_id, model, ep, ...extra });

describe("the plan of a sharded run", () => {
  it("is written once; the same plan again is accepted, another matrix under the same run id refused", () => {
    const dir = tmp();
    const file = writePlan(dir, plan);
    expect(file).toBe(planPath(dir, "big"));
    expect(readPlan(file)).toEqual(plan);
    const reversed = { ...plan, cells: [...plan.cells].reverse() };
    expect(writePlan(dir, reversed)).toBe(file); // same cells in another order: the same plan
    expect(fs.readFileSync(file, "utf8")).toBe(`${JSON.stringify(plan, null, 2)}\n`);
    const other = { ...plan, cells: plan.cells.slice(1) };
    expect(() => writePlan(dir, other)).toThrow(/plans a different matrix for run big \(4 cells in 2 shards; this shard computes 3 in 2\)[\s\S]*choose another --run-id/);
    expect(fs.readdirSync(dir)).toEqual(["big.plan.json"]); // no temp file left behind
  });

  it("a file that is not a plan names itself and the way out", () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "x.plan.json"), "{");
    expect(() => loadPlans(dir)).toThrow(UserError);
    expect(() => loadPlans(dir)).toThrow(/x\.plan\.json: not a shard plan[\s\S]*remove the file or rerun a shard/);
    fs.writeFileSync(path.join(dir, "x.plan.json"), JSON.stringify({ ...plan, cells: [{ ...plan.cells[0], shard: 3 }] }));
    expect(() => loadPlans(dir)).toThrow(/cells\[0\] must have model, ep, run_id and a shard from 1 to 2/);
    expect(loadPlans(path.join(dir, "nowhere"))).toEqual([]);
  });
});

describe("missing cells", () => {
  it("a cell is present when its shard wrote any row for it, failed or not; rows of other runs do not count", () => {
    const have = [row("big-shard1of2", "a", "cpu"), row("big-shard1of2", "a", "wasm", { status: "error", value: null }), row("other", "b", "cpu")];
    const [status] = checkPlans([plan], have);
    expect(status!.missing.map((c) => `${c.model}/${c.ep}`)).toEqual(["b/cpu", "b/wasm"]);
    expect(status!.absentShards).toEqual([2]);
    expect(describePlans([status!])).toBe(
      [
        "run big: 2 of 4 cells in 2 shard(s); missing:",
        "  shard 2/2 (big-shard2of2.csv): b on cpu, b on wasm",
        "    rerun: pnpm bench --model all --ep cpu,wasm --shard 2/2 --run-id big --resume",
      ].join("\n"),
    );
    const all = [...have, row("big-shard2of2", "b", "cpu"), row("big-shard2of2", "b", "wasm")];
    expect(describePlans(checkPlans([plan], all))).toBe("run big: 4 of 4 cells in 2 shard(s), complete");
  });
});

describe("merging is independent of the order rows are read in", () => {
  it("every rotation and the reversal of the rows merge to the same CSV, ties included", () => {
    // Ties on everything the merge ranks by (ok, time, run id): the same measurement twice, with different values.
    const tie = [row("r", "m", "cpu", { value: 0.5 }), row("r", "m", "cpu", { value: 0.75 })];
    const all = [...rows, ...tie, ...rows.map((r) => ({ ...r, run_id: `${r.run_id}-copy` }))];
    const expected = formatResultsCsv(mergeLeaderboard(all));
    for (let k = 0; k < all.length; k++) expect(formatResultsCsv(mergeLeaderboard([...all.slice(k), ...all.slice(0, k)]))).toBe(expected);
    expect(formatResultsCsv(mergeLeaderboard([...all].reverse()))).toBe(expected);
    expect(mergeLeaderboard(all).find((r) => r.model === "m")!.value).toBe(0.75);
  });
});
