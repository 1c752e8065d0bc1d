// The Slurm recipe for real: a one-node Slurm on localhost (munged, slurmctld, slurmd from Debian's slurm-wlm),
// scripts/slurm/submit.sh submits a small matrix as a job array and the dependent merge job, and the merged
// leaderboard must equal what one process measures on the same matrix. Skipped, with a notice, where Slurm is not
// installed or the test is not root (CI installs it: see .ci/run).
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadResults, mergeLeaderboard, parseResultsCsv } from "@ssmbench/report";
import { comparableRows, localSlurmMissing, startLocalSlurm, type LocalSlurm } from "./local-slurm.ts";
import { root, ssmbench, tmp } from "./test-cli.ts";

const missing = localSlurmMissing();
// .ci/run installs Slurm and sets SSMBENCH_REQUIRE_SLURM=1: there, a missing Slurm is a failure, not a skip.
const required = process.env.SSMBENCH_REQUIRE_SLURM === "1";
if (missing && !required) console.warn(`NOTICE: skipping the local Slurm integration test (slurm.test.ts): ${missing}`);
it.runIf(missing !== undefined && required)("Slurm is installed where SSMBENCH_REQUIRE_SLURM=1", () => {
  expect.fail(`SSMBENCH_REQUIRE_SLURM=1 but ${missing}`);
});

describe.skipIf(missing !== undefined)("a Slurm job array per shard, then a dependent merge job", () => {
  let slurm: LocalSlurm | undefined;
  beforeAll(async () => {
    slurm = await startLocalSlurm();
  }, 60_000);
  afterAll(async () => {
    await slurm?.stop();
  }, 60_000);

  it("the merged shards equal a single-process run of the same matrix", async () => {
    const s = slurm!;
    const bench = ["--model", "transformer-mqar,mamba-mqar", "--ep", "cpu,wasm", "--quick", "--examples", "16", "--seq-len", "64"];
    const results = tmp();
    const logs = tmp();
    // 4 cells (2 checkpoints x 2 EPs) in 3 shards: slices of 2, 1 and 1 cells.
    const sub = spawnSync("bash", [join(root, "scripts/slurm/submit.sh"), "--shards", "3", "--results", results, "--logs", logs, "--no-docs", "--", ...bench], { env: s.env, encoding: "utf8" });
    expect(sub.status, sub.stderr).toBe(0);
    const ids = Object.fromEntries(sub.stdout.trim().split(/\s+/).map((kv) => kv.split("=") as [string, string]));
    expect(ids.run).toBe(`slurm-${ids.array}`);

    // Meanwhile, the same matrix in one process.
    const single = tmp();
    const one = ssmbench(["bench", ...bench, "--out", single, "--run-id", "single"]);
    expect(one.code, one.err).toBe(0);

    await s.waitFor([ids.array!, ids.merge!], 150_000);
    const jobLogs = () => readdirSync(logs).map((f) => `--- ${f}\n${readFileSync(join(logs, f), "utf8")}`).join("\n") + s.logs();
    const states = s.jobStates(ids.array!);
    expect(states.map((j) => j.id), jobLogs()).toEqual([0, 1, 2].map((t) => `${ids.array}_${t}`));
    for (const j of [...states, ...s.jobStates(ids.merge!)]) expect(j, jobLogs()).toMatchObject({ state: "COMPLETED", exitCode: "0:0" });

    expect(readdirSync(results).sort()).toEqual([...[1, 2, 3].map((i) => `${ids.run}-shard${i}of3.csv`), `${ids.run}.plan.json`, "leaderboard.csv"].sort());
    const mergeLog = readFileSync(join(logs, `ssmbench-merge-${ids.merge}.out`), "utf8");
    expect(mergeLog).toMatch(new RegExp(`run ${ids.run}: 4 of 4 cells in 3 shard\\(s\\), complete`));
    const merged = parseResultsCsv(readFileSync(join(results, "leaderboard.csv"), "utf8"), "leaderboard.csv");
    expect(comparableRows(merged)).toEqual(comparableRows(mergeLeaderboard(loadResults(single))));
    expect(merged.filter((r) => r.metric === "accuracy")).toHaveLength(4);
  }, 240_000);
});
