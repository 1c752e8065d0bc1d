// The command line end to end, as a user runs it: `pnpm bench` on the committed checkpoint, `pnpm list` and
// `pnpm report --check`. Bad input and faults are in reliability.test.ts.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseResultsCsv as parseCsv } from "@ssmbench/report";
import { root, ssmbench, tmp } from "./test-cli.ts";

const quick = ["bench", "--model", "mamba-mqar", "--quick", "--examples", "40", "--seq-len", "256"];

describe("pnpm bench --quick", () => {
  it("writes ok rows for accuracy and speed on cpu and wasm, and prints a table", () => {
    const out = tmp();
    const r = ssmbench([...quick, "--out", out, "--run-id", "t1"]);
    expect(r.code, r.err).toBe(0);
    const rows = parseCsv(readFileSync(join(out, "t1.csv"), "utf8"), "t1.csv");
    for (const ep of ["cpu", "wasm"]) {
      const metrics = rows.filter((x) => x.ep === ep && x.status === "ok").map((x) => x.metric);
      expect(metrics).toEqual(expect.arrayContaining(["accuracy", "prefill_tokens_per_s", "decode_ms_per_token", "decode_ms_per_token_p90", "state_bytes", "peak_rss_mb"]));
    }
    const acc = rows.find((x) => x.metric === "accuracy" && x.ep === "cpu")!;
    expect(acc.split).toBe("test@128/8");
    expect(acc.value).toBeGreaterThan(0.9);
    expect(acc.ci_low!).toBeLessThanOrEqual(acc.value!);
    expect(acc.ci_high!).toBeGreaterThanOrEqual(acc.value!);
    expect(rows.find((x) => x.metric === "accuracy" && x.ep === "wasm")!.value).toBe(acc.value);
    expect(acc.git_sha).not.toBe("");
    expect(r.out).toMatch(/model\s+ep\s+metric/);
  });

  it("--resume skips finished rows", () => {
    const out = tmp();
    expect(ssmbench([...quick, "--ep", "cpu", "--out", out, "--run-id", "r"]).code).toBe(0);
    const before = readFileSync(join(out, "r.csv"), "utf8");
    const again = ssmbench([...quick, "--ep", "cpu", "--out", out, "--run-id", "r", "--resume"]);
    expect(again.code, again.err).toBe(0);
    const after = parseCsv(readFileSync(join(out, "r.csv"), "utf8"), "r.csv");
    const first = parseCsv(before, "r.csv");
    // accuracy and prefill rows are kept as they were, not measured again
    for (const m of ["accuracy", "prefill_tokens_per_s"] as const) {
      expect(after.filter((x) => x.metric === m)).toEqual(first.filter((x) => x.metric === m));
    }
    expect(ssmbench([...quick, "--ep", "cpu", "--out", out, "--run-id", "r"]).code).toBe(2); // exists, no --resume
  });

  it("evaluates the user's own JSONL", () => {
    const dir = tmp();
    const data = join(dir, "mine.jsonl");
    writeFileSync(data, [JSON.stringify({ input_ids: [5, 4100, 9, 4200, 5], targets: [-100, -100, -100, -100, 4100] }), ""].join("\n"));
    const r = ssmbench(["bench", "--model", "mamba-mqar", "--ep", "cpu", "--data", data, "--out", dir, "--run-id", "d"]);
    expect(r.code, r.err).toBe(0);
    const rows = parseCsv(readFileSync(join(dir, "d.csv"), "utf8"), "d.csv");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ split: "data:mine.jsonl", n: 1, status: "ok" });
  });
});

it("pnpm list shows families, checkpoints, tasks and EPs", () => {
  const r = ssmbench(["list"]);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/mamba-mqar/);
  expect(r.out).toMatch(/cpu\s+available/);
  expect(existsSync(join(root, "models", "mamba-mqar", "card.json"))).toBe(true);
});

it("docs/ is up to date with results/ and models/ (pnpm report --check)", () => {
  const r = ssmbench(["report", "--check"]);
  expect(r.code, r.out + r.err).toBe(0);
});
