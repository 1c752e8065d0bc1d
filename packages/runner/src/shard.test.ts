// --shard: the split of the matrix (disjoint, complete, stable), the scheduler's environment, bad values, and
// the whole path through the command line: shards, then `ssmbench merge`, equal to one unsharded run.
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UserError } from "@ssmbench/core";
import { loadResults, mergeLeaderboard, parseResultsCsv, readPlan } from "@ssmbench/report";
import type { Checkpoint } from "./discover.ts";
import { comparableRows } from "./local-slurm.ts";
import { baseRunId, matrixCells, parseShard, rerunCommand, resolveShard, selectShard, shardCells, shardFromEnv, shardRunId } from "./shard.ts";
import { ssmbench, tmp } from "./test-cli.ts";

const ckpt = (id: string, task = "mqar") => ({ dir: `/m/${id}`, card: { id, task: { id: task } } }) as unknown as Checkpoint;

describe("the matrix and its shards", () => {
  it("lists cells by checkpoint id then EP, whatever order the flags gave, without duplicates or other tasks", () => {
    const a = matrixCells([ckpt("rwkv-mqar"), ckpt("mamba-mqar"), ckpt("mamba-selective-copying", "selective-copying")], ["wasm", "cpu", "wasm"], "mqar");
    expect(a).toEqual([
      { model: "mamba-mqar", ep: "cpu" },
      { model: "mamba-mqar", ep: "wasm" },
      { model: "rwkv-mqar", ep: "cpu" },
      { model: "rwkv-mqar", ep: "wasm" },
    ]);
    expect(matrixCells([ckpt("mamba-mqar"), ckpt("rwkv-mqar")], ["cpu", "wasm"], "mqar")).toEqual(a);
    expect(matrixCells([ckpt("a"), ckpt("b", "copying")], ["cpu"])).toHaveLength(2);
  });

  it("shards are disjoint, their union in order is the whole list, and their sizes differ by at most one", () => {
    fc.assert(
      fc.property(fc.nat(60), fc.integer({ min: 1, max: 20 }), (total, count) => {
        const cells = Array.from({ length: total }, (_, i) => i);
        const shards = Array.from({ length: count }, (_, i) => shardCells(cells, { index: i + 1, count }));
        expect(shards.flat()).toEqual(cells); // disjoint and complete: each cell exactly once, in order
        const sizes = shards.map((s) => s.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        expect(sizes).toEqual([...sizes].sort((a, b) => b - a)); // longer slices first: empty shards come last
        // stable: computing it again (another process) gives the same slices
        expect(Array.from({ length: count }, (_, i) => shardCells([...cells], { index: i + 1, count }))).toEqual(shards);
      }),
    );
  });

  it("selectShard: this shard's checkpoints, EPs and cells; the plan holds every cell once with its shard's run id", () => {
    const checkpoints = ["a", "b", "c"].map((id) => ckpt(id));
    const sels = [1, 2, 3].map((index) => selectShard({ shard: { index, count: 3, source: "t" }, run: "r", checkpoints, eps: ["cpu", "wasm"], command: "pnpm bench" }));
    expect(sels.map((s) => s.runId)).toEqual(["r-shard1of3", "r-shard2of3", "r-shard3of3"]);
    expect(sels[0]!.cells).toEqual([{ model: "a", ep: "cpu" }, { model: "a", ep: "wasm" }]);
    expect(sels[1]!.checkpoints.map((c) => c.card.id)).toEqual(["b"]);
    for (const s of sels) expect(s.plan).toEqual(sels[0]!.plan); // every shard writes the same plan
    expect(sels[0]!.plan.cells.map((c) => `${c.model}/${c.ep}/${c.shard}/${c.run_id}`)).toEqual([
      "a/cpu/1/r-shard1of3", "a/wasm/1/r-shard1of3", "b/cpu/2/r-shard2of3", "b/wasm/2/r-shard2of3", "c/cpu/3/r-shard3of3", "c/wasm/3/r-shard3of3",
    ]);
    expect(sels[2]!.include("c", "wasm")).toBe(true);
    expect(sels[2]!.include("b", "wasm")).toBe(false);
    // resuming a shard by its own run id keeps one suffix
    expect(selectShard({ shard: { index: 2, count: 3, source: "t" }, run: "r-shard2of3", checkpoints, eps: ["cpu"], command: "" }).runId).toBe("r-shard2of3");
  });

  it("run ids: one suffix per shard, and back to the shared id", () => {
    expect(shardRunId("run", { index: 2, count: 4 })).toBe("run-shard2of4");
    expect(shardRunId("run-shard2of4", { index: 2, count: 4 })).toBe("run-shard2of4");
    expect(baseRunId("run-shard2of4")).toBe("run");
    expect(baseRunId("run")).toBe("run");
  });

  it("the rerun command drops --shard, --run-id and --resume in either form and quotes what needs it", () => {
    expect(rerunCommand(["bench", "--model", "mamba", "--shard", "2/4", "--run-id=x", "--resume", "--ep", "cpu", "--data", "my file.jsonl"])).toBe("pnpm bench --model mamba --ep cpu --data 'my file.jsonl'");
    expect(rerunCommand(["bench", "--shard=1/2", "--resume", "x-shard1of2", "--quick"])).toBe("pnpm bench --quick");
  });
});

describe("--shard i/n", () => {
  it("parses i/n, 1-based", () => {
    expect(parseShard("2/4")).toMatchObject({ index: 2, count: 4 });
    expect(parseShard(" 1 / 1 ")).toMatchObject({ index: 1, count: 1 });
  });

  it.each([
    ["3/2", /--shard 3\/2: shard 3 is not between 1 and 2/, /--shard 1\/2 to --shard 2\/2, or raise n/],
    ["0/4", /shard 0 is not between 1 and 4/, /numbered from 1: --shard 1\/4 to --shard 4\/4/],
    ["1/0", /at least one shard/, /i from 1 to n/],
    ["2", /--shard 2: expected i\/n/, /e\.g\. --shard 2\/4/],
    ["a/b", /expected i\/n/, /--shard i\/n/],
    ["-1/4", /expected i\/n/, /--shard i\/n/],
  ])("refuses %s with the problem and the fix", (text, message, hint) => {
    const err = (() => { try { parseShard(text); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(message);
    expect((err as UserError).hint).toMatch(hint);
  });

  it("is refused by the command line with exit code 2 before anything is written", () => {
    const out = tmp();
    const r = ssmbench(["bench", "--model", "mamba-mqar", "--ep", "cpu", "--shard", "3/2", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--shard 3\/2: shard 3 is not between 1 and 2/);
    expect(readdirSync(out)).toEqual([]);
  });

  it("a shard refused for bad input leaves no plan behind; a shard with no cells writes the plan and exits 0", () => {
    const out = tmp();
    const bad = ssmbench(["bench", "--model", "mamba-mqar", "--ep", "cpu", "--seq-len", "2000000", "--shard", "1/2", "--run-id", "b", "--out", out]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--seq-len 2000000 is above mamba-mqar's limit/);
    expect(readdirSync(out)).toEqual([]);
    const empty = ssmbench(["bench", "--model", "mamba-mqar", "--ep", "cpu", "--shard", "2/2", "--run-id", "e", "--out", out]);
    expect(empty.code, empty.err).toBe(0);
    expect(empty.err).toMatch(/shard 2\/2 \(--shard 2\/2\) has no cells: the matrix has 1 .*fewer shards would do/);
    expect(readdirSync(out)).toEqual(["e.plan.json"]);
    expect(readPlan(join(out, "e.plan.json")).cells).toEqual([{ model: "mamba-mqar", ep: "cpu", shard: 1, run_id: "e-shard1of2" }]);
  });

  it("needs a shared --run-id outside a Slurm array (each shard would make up its own)", () => {
    const out = tmp();
    const r = ssmbench(["bench", "--model", "mamba-mqar", "--ep", "cpu", "--shard", "1/2", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--shard 1\/2 without --run-id: the shards of one run must share a run id\n.*pass the same --run-id to every shard/);
    expect(readdirSync(out)).toEqual([]);
  });

  it("is refused with --suite speed (its ratios need one run on one machine), also from a Slurm array", () => {
    const r = ssmbench(["bench", "--suite", "speed", "--model", "mamba-mqar", "--out", tmp()], { SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_COUNT: "2" });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/SLURM_ARRAY_TASK_ID=0 \(array 0-1\): --suite speed is not sharded[\s\S]*run --suite speed in one job/);
  });
});

describe("the shard from the scheduler's environment", () => {
  const slurm = (id: number, min: number, max: number, extra: Record<string, string> = {}) => ({
    SLURM_ARRAY_JOB_ID: "77", SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_COUNT: String(max - min + 1), SLURM_ARRAY_TASK_MIN: String(min), SLURM_ARRAY_TASK_MAX: String(max), ...extra,
  });

  it("Slurm arrays from 0 or from 1 both number shards 1..n", () => {
    expect([0, 1, 2, 3].map((id) => shardFromEnv(slurm(id, 0, 3)))).toMatchObject([1, 2, 3, 4].map((index) => ({ index, count: 4 })));
    expect(shardFromEnv(slurm(4, 1, 4))).toMatchObject({ index: 4, count: 4, source: "SLURM_ARRAY_TASK_ID=4 (array 1-4)" });
  });

  it("Kubernetes indexed Jobs: JOB_COMPLETION_INDEX from 0 with SSMBENCH_SHARD_COUNT", () => {
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: "0", SSMBENCH_SHARD_COUNT: "3" })).toMatchObject({ index: 1, count: 3 });
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: "0" })).toThrow(/SSMBENCH_SHARD_COUNT is not[\s\S]*set env SSMBENCH_SHARD_COUNT to its completions/);
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: "3", SSMBENCH_SHARD_COUNT: "3" })).toThrow(/shard 4 is not between 1 and 3/);
  });

  it("refuses arrays that are not one task per shard, and values that are not numbers", () => {
    expect(() => shardFromEnv(slurm(4, 0, 6, { SLURM_ARRAY_TASK_COUNT: "4", SLURM_ARRAY_TASK_STEP: "2" }))).toThrow(/not a contiguous range[\s\S]*--array=0-<n-1>/);
    expect(() => shardFromEnv(slurm(5, 0, 5, { SLURM_ARRAY_TASK_COUNT: "2" }))).toThrow(/not a contiguous range/);
    expect(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: "x", SLURM_ARRAY_TASK_COUNT: "2" })).toThrow(/SLURM_ARRAY_TASK_ID="x" is not a non-negative integer/);
    expect(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: "1" })).toThrow(/SLURM_ARRAY_TASK_COUNT is not[\s\S]*--shard i\/n/);
  });

  it("no scheduler: not sharded; the flag wins over the environment", () => {
    expect(shardFromEnv({})).toBeUndefined();
    expect(resolveShard(undefined, {})).toBeUndefined();
    expect(resolveShard("1/1", slurm(2, 0, 3))).toMatchObject({ index: 1, count: 1, source: "--shard 1/1" });
    expect(resolveShard(undefined, slurm(2, 0, 3))).toMatchObject({ index: 3, count: 4 });
  });
});

describe("sharded bench through the command line", () => {
  const args = ["bench", "--model", "transformer-mqar,mamba-mqar", "--ep", "cpu", "--quick", "--examples", "16", "--seq-len", "64"];

  it("two shards (one from --shard, one from a Slurm array index) merge into what one run measures; a missing shard is named", () => {
    const single = tmp();
    const shards = tmp();
    const one = ssmbench([...args, "--out", single, "--run-id", "single"]);
    expect(one.code, one.err).toBe(0);
    const s1 = ssmbench([...args, "--out", shards, "--run-id", "sh", "--shard", "1/2"]);
    expect(s1.code, s1.err).toBe(0);
    expect(s1.err).toMatch(/shard 1\/2 \(--shard 1\/2\): 1 of 2 cells \(mamba-mqar on cpu\) as run sh-shard1of2/);
    // the second shard as a Slurm array task would run it: no flag, the index from the environment
    const env = { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2", SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_MAX: "1" };
    const s2 = ssmbench([...args, "--out", shards, "--run-id", "sh"], env);
    expect(s2.code, s2.err).toBe(0);
    expect(s2.err).toMatch(/shard 2\/2 \(SLURM_ARRAY_TASK_ID=1 \(array 0-1\)\): 1 of 2 cells \(transformer-mqar on cpu\)/);
    expect(readdirSync(shards).sort()).toEqual(["sh-shard1of2.csv", "sh-shard2of2.csv", "sh.plan.json"]);
    expect(readPlan(join(shards, "sh.plan.json")).command).toBe("pnpm bench --model transformer-mqar,mamba-mqar --ep cpu --quick --examples 16 --seq-len 64 --out " + shards);

    const merge = ssmbench(["merge", "--results", shards]);
    expect(merge.code, merge.err).toBe(0);
    expect(merge.out).toMatch(/run sh: 2 of 2 cells in 2 shard\(s\), complete/);
    const merged = parseResultsCsv(readFileSync(join(shards, "leaderboard.csv"), "utf8"), "leaderboard.csv");
    expect(comparableRows(merged)).toEqual(comparableRows(mergeLeaderboard(loadResults(single))));
    expect(new Set(merged.map((r) => r.run_id))).toEqual(new Set(["sh-shard1of2", "sh-shard2of2"]));

    rmSync(join(shards, "sh-shard2of2.csv"));
    const partial = ssmbench(["merge", "--results", shards]);
    expect(partial.code).toBe(1);
    expect(partial.out).toMatch(/run sh: 1 of 2 cells in 2 shard\(s\); missing:\n {2}shard 2\/2 \(sh-shard2of2\.csv\): transformer-mqar on cpu\n {4}rerun: pnpm bench .* --shard 2\/2 --run-id sh --resume/);
    expect(partial.err).toMatch(/incomplete: 1 planned cell\(s\) have no rows/);
  });
});
