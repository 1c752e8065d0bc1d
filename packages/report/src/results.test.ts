import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { UserError, resultColumns, type ResultRow } from "@ssmbench/core";
import { formatResultsCsv, loadResults, mergeLeaderboard, parseResultsCsv } from "./results.ts";

const fixtures = fileURLToPath(new URL("../fixtures", import.meta.url));
const rows = loadResults(path.join(fixtures, "basic", "results"));

const pick = (xs: ResultRow[], model: string, split: string) => xs.filter((r) => r.model === model && r.split === split && r.metric === "accuracy");

describe("loadResults", () => {
  it("reads every run CSV, typed", () => {
    expect(rows).toHaveLength(5 + 20);
    const fail = rows.find((r) => r.status === "nan")!;
    expect(fail.value).toBeNull();
    expect(fail.note).toBe("onnxruntime error:\nNaN in logits, step 517");
    expect(rows[0]!.cores).toBe(2);
  });

  it("names the file and line of a bad row (lines, not rows: a quoted note spans two)", () => {
    const bad = path.join(fixtures, "bad", "results");
    expect(() => loadResults(bad)).toThrow(UserError);
    expect(() => loadResults(bad)).toThrow(/2025-03-01-bad\.csv:7: invalid result row: status/);
  });

  it("rejects a header that is not the result columns", () => {
    const csv = `${resultColumns.filter((c) => c !== "note").join(",")},extra\n`;
    expect(() => parseResultsCsv(csv, "x.csv")).toThrow(/x\.csv:1: .*missing note; unexpected extra/);
  });

  it("round-trips through the CSV writer (null, NaN, commas, line breaks)", () => {
    const odd: ResultRow = { ...rows[0]!, value: Number.NaN, ci_low: null, note: 'a, "quoted"\nnote' };
    expect(parseResultsCsv(formatResultsCsv([odd, ...rows]), "t.csv")).toEqual([odd, ...rows]);
  });
});

describe("mergeLeaderboard", () => {
  const merged = mergeLeaderboard(rows);

  it("keeps the latest ok row per key", () => {
    const [m] = pick(merged, "mamba-mqar", "test@128/8");
    expect(pick(merged, "mamba-mqar", "test@128/8")).toHaveLength(1);
    expect(m).toMatchObject({ run_id: "2025-02-01-b", value: 0.992 });
  });

  it("keeps an older ok row over a newer failure", () => {
    expect(pick(merged, "mamba-mqar", "test@1024/64")).toEqual([expect.objectContaining({ status: "ok", value: 0.5 })]);
  });

  it("keeps a failure when nothing ran ok (FAIL), and has no row for what never ran (NA)", () => {
    expect(pick(merged, "transformer-mqar", "test@1024/64")).toEqual([expect.objectContaining({ status: "oom" })]);
    expect(pick(merged, "transformer-mqar", "test@512/32")).toEqual([]);
  });

  it("does not depend on the order rows are read in, and is sorted", () => {
    expect(mergeLeaderboard([...rows].reverse())).toEqual(merged);
    expect(formatResultsCsv(mergeLeaderboard(merged))).toBe(formatResultsCsv(merged));
    const keys = merged.map((r) => `${r.model} ${r.task} ${r.split}`);
    expect(keys).toEqual([...keys].sort());
  });

  it("drops an evaluation of an earlier checkpoint file once the same setting is measured on the current one, whatever its batch", () => {
    const base = pick(rows, "mamba-mqar", "test@128/8").find((r) => r.run_id === "2025-02-01-b")!;
    const reexported = { ...base, batch: base.batch + 1, checkpoint_sha256: "f".repeat(64), timestamp: "2025-03-01T00:00:00.000Z", run_id: "re" };
    expect(pick(mergeLeaderboard([base, reexported]), "mamba-mqar", "test@128/8")).toEqual([reexported]);
    // same file, another batch: both stay
    const sameFile = { ...reexported, checkpoint_sha256: base.checkpoint_sha256 };
    expect(pick(mergeLeaderboard([base, sameFile]), "mamba-mqar", "test@128/8")).toHaveLength(2);
  });

  it("prefers the latest failure among failures", () => {
    const base = pick(rows, "transformer-mqar", "test@1024/64")[0]!;
    const later = { ...base, status: "timeout" as const, timestamp: "2025-03-01T00:00:00.000Z", run_id: "later" };
    expect(mergeLeaderboard([later, base])).toEqual([later]);
  });
});
