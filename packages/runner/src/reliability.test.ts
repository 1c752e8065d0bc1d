// Every case of reliability.ts, provoked for real: corrupted checkpoints, bad flags and files, a model that
// returns NaN, cells over their budget, a killed process, concurrent runs, reruns, and fuzzed parsers.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { ResultRow, UserError } from "@ssmbench/core";
import { formatResultsCsv, mergeLeaderboard, parseResultsCsv } from "@ssmbench/report";
import { mqar, writeSplit } from "@ssmbench/tasks";
import { bench } from "./bench.ts";
import { CellTimeoutError, statusOf } from "./cell.ts";
import { loadCheckpoint, sha256File } from "./discover.ts";
import { processRunning } from "./results.ts";
import { reliabilityCases, renderReliability, type ReliabilityCase } from "./reliability.ts";
import { root, ssmbench, ssmbenchAsync, tmp } from "./test-cli.ts";
import { loadJsonl } from "./userdata.ts";

// Simulated allocation failure (the "out of memory" case): prefills longer than this throw onnxruntime's message.
const oom = vi.hoisted(() => ({ aboveSeq: Number.POSITIVE_INFINITY }));
vi.mock("@ssmbench/runtime", async (importOriginal) => {
  const runtime = await importOriginal<typeof import("@ssmbench/runtime")>();
  return {
    ...runtime,
    openModel: async (...args: Parameters<typeof runtime.openModel>) => {
      const driver = await runtime.openModel(...args);
      const prefill = driver.prefill.bind(driver);
      driver.prefill = (ids, batch, seq) => {
        if (seq > oom.aboveSeq) throw new Error(`[ErrorCode:RuntimeException] Failed to allocate memory for requested buffer of size ${batch * seq * 8192 * 4}`);
        return prefill(ids, batch, seq);
      };
      return driver;
    },
  };
});

const implemented = new Set<string>();
const byId = new Map(reliabilityCases.map((c) => [c.id, c]));
/** Registers the test of one case of the table (by its id). */
function provoke(id: string, fn: () => unknown, timeout?: number) {
  if (!byId.has(id)) throw new Error(`no reliability case "${id}"`);
  implemented.add(id);
  it(id, fn, timeout);
}

const readRows = (file: string) => parseResultsCsv(readFileSync(file, "utf8"), file);

/** A copy of models/mamba-mqar in a fresh models folder, changed by `edit`. */
function mambaCopy(edit: (dir: string) => void = () => {}): string {
  const models = tmp();
  const dir = join(models, "mamba-mqar");
  cpSync(join(root, "models", "mamba-mqar"), dir, { recursive: true });
  edit(dir);
  return models;
}
const editCard = (dir: string, edit: (card: Record<string, any>) => void) => {
  const card = JSON.parse(readFileSync(join(dir, "card.json"), "utf8"));
  edit(card);
  writeFileSync(join(dir, "card.json"), JSON.stringify(card));
};
const dataFile = (badLine: string) => {
  const file = join(tmp(), "mine.jsonl");
  writeFileSync(file, `${JSON.stringify({ input_ids: [1, 2], targets: [-100, 4100] })}\n${badLine}\n`);
  return file;
};

// Placeholders of the table's args, made real for each bad-input case.
const setups: Record<string, (out: string) => string[]> = {
  "checkpoint file missing": () => ["--models-dir", mambaCopy((d) => rmSync(join(d, "step.onnx")))],
  "checkpoint file truncated": () => ["--models-dir", mambaCopy((d) => { const b = readFileSync(join(d, "prefill.onnx")); writeFileSync(join(d, "prefill.onnx"), b.subarray(0, b.length >> 1)); })],
  "checkpoint sha256 mismatch": () => ["--models-dir", mambaCopy((d) => { const f = join(d, "step.onnx"); const b = readFileSync(f); b[b.length >> 1] = b[b.length >> 1]! ^ 0xff; writeFileSync(f, b); })],
  "card not JSON": () => ["--models-dir", mambaCopy((d) => writeFileSync(join(d, "card.json"), "{ not json"))],
  "card fails its schema": () => ["--models-dir", mambaCopy((d) => editCard(d, (c) => (c.vocab = -1)))],
  "ONNX graph does not match the card": () => ["--models-dir", mambaCopy((d) => editCard(d, (c) => (c.states[1].name = "ssm.renamed")))],
  "--data not JSONL": () => ["--data", dataFile("not json")],
  "--data lengths differ": () => ["--data", dataFile(JSON.stringify({ input_ids: [1, 2], targets: [-100] }))],
  "--data out of vocabulary": () => ["--data", dataFile(JSON.stringify({ input_ids: [1, 99999], targets: [-100, 3] }))],
  "--data nothing scored": () => ["--data", dataFile(JSON.stringify({ input_ids: [1, 2], targets: [-100, -100] }))],
  "malformed results row": (out) => {
    const [header, row] = readFileSync(join(root, "results", "leaderboard.csv"), "utf8").split("\n");
    writeFileSync(join(out, "r.csv"), `${header}\n${row}\n${row!.replace(",ok,", ",maybe,")}\n`);
    return [];
  },
};

describe("Bad input: exit 2, a clear message, nothing written", () => {
  for (const c of reliabilityCases.filter((x) => x.group === "Bad input")) {
    provoke(c.id, () => {
      const out = tmp();
      const extra = setups[c.id]?.(out) ?? [];
      const args = c.args!.filter((a, i, all) => !a.startsWith("<") && !(all[i + 1]?.startsWith("<")));
      const before = readdirSync(out).map((f) => [f, readFileSync(join(out, f), "utf8")]);
      const r = ssmbench(["bench", ...args, ...extra, "--out", out]);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(c.message!);
      expect(readdirSync(out).map((f) => [f, readFileSync(join(out, f), "utf8")])).toEqual(before);
    });
  }
});

describe("Faults inside a run: one row per failed cell, the run goes on", () => {
  provoke("NaN logits", () => {
    // NaN weights: the embedding table of both graphs set to NaN (with onnx, in the project's Python), sha256s updated.
    const models = mambaCopy((d) => {
      const script = `import onnx, numpy as np, sys\nfrom onnx import numpy_helper\nfor f in sys.argv[1:]:\n    m = onnx.load(f)\n    for t in m.graph.initializer:\n        a = numpy_helper.to_array(t)\n        if a.ndim == 2 and a.shape[0] == 8192:\n            t.CopyFrom(numpy_helper.from_array(np.full_like(a, np.nan), t.name))\n    onnx.save(m, f)\n`;
      const py = spawnSync("node", [join(root, "scripts/py.mjs"), "-c", script, join(d, "prefill.onnx"), join(d, "step.onnx")], { encoding: "utf8" });
      expect(py.status, py.stderr).toBe(0);
      editCard(d, (c) => c.files.forEach((f: { path: string; sha256: string }) => (f.sha256 = sha256File(join(d, f.path)))));
    });
    const out = tmp();
    const r = ssmbench(["bench", "--model", "mamba-mqar", "--models-dir", models, "--ep", "cpu", "--quick", "--examples", "8", "--seq-len", "64", "--out", out, "--run-id", "n"]);
    expect(r.code, r.err).toBe(0);
    const rows = readRows(join(out, "n.csv"));
    for (const m of ["accuracy", "prefill_tokens_per_s", "decode_ms_per_token"]) {
      expect(rows.find((x) => x.metric === m)).toMatchObject({ status: "nan", value: null, note: expect.stringMatching(/logits of .*\.onnx has \d+ non-finite value/) });
    }
    expect(rows.find((x) => x.metric === "peak_rss_mb")?.status).toBe("ok");
  });

  provoke("cell timeout", () => {
    const out = tmp();
    const r = ssmbench(["bench", "--model", "mamba-mqar", "--ep", "cpu", "--quick", "--examples", "40", "--seq-len", "256", "--cell-timeout", "0.001", "--out", out, "--run-id", "t"]);
    expect(r.code, r.err).toBe(0);
    const rows = readRows(join(out, "t.csv"));
    for (const m of ["accuracy", "prefill_tokens_per_s", "decode_ms_per_token"]) {
      expect(rows.find((x) => x.metric === m)).toMatchObject({ status: "timeout", value: null, note: expect.stringMatching(/exceeded --cell-timeout 0.001 s/) });
    }
    expect(rows.find((x) => x.metric === "peak_rss_mb")?.status).toBe("ok");
  });

  provoke("out of memory", async () => {
    oom.aboveSeq = 1 << 19;
    try {
      const out = tmp();
      const { rows } = await bench({ root, checkpoints: [loadCheckpoint(join(root, "models", "mamba-mqar"))], eps: ["cpu"], seqLens: [64, 1 << 20], quick: true, examples: 8, outDir: out, runId: "o", resume: false, log: () => {} });
      const prefill = rows.filter((x) => x.metric === "prefill_tokens_per_s");
      expect(prefill.map((x) => [x.seq_len, x.status])).toEqual([[64, "ok"], [1 << 20, "oom"]]);
      expect(rows.find((x) => x.metric === "accuracy")?.status).toBe("ok");
      expect(rows.find((x) => x.metric === "decode_ms_per_token")?.status).toBe("ok");
      expect(readRows(join(out, "o.csv"))).toEqual(rows);
    } finally {
      oom.aboveSeq = Number.POSITIVE_INFINITY;
    }
  });

  provoke("throwing cell", () => {
    expect(statusOf(new Error("Failed to allocate memory for requested buffer of size 1"))).toBe("oom");
    expect(statusOf(new RangeError("Array buffer allocation failed"))).toBe("oom");
    expect(statusOf(new CellTimeoutError("over"))).toBe("timeout");
    expect(statusOf(Object.assign(new UserError("x"), { name: "NonFiniteError" }))).toBe("nan");
    expect(statusOf(new Error("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT"))).toBe("error");
  });
});

describe("Interruptions and concurrent runs", () => {
  const quickCpu = ["bench", "--model", "mamba-mqar", "--ep", "cpu", "--quick", "--examples", "100", "--seq-len", "64,128,256"];

  provoke("SIGKILL mid-run then --resume", async () => {
    const out = tmp();
    const child = ssmbenchAsync([...quickCpu, "--out", out, "--run-id", "k"]);
    const file = join(out, "k.csv");
    // Kill as soon as the first rows are on disk (the accuracy row comes first, then the prefill lengths).
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (existsSync(file) && readRows(file).length >= 1) {
          clearInterval(poll);
          process.kill(-child.pid!, "SIGKILL");
          resolve();
        }
      }, 20);
      child.on("exit", () => {
        clearInterval(poll);
        reject(new Error("the run finished before it could be killed"));
      });
    });
    await new Promise((r) => child.on("exit", r));
    // The writer (tsx's child) gets the same SIGKILL; wait until it is gone or a zombie, as after any kill.
    const writer = Number.parseInt(readFileSync(`${file}.lock`, "utf8"), 10);
    for (let i = 0; i < 100 && processRunning(writer); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const partial = readRows(file); // parses: only whole rows
    expect(partial.length).toBeGreaterThanOrEqual(1);
    expect(existsSync(`${file}.lock`)).toBe(true); // left by the killed writer
    const again = ssmbench([...quickCpu, "--out", out, "--resume", "k"]);
    expect(again.code, again.err).toBe(0);
    const full = readRows(file);
    expect(full.slice(0, partial.length)).toEqual(partial); // finished rows kept as they were
    const keys = full.map((x) => `${x.metric}@${x.seq_len}`);
    expect(new Set(keys).size).toBe(keys.length); // nothing measured twice
    expect(keys).toEqual(expect.arrayContaining(["prefill_tokens_per_s@64", "prefill_tokens_per_s@128", "prefill_tokens_per_s@256", "decode_ms_per_token@64"]));
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  provoke("two runs at once", async () => {
    const out = tmp();
    const run = (id: string) =>
      new Promise<number | null>((resolve) => ssmbenchAsync(["bench", "--model", "mamba-mqar", "--ep", "cpu", "--quick", "--examples", "40", "--seq-len", "64", "--out", out, "--run-id", id]).on("exit", resolve));
    expect(await Promise.all([run("a"), run("b")])).toEqual([0, 0]);
    const a = readRows(join(out, "a.csv"));
    const b = readRows(join(out, "b.csv"));
    expect(a.every((x) => x.run_id === "a") && b.every((x) => x.run_id === "b")).toBe(true);
    expect(formatResultsCsv(mergeLeaderboard([...a, ...b]))).toBe(formatResultsCsv(mergeLeaderboard([...b, ...a])));
  });

  provoke("same run id twice at once", () => {
    const out = tmp();
    writeFileSync(join(out, "s.csv.lock"), `${process.pid}\n`); // a live writer: this test process
    const r = ssmbench([...quickCpu, "--out", out, "--run-id", "s"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`run s is being written by process ${process.pid}`));
    expect(existsSync(join(out, "s.csv"))).toBe(false);
  });
});

describe("Reproducibility", () => {
  provoke("byte-identical datasets", () => {
    const params = mqar.parseParams({ vocab: 8192, seq_len: 64, num_kv_pairs: 4 });
    const [a, b, c] = [tmp(), tmp(), tmp()];
    writeSplit(mqar, params, "test", 50, 3, a);
    writeSplit(mqar, params, "test", 50, 3, b);
    writeSplit(mqar, params, "test", 50, 4, c);
    const files = readdirSync(a).filter((f) => f.endsWith(".npy"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f)))).toBe(true);
      expect(readFileSync(join(c, f)).equals(readFileSync(join(a, f)))).toBe(false);
    }
  });

  provoke("identical accuracy rows", async () => {
    const ckpt = loadCheckpoint(join(root, "models", "mamba-mqar"));
    const once = async () => {
      const { rows } = await bench({ root, checkpoints: [ckpt], eps: ["cpu"], seqLens: [64], quick: true, examples: 60, outDir: tmp(), runId: "x", resume: false, log: () => {} });
      return rows.find((r) => r.metric === "accuracy")!;
    };
    const [a, b] = [await once(), await once()];
    const measured = (r: ResultRow) => ({ ...r, timestamp: "" });
    expect(measured(a)).toEqual(measured(b));
    expect(a.git_sha).toMatch(/^[0-9a-f]{40}/);
    expect(a).toMatchObject({ checkpoint_sha256: ckpt.card.files[0]!.sha256, task_version: mqar.version, runtime: "onnxruntime-node", ep: "cpu" });
    expect(a.runtime_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(a.cpu && a.host && a.cores).toBeTruthy();
  });

  provoke("bench --verify", () => {
    // The committed leaderboard's row of mamba-mqar at its trained setting (cpu), re-measured; then a tampered copy.
    const [header, ...lines] = readFileSync(join(root, "results", "leaderboard.csv"), "utf8").trim().split("\n");
    const line = lines.find((l) => l.includes(",mamba-mqar,") && l.includes(",cpu,") && l.includes(",test@128/8,") && l.includes(",accuracy,"))!;
    expect(line).toBeDefined();
    const out = tmp();
    writeFileSync(join(out, "leaderboard.csv"), `${header}\n${line}\n`);
    const ok = ssmbench(["bench", "--model", "mamba-mqar", "--verify", "--out", out]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/all 1 accuracy rows .* reproduced exactly/);
    const row = parseResultsCsv(`${header}\n${line}\n`, "x")[0]!;
    writeFileSync(join(out, "leaderboard.csv"), formatResultsCsv([{ ...row, value: row.value! - 0.01 }]));
    const bad = ssmbench(["bench", "--model", "mamba-mqar", "--verify", "--out", out]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/1 of 1 accuracy rows .* did not reproduce:\s+mamba-mqar cpu test@128\/8: \d+\/\d+ = /);
  });
});

describe("Parsers under fuzzing (fast-check, bounded time)", () => {
  const budget = { numRuns: 300, interruptAfterTimeLimit: 8_000 };
  /** Runs `parse`; any exception other than a UserError fails the property. */
  const onlyUserErrors = (parse: () => unknown) => {
    try {
      parse();
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
    }
  };
  const jsonish = fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v)));

  provoke("fuzzed --data JSONL", () => {
    const file = join(tmp(), "fuzz.jsonl");
    const line = fc.oneof(
      jsonish,
      fc.record({ input_ids: fc.array(fc.oneof(fc.integer({ min: -5, max: 9000 }), fc.double(), fc.string())), targets: fc.array(fc.oneof(fc.integer({ min: -200, max: 9000 }), fc.constant(-100))) }).map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 5 }), (lines) => {
        writeFileSync(file, lines.join("\n"));
        onlyUserErrors(() => {
          const examples = loadJsonl(file, 8192);
          for (const e of examples) expect(e.input_ids.length).toBe(e.targets.length);
        });
      }),
      budget,
    );
  });

  provoke("fuzzed results CSV", () => {
    const [header, row] = readFileSync(join(root, "results", "leaderboard.csv"), "utf8").split("\n");
    const mutatedRow = fc.tuple(fc.nat(40), fc.oneof(fc.string(), fc.constantFrom("", "NaN", "-1", '"', ",", "\n", "ok", "1e309"))).map(([i, v]) => {
      const cells = row!.split(",");
      cells[i % cells.length] = v;
      return cells.join(",");
    });
    fc.assert(
      fc.property(fc.oneof(fc.string(), mutatedRow.map((r) => `${header}\n${r}\n`), fc.string().map((s) => `${header}\n${s}`)), (text) => {
        onlyUserErrors(() => {
          for (const r of parseResultsCsv(text, "fuzz.csv")) expect(ResultRow.safeParse(r).success).toBe(true);
        });
      }),
      budget,
    );
  });

  provoke("fuzzed model card", () => {
    const models = mambaCopy();
    const dir = join(models, "mamba-mqar");
    const card = JSON.parse(readFileSync(join(dir, "card.json"), "utf8")) as Record<string, unknown>;
    const keys = Object.keys(card);
    const mutated = fc.tuple(fc.constantFrom(...keys), fc.jsonValue()).map(([k, v]) => JSON.stringify({ ...card, [k]: v }));
    fc.assert(
      fc.property(fc.oneof(jsonish, mutated), (text) => {
        writeFileSync(join(dir, "card.json"), text);
        onlyUserErrors(() => loadCheckpoint(dir));
      }),
      budget,
    );
  });
});

it("every case of reliability.ts has its test here, and docs/reliability.md renders them all", () => {
  expect([...byId.keys()].filter((id) => !implemented.has(id))).toEqual([]);
  const page = renderReliability();
  for (const c of reliabilityCases as ReliabilityCase[]) expect(page).toContain(c.fault.replace(/\|/g, "\\|"));
});
