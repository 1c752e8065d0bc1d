// The command line end to end, as a user runs it: `pnpm bench` on the committed checkpoint, and each bad input
// refused with exit code 2, a message naming the problem and the way out, and nothing half-written.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findRepoRoot } from "./discover.ts";
import { parseResultsCsv as parseCsv } from "@ssmbench/report";

const root = findRepoRoot(import.meta.dirname);
const tsx = join(root, "node_modules", ".bin", "tsx");

function ssmbench(args: string[]) {
  const r = spawnSync(tsx, ["--conditions=@ssmbench/source", join(root, "packages/cli/src/main.ts"), ...args], { cwd: root, encoding: "utf8", timeout: 230_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const tmp = () => mkdtempSync(join(tmpdir(), "ssmbench-"));
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

describe("bad input: exit 2, a clear message, nothing written", () => {
  const refused = (args: string[], message: RegExp) => {
    const out = tmp();
    const r = ssmbench([...args, "--out", out]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(message);
    expect(readdirSync(out)).toEqual([]);
  };

  it("unknown model lists the known ones", () => refused(["bench", "--model", "mambo"], /unknown model "mambo" \(did you mean "mamba"\?\).*families: .*mamba.*checkpoints: .*mamba-mqar/s));
  it("unknown task lists the known ones", () => refused(["bench", "--model", "mamba", "--task", "nope"], /unknown task "nope".*known tasks: mqar/s));
  it("an EP that is not here lists those that are", () => refused(["bench", "--model", "mamba", "--ep", "cuda"], /cuda.*available here: cpu, wasm/s));
  it("an unknown EP is named", () => refused(["bench", "--model", "mamba", "--ep", "tpu"], /unknown execution provider "tpu"/));
  it("a misspelt EP gets the nearest name", () => refused(["bench", "--model", "mamba", "--ep", "wasn"], /unknown execution provider "wasn" \(did you mean "wasm"\?\)/));
  it("a misspelt task gets the nearest name", () => refused(["bench", "--model", "mamba", "--task", "mqr"], /unknown task "mqr" \(did you mean "mqar"\?\)/));
  it("bad --seq-len", () => refused(["bench", "--model", "mamba", "--seq-len", "10,abc"], /--seq-len/));

  it("a corrupt checkpoint is caught by its sha256 before anything runs", () => {
    const models = tmp();
    cpSync(join(root, "models", "mamba-mqar"), join(models, "mamba-mqar"), { recursive: true });
    const f = join(models, "mamba-mqar", "step.onnx");
    const bytes = readFileSync(f);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    writeFileSync(f, bytes);
    refused(["bench", "--model", "mamba", "--models-dir", models], /mamba-mqar: step\.onnx is corrupt.*re-export/s);
  });

  it("a missing checkpoint file is named", () => {
    const models = tmp();
    cpSync(join(root, "models", "mamba-mqar"), join(models, "mamba-mqar"), { recursive: true });
    writeFileSync(join(models, "mamba-mqar", "card.json"), "{ not json");
    refused(["bench", "--model", "mamba", "--models-dir", models], /card\.json is not valid JSON/);
  });

  it.each([
    ["not json", /mine\.jsonl:2: not valid JSON/],
    [JSON.stringify({ input_ids: [1, 2], targets: [-100] }), /mine\.jsonl:2: "targets" has 1 entries but "input_ids" has 2/],
    [JSON.stringify({ input_ids: [1, 99999], targets: [-100, 3] }), /mine\.jsonl:2: input_ids\[1\] = 99999 is not a token id/],
    [JSON.stringify({ input_ids: [1, 2], targets: [-100, -100] }), /mine\.jsonl:2: no scored position/],
  ])("malformed --data line %#", (line, message) => {
    const dir = tmp();
    const data = join(dir, "mine.jsonl");
    writeFileSync(data, `${JSON.stringify({ input_ids: [1, 2], targets: [-100, 4100] })}\n${line}\n`);
    refused(["bench", "--model", "mamba", "--data", data], message);
  });

  it("a missing --data file is named", () => refused(["bench", "--model", "mamba", "--data", "/nonexistent/x.jsonl"], /cannot read --data \/nonexistent\/x\.jsonl/));
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
