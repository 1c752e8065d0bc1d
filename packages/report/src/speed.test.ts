import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Metric, ResultRow } from "@ssmbench/core";
import { loadCards } from "./cards.ts";
import { renderLeaderboard } from "./leaderboard.ts";
import { reexported, renderSpeedPage, scalingExponent, speedRuns, TORCH_EP } from "./speed.ts";

const basic = fileURLToPath(new URL("../fixtures/basic", import.meta.url));
const cards = loadCards(path.join(basic, "models"));

const base = { git_sha: "abc", host: "vm", cpu: "AMD EPYC", cores: 2, checkpoint_sha256: "", task: "speed", task_version: "-", ci_low: null, ci_high: null, n: 5, status: "ok" as const, note: "" };
function row(run: string, model: string, ep: string, split: "prefill" | "decode" | "generate", seq_len: number, metric: Metric, value: number | null, extra: Partial<ResultRow> = {}): ResultRow {
  const runtime = ep === TORCH_EP ? "pytorch" : ep === "wasm" ? "onnxruntime-web" : "onnxruntime-node";
  return { ...base, run_id: run, timestamp: `2026-01-0${run === "old" ? 1 : 2}T00:00:00Z`, runtime, runtime_version: "1", ep, model, split, seq_len, batch: 1, metric, value, ...extra };
}

/** A run where mamba's prefill time is linear in length and attention's quadratic; PyTorch is slower by set factors. */
function suite(run: string): ResultRow[] {
  const out: ResultRow[] = [];
  for (const L of [1024, 4096, 16384, 65536]) {
    const mambaMs = L / 10; // 10 tokens per ms
    out.push(row(run, "mamba-mqar", "cpu", "prefill", L, "prefill_tokens_per_s", (L * 1000) / mambaMs));
    out.push(row(run, "mamba-mqar", TORCH_EP, "prefill", L, "prefill_tokens_per_s", (L * 1000) / (3 * mambaMs)));
    out.push(row(run, "mamba-mqar", "cpu", "prefill", L, "peak_rss_mb", 300 + L / 1000));
    const attentionMs = (L * L) / 1e5;
    out.push(
      L === 65536
        ? row(run, "transformer-mqar", "cpu", "prefill", L, "prefill_tokens_per_s", null, { status: "oom", n: 0, note: "Failed to allocate memory" })
        : row(run, "transformer-mqar", "cpu", "prefill", L, "prefill_tokens_per_s", (L * 1000) / attentionMs),
    );
  }
  for (const C of [1024, 8192, 65536]) {
    out.push(row(run, "mamba-mqar", "cpu", "decode", C, "decode_ms_per_token", 0.1));
    out.push(row(run, "mamba-mqar", TORCH_EP, "decode", C, "decode_ms_per_token", 0.6));
    out.push(row(run, "mamba-mqar", "cpu", "decode", C, "state_bytes", 38912));
    out.push(row(run, "transformer-mqar", "cpu", "decode", C, "decode_ms_per_token", 0.1 + C / 16384));
    out.push(row(run, "transformer-mqar", "cpu", "decode", C, "state_bytes", C * 2048));
  }
  return out;
}

const lineOf = (md: string, ...starts: string[]) => md.split("\n").find((l) => starts.every((s) => l.includes(s))) ?? "";

describe("scaling exponent", () => {
  it("is the log-log slope: 1 for linear, 2 for quadratic, undefined with fewer than two points", () => {
    expect(scalingExponent([[1000, 5], [4000, 20], [16000, 80]])).toBeCloseTo(1, 10);
    expect(scalingExponent([[1000, 1], [2000, 4], [4000, 16]])).toBeCloseTo(2, 10);
    expect(scalingExponent([[1000, 5], [4000, Number.NaN]])).toBeUndefined();
  });
});

describe("docs/speed.md with runs on different checkpoints", () => {
  // "other": a later run on checkpoints of another task (a card of the fixture re-labelled), beside the MQAR run
  const otherCards = [...cards, ...cards.filter((k) => k.id === "mamba-mqar").map((k) => ({ ...k, id: "mamba-other", task: { ...k.task, id: "induction-heads" } }))];
  const other = suite("new").filter((r) => r.model === "mamba-mqar").map((r) => ({ ...r, run_id: "other", model: "mamba-other", timestamp: "2026-01-03T00:00:00Z" }));
  const page = renderSpeedPage([...suite("old"), ...suite("new"), ...other], otherCards);

  it("shows the latest run of each set of checkpoint tasks, newest first, each with its own charts", () => {
    expect(page.body).toContain("2 runs, newest first");
    const a = page.body.indexOf("## Checkpoints trained on induction-heads, on cpu: run `other`");
    const b = page.body.indexOf("## Checkpoints trained on mqar, on cpu: run `new`");
    expect(a).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThan(a);
    expect(page.body).not.toContain("`old`");
    expect(page.body).toContain("### Targets");
    expect(page.body).toContain("](speed/other-prefill.svg)");
    expect([...page.charts.keys()]).toContain("speed/new-prefill.svg");
    expect([...page.charts.keys()]).toContain("speed/other-decode.svg");
  });
});

describe("docs/speed.md with runs on other execution providers", () => {
  // "browser": a later run on the same checkpoints on wasm only; "newer-cpu": a later cpu run that replaces "new"
  const onWasm = suite("browser").map((r) => (r.ep === TORCH_EP ? r : { ...r, ep: "wasm", runtime: "onnxruntime-web" })).map((r) => ({ ...r, timestamp: "2026-01-03T00:00:00Z" }));
  const newerCpu = suite("newer-cpu").map((r) => ({ ...r, timestamp: "2026-01-04T00:00:00Z" }));

  it("keeps the latest run of each set of EPs on the same checkpoints, so a browser run does not hide the cpu run", () => {
    const runs = (rows: ResultRow[]) => speedRuns(rows, cards).map((r) => [r.run, r.eps.join(",")]);
    expect(runs([...suite("new"), ...onWasm])).toEqual([["browser", "wasm"], ["new", "cpu"]]);
    expect(runs([...suite("new"), ...onWasm, ...newerCpu])).toEqual([["newer-cpu", "cpu"], ["browser", "wasm"]]);
    const body = renderSpeedPage([...suite("new"), ...onWasm], cards).body;
    expect(body).toContain("## Checkpoints trained on mqar, on wasm: run `browser`");
    // the targets (stated for onnxruntime-node cpu) are checked in the cpu run only
    const browser = body.slice(body.indexOf("run `browser`"), body.indexOf("run `new`"));
    expect(browser).toContain("they are checked in the runs with the cpu EP, not in this one");
    expect(browser).not.toContain("| target |");
    // one decode context in a run: no growth column (it would divide a latency by itself)
    const oneContext = renderSpeedPage(suite("short").filter((r) => r.split !== "decode" || r.seq_len === 1024), cards).body;
    expect(oneContext).toContain("| model | runtime | @1,024 |\n");
    expect(oneContext).not.toContain("growth");
  });
});

describe("docs/speed.md", () => {
  const rows = [...suite("old").map((r) => ({ ...r, value: r.value === null ? null : r.value * 7 })), ...suite("new")];
  const page = renderSpeedPage(rows, cards);

  it("shows only the latest speed-suite run, so every ratio divides rows of one run", () => {
    expect(page.body).toContain("Run `new`");
    expect(page.body).not.toContain("`old`");
    expect(lineOf(page.body, "| mamba-mqar | onnxruntime-node cpu |", "10,000")).not.toBe("");
  });

  it("fits the scaling exponent from 4K up and checks the targets against it", () => {
    expect(lineOf(page.body, "| mamba-mqar | onnxruntime-node cpu | 10,000")).toMatch(/\| 1\.00 \|$/);
    expect(lineOf(page.body, "exponent in 0.9 .. 1.15", "mamba-mqar")).toContain("| met |");
    // attention: quadratic over 4K..16K (64K ran out of memory and is shown as such)
    expect(lineOf(page.body, "| transformer-mqar | onnxruntime-node cpu |")).toContain("FAIL (oom)");
    expect(lineOf(page.body, "| transformer-mqar | onnxruntime-node cpu |")).toMatch(/\| 2\.00 \|$/);
  });

  it("quotes onnxruntime against PyTorch eager and each family against attention, with misses by their factor", () => {
    expect(lineOf(page.body, "decode >= 5x faster than PyTorch eager", "mamba-mqar")).toContain("6.00x");
    expect(lineOf(page.body, "decode >= 5x faster than PyTorch eager", "mamba-mqar")).toContain("| met |");
    expect(lineOf(page.body, "prefill @16,384 >= 2x faster", "mamba-mqar")).toContain("3.00x");
    expect(lineOf(page.body, "| mamba-mqar | 3.00x | 3.00x | 3.00x | 3.00x | 6.00x | 6.00x | 6.00x |")).not.toBe("");
    // against attention: prefill at 16K is 16384/10 ms vs 16384^2/1e5 ms; at 64K attention ran out of memory
    const vs = lineOf(page.body, "| mamba-mqar | onnxruntime-node cpu | 0.10x");
    expect(vs).toContain("attention OOM");
    expect(lineOf(page.body, "decode @65,536 within 1.2x", "mamba-mqar")).toContain("| met |");
    expect(lineOf(page.body, "decode growth", "transformer-mqar")).toContain("reference");
  });

  it("sets the papers' claims beside ours, citing them", () => {
    expect(page.body).toContain("[Mamba](https://arxiv.org/abs/2312.00752)");
    const mamba = lineOf(page.body, "[Mamba]");
    expect(mamba).toContain("x decode @8,192");
  });

  it("draws four log-log charts with one series per model and runtime, deterministically", () => {
    expect([...page.charts.keys()].sort()).toEqual(["speed/decode.svg", "speed/prefill.svg", "speed/rss.svg", "speed/state.svg"]);
    const prefill = page.charts.get("speed/prefill.svg")!;
    expect(prefill.startsWith("<svg")).toBe(true);
    expect(prefill).toContain(">mamba<");
    expect(prefill).toContain(">mamba (PyTorch)<");
    expect(prefill).toContain(">64K<");
    expect(prefill.match(/<polyline/g)).toHaveLength(3); // mamba cpu, mamba PyTorch, transformer cpu (no PyTorch rows)
    expect(renderSpeedPage(rows, cards).charts).toEqual(page.charts);
  });

  it("keeps the suite's rows off the leaderboard's speed tables (they have their own page)", () => {
    const md = renderLeaderboard({ rows, cards, docsDir: path.join(basic, "docs"), modelsDir: path.join(basic, "models") });
    expect(md).not.toContain("10,000");
  });

  it("names checkpoints re-exported since the run (the rows' sha256 is not the card's prefill.onnx)", () => {
    const sha = cards.find((k) => k.id === "mamba-mqar")!.files.find((f) => f.path === "prefill.onnx")!.sha256;
    const fresh = suite("new").map((r) => (r.model === "mamba-mqar" ? { ...r, checkpoint_sha256: r.ep === TORCH_EP ? "f".repeat(64) : sha } : r));
    expect(reexported(fresh, cards)).toEqual([]); // PyTorch rows hash weights.safetensors, not the graph
    const staleRows = fresh.map((r) => (r.model === "mamba-mqar" && r.ep === "cpu" ? { ...r, checkpoint_sha256: "0".repeat(64) } : r));
    expect(reexported(staleRows, cards)).toEqual(["mamba-mqar"]);
    expect(renderSpeedPage(staleRows, cards).body).toContain("Re-exported since this run: `mamba-mqar`");
    expect(renderSpeedPage(fresh, cards).body).not.toContain("Re-exported since this run");
  });

  it("puts Chromium's rows beside the Node EPs, naming the browser once, with their versions and what their RSS is", () => {
    // chromium-wasm rows as the Chromium runtime (packages/web/src/speed-runtime.ts) writes them, in the same run
    const chromium = suite("new")
      .filter((r) => r.ep === "cpu" && r.model === "mamba-mqar")
      .map((r) => ({ ...r, ep: "chromium-wasm", runtime: "onnxruntime-web (chromium)", runtime_version: "1.30.0 (Chromium 156.0.8078.129)", value: r.metric === "prefill_tokens_per_s" ? r.value! / 2 : r.value }));
    const body = renderSpeedPage([...suite("new"), ...chromium], cards).body;
    expect(body).toContain("onnxruntime-web (chromium) 1.30.0 (Chromium 156.0.8078.129)");
    expect(lineOf(body, "| mamba-mqar | onnxruntime-web (chromium) wasm | 5,000")).toMatch(/\| 1\.00 \|$/);
    expect(lineOf(body, "| mamba-mqar | onnxruntime-node cpu | 10,000")).not.toBe("");
    expect(lineOf(body, "| mamba-mqar | onnxruntime-web (chromium) wasm | 0.100")).not.toBe(""); // decode
    expect(body).toContain("in Chromium, each cell's own browser");
    // the targets stay on onnxruntime-node cpu
    expect(body).toContain("Measured on the cpu execution provider");
    expect(renderSpeedPage(suite("new"), cards).body).not.toContain("Chromium");
  });

  it("shows greedy generation through generate.onnx beside one step per token, with its own target row", () => {
    const note = "generate.onnx called synchronously; 500 greedy calls of 64 tokens each, every one from the 1024-token context";
    const greedy = [1024, 8192, 65536].flatMap((C) => [
      row("new", "mamba-mqar", "cpu", "generate", C, "decode_ms_per_token", 0.05, { note }),
      row("new", "mamba-mqar", "cpu", "generate", C, "decode_ms_per_token_p90", 0.06, { note }),
      row("new", "mamba-mqar", TORCH_EP, "generate", C, "decode_ms_per_token", 0.65, { note }),
      row("new", "transformer-mqar", "cpu", "generate", C, "decode_ms_per_token", 0.05 + C / 32768, { note }),
    ]);
    const page = renderSpeedPage([...suite("new"), ...greedy], cards);
    const body = page.body;
    expect(body).toContain("## Greedy generation");
    expect(body).toContain("![greedy decoding latency against context, log-log](speed/generate.svg)");
    expect(page.charts.get("speed/generate.svg")).toContain(">mamba (PyTorch)<");
    expect(body).toContain("64 tokens per call");
    expect(lineOf(body, "| mamba-mqar | onnxruntime-node cpu | 0.050 (0.060) |")).toMatch(/\| 1\.00x \|$/);
    expect(lineOf(body, "| mamba-mqar | 2.00x | 2.00x | 2.00x |")).not.toBe(""); // 0.1 ms per step over 0.05 per greedy token
    expect(lineOf(body, "greedy decode (generate.onnx) >= 5x", "mamba-mqar")).toContain("13.00x");
    expect(lineOf(body, "greedy decode (generate.onnx) >= 5x", "mamba-mqar")).toContain("| met |");
    expect(lineOf(body, "| mamba-mqar | 3.00x | 3.00x | 3.00x | 3.00x | 6.00x | 6.00x | 6.00x | 13.00x | 13.00x | 13.00x |")).not.toBe("");
    expect(lineOf(body, "[Mamba]")).toContain("x greedy generation @8,192");
    // without generate rows, none of it
    const plain = renderSpeedPage(suite("new"), cards).body;
    expect(plain).not.toContain("Greedy generation");
    expect(plain).not.toContain("greedy decode (generate.onnx)");
  });

  it("says how to make the page when there is no suite run", () => {
    expect(renderSpeedPage([], cards).body).toContain("pnpm bench --suite speed");
  });
});
