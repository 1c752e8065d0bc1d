// The site without a browser: links, the diagram, the result rows of a browser run, greedy generation and the
// golden check on the Node driver (the same functions the pages call).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ResultRow } from "@ssmbench/core";
import { formatResultsCsv, loadCards, loadResults, mergeLeaderboard, parseResultsCsv } from "@ssmbench/report";
import { TEST_SEED, accuracy, findRepoRoot, quickTiming } from "@ssmbench/runner";
import { checkGolden, openModel, type Golden } from "@ssmbench/runtime";
import { tasks } from "@ssmbench/tasks";
import { blockDiagram, parseBlock } from "./diagram.ts";
import { decodeBytes, encodeBytes, generateGreedy, isByteLm, parseTokenIds } from "./lib/generate.ts";
import { accuracyRow, browserName, browserRunId, browserRuntime, speedRows } from "./lib/rows.ts";
import { buildSite, siteHref, speedSection, type BuiltSite } from "./site.ts";
import { cellNumber } from "./app/tables.ts";

const root = findRepoRoot(import.meta.dirname);
const UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36";

describe("links of docs pages in the site", () => {
  it("docs pages become .html, checkpoints move to checkpoints/, URLs and anchors stay", () => {
    expect(siteHref("../leaderboard.md#mamba-mqar", "models/mamba.md")).toBe("../leaderboard.html#mamba-mqar");
    expect(siteHref("../../models/mamba-mqar/card.json", "models/mamba.md")).toBe("../checkpoints/mamba-mqar/card.json");
    expect(siteHref("../models/mamba-mqar/card.json", "leaderboard.md")).toBe("checkpoints/mamba-mqar/card.json");
    expect(siteHref("models/mamba.md#mamba-mqar", "leaderboard.md")).toBe("models/mamba.html#mamba-mqar");
    expect(siteHref("leaderboard.md#x", "awesome.md")).toBe("leaderboard.html#x");
    expect(siteHref("https://arxiv.org/abs/2312.00752", "awesome.md")).toBe("https://arxiv.org/abs/2312.00752");
    expect(siteHref("#mamba-mqar", "models/mamba.md")).toBe("#mamba-mqar");
    expect(siteHref("../README.md", "leaderboard.md")).toBeUndefined();
  });

  it("the speed section is cut from the leaderboard up to the next section", () => {
    const md = "## Accuracy\n\na\n\n## Speed\n\n| x |\n|---|\n| 1 |\n\n## Provenance\n\nz\n";
    expect(speedSection(md)).toBe("## Speed\n\n| x |\n|---|\n| 1 |\n\n");
    expect(speedSection("## Accuracy\n")).toBeUndefined();
  });
});

describe("block diagrams from the family manifests", () => {
  it("parses sub-layers, stages and residuals", () => {
    expect(parseBlock("RMSNorm -> attention (RoPE) -> residual; RMSNorm -> SwiGLU MLP (8/3 d) -> residual")).toEqual([
      { stages: ["RMSNorm", "attention (RoPE)"], residual: true },
      { stages: ["RMSNorm", "SwiGLU MLP (8/3 d)"], residual: true },
    ]);
    expect(parseBlock("RMSNorm -> conv (3) -> out_proj, residual; RMSNorm -> MLP (GELU), residual. h1, h2: filters")).toEqual([
      { stages: ["RMSNorm", "conv (3)", "out_proj"], residual: true },
      { stages: ["RMSNorm", "MLP (GELU)"], residual: true },
    ]);
  });

  it("draws one box per stage, one sum per residual, text escaped", () => {
    const svg = blockDiagram("norm -> y * SiLU(z) -> a<b, residual");
    expect(svg.match(/<rect /g)).toHaveLength(3);
    expect(svg.match(/<circle /g)).toHaveLength(1);
    expect(svg).toContain("a&lt;b");
  });
});

describe("sortable tables", () => {
  it("reads the number a cell shows", () => {
    expect(cellNumber("99.2% (98.9–99.4)")).toBe(99.2);
    expect(cellNumber("12,345")).toBe(12345);
    expect(cellNumber("19.0 KiB (19,456 B)")).toBe(19456);
    expect(cellNumber("0.031")).toBe(0.031);
    expect(cellNumber("NA")).toBeUndefined();
    expect(cellNumber("FAIL (error)")).toBeUndefined();
    expect(cellNumber("—")).toBeUndefined();
    expect(cellNumber("mamba-mqar (card)")).toBeUndefined();
  });
});

describe("result rows of a browser run", () => {
  const card = loadCards(path.join(root, "models")).find((c) => c.id === "transformer-mqar")!;
  const run = { runId: browserRunId(new Date("2026-11-23T10:11:12.345Z"), () => 0.5), gitSha: "abc", ep: "wasm" as const, env: { userAgent: UA, platform: "Linux", cores: 2, ortVersion: "1.30.0", threads: 1 }, card };

  it("names the browser and the runtime from the user agent", () => {
    expect(browserName(UA)).toBe("Chromium 156 (headless)");
    expect(browserRuntime(UA)).toBe("onnxruntime-web (chromium)");
    expect(browserName("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")).toBe("Firefox 140");
    expect(browserRuntime("Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15")).toBe("onnxruntime-web (safari)");
    expect(run.runId).toBe("browser-20261123T101112Z-7fff");
  });

  it("rows follow the ResultRow schema and round-trip through the report's CSV codec", () => {
    const acc = { correct: 383, total: 400, examples: 50, value: 383 / 400, ci: [0.93, 0.97] as [number, number], batch: 32 };
    const timing = { samplesMs: [10, 11, 12], median: 11, low: 10, high: 12, p90: 12, n: 3 };
    const rows = [
      accuracyRow(run, { task: "mqar", version: "1.0.0", setting: "128/8", seqLen: 128, trained: true, examples: 50, seed: TEST_SEED, exactMatch: false }, acc),
      ...speedRows(run, 128, timing, timing, 4096),
    ];
    for (const r of rows) expect(ResultRow.safeParse(r).success).toBe(true);
    expect(rows[0]).toMatchObject({ split: "test@128/8", ep: "chromium-wasm", runtime: "onnxruntime-web (chromium)", value: 0.9575, n: 400, batch: 32, status: "ok", model: "transformer-mqar" });
    expect(rows[0]!.note).toMatch(/^50 test examples, seed 0, trained setting; 383\/400 scored positions; in the browser \(1 wasm thread\): Mozilla/);
    expect(rows.map((r) => r.metric)).toEqual(["accuracy", "prefill_tokens_per_s", "decode_ms_per_token", "decode_ms_per_token_p90", "state_bytes"]);
    expect(rows[1]!.value).toBeCloseTo((128 * 1000) / 11);
    expect(parseResultsCsv(formatResultsCsv(rows), "browser.csv")).toEqual(rows);
  });
});

describe("text demo helpers", () => {
  it("parses token ids against the vocabulary", () => {
    expect(parseTokenIds(" 1 2,3\n4 ", 10)).toEqual([1, 2, 3, 4]);
    expect(() => parseTokenIds("1 x", 10)).toThrow(/not a token id/);
    expect(() => parseTokenIds("1 10", 10)).toThrow(/outside the vocabulary \[0, 10\)/);
  });

  it("byte-level LM checkpoints read text as UTF-8 bytes", () => {
    expect(encodeBytes("hé")).toEqual([104, 195, 169]);
    expect(decodeBytes([104, 195, 169])).toBe("hé");
    expect(isByteLm({ task: { id: "byte-lm" }, vocab: 256 })).toBe(true);
    expect(isByteLm({ task: { id: "mqar" }, vocab: 8192 })).toBe(false);
  });
});

describe("the page's code on the Node driver (wasm, as in the page)", () => {
  const card = loadCards(path.join(root, "models")).find((c) => c.id === "transformer-mqar")!;
  const dir = path.join(root, "models", card.id);

  it("greedy generation: prefill once, then one step per token, equal to argmax of a full prefill", async () => {
    const driver = await openModel(dir, card, { ep: "wasm", threads: 1 });
    try {
      const prompt = [...tasks.mqar.generate(tasks.mqar.parseParams(card.task.params), "test", 1, TEST_SEED)[0]!.input_ids.slice(0, 12)];
      const seen: number[] = [];
      const gen = await generateGreedy(driver, prompt, 6, ({ token }) => void seen.push(token));
      expect(gen.tokens).toHaveLength(6);
      expect(seen).toEqual(gen.tokens);
      // the same continuation from prefill alone: the argmax after prompt + tokens[0..i)
      const all = [...prompt, ...gen.tokens];
      const pre = await driver.prefill(BigInt64Array.from(all.map(BigInt)), 1, all.length);
      const V = card.vocab;
      for (let i = 0; i < gen.tokens.length; i++) {
        const row = pre.logits.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V);
        expect(row.indexOf(Math.max(...row))).toBe(gen.tokens[i]);
      }
    } finally {
      await driver.release();
    }
  });

  it("greedy generation through generate.onnx, chunk by chunk, gives the tokens of one step per token", async () => {
    const ih = loadCards(path.join(root, "models")).find((c) => c.id === "mamba-induction-heads")!;
    const ihDir = path.join(root, "models", ih.id);
    const prompt = [...tasks["induction-heads"].generate(tasks["induction-heads"].parseParams(ih.task.params), "test", 1, TEST_SEED)[0]!.input_ids.slice(0, 24)];
    const stepped = await openModel(ihDir, ih, { ep: "wasm", threads: 1 });
    const byStep = await generateGreedy(stepped, prompt, 21).finally(() => stepped.release());
    const looped = await openModel(ihDir, ih, { ep: "wasm", threads: 1, generate: true });
    const seen: number[] = [];
    const byLoop = await generateGreedy(looped, prompt, 21, ({ token }) => void seen.push(token), undefined, 8).finally(() => looped.release());
    expect(byStep.via).toBe("step.onnx");
    expect(byLoop.via).toBe("generate.onnx");
    expect(byLoop.tokens).toEqual(byStep.tokens); // 1 from prefill, then calls of 8, 8 and 4
    expect(seen).toEqual(byLoop.tokens);
  });

  it("the golden check passes on a committed checkpoint", async () => {
    const driver = await openModel(dir, card, { ep: "wasm", threads: 1 });
    try {
      const golden = JSON.parse(fs.readFileSync(path.join(dir, "golden.json"), "utf8")) as Golden;
      const g = await checkGolden(driver, golden);
      expect(g).toMatchObject({ ok: true, argmaxMismatches: 0 });
      expect(g.prefillVsGolden).toBeLessThan(1e-4);
    } finally {
      await driver.release();
    }
  });
});

describe("the built site", () => {
  let out: string;
  let site: BuiltSite;
  beforeAll(async () => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-site-"));
    site = await buildSite({ root, outDir: out, minify: false });
  });
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it("has every page, the data, the checkpoints and onnxruntime-web's own files", () => {
    for (const p of ["index.html", "leaderboard.html", "speed.html", "awesome.html", "run.html", "generate.html", "models/mamba.html"]) {
      expect(site.pages, p).toContain(p);
      expect(fs.existsSync(path.join(out, p)), p).toBe(true);
    }
    for (const f of ["ort/ort.min.mjs", "ort/ort-wasm-simd-threaded.jsep.wasm", "assets/run.js", "assets/generate.js", "assets/tables.js", "data/site.json", "data/leaderboard.csv", "checkpoints/mamba-mqar/prefill.onnx", "checkpoints/mamba-mqar/golden.json"]) {
      expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    }
    expect(site.data.testSeed).toBe(TEST_SEED);
    expect(site.data.checkpoints.map((c) => c.card.id)).toContain("transformer-mqar");
    // the merged rows, byte for byte as the report writes results/leaderboard.csv
    expect(fs.readFileSync(path.join(out, "data/leaderboard.csv"), "utf8")).toBe(formatResultsCsv(mergeLeaderboard(loadResults(path.join(root, "results")))));
  });

  it("pages load nothing from another origin (no CDN): scripts, styles and the wasm come from the site", () => {
    for (const p of site.pages) {
      const html = fs.readFileSync(path.join(out, p), "utf8");
      for (const m of html.matchAll(/<(?:script|link)[^>]*(?:src|href)="([^"]+)"/g)) expect(m[1], `${p}: ${m[0]}`).not.toMatch(/^(https?:)?\/\//);
    }
    const bundles = fs.readdirSync(path.join(out, "assets")).filter((f) => f.endsWith(".js"));
    for (const b of bundles) expect(fs.readFileSync(path.join(out, "assets", b), "utf8"), b).not.toMatch(/cdn\.jsdelivr|unpkg\.com/);
  });

  it("every relative link of every page points at a file of the site", () => {
    const broken: string[] = [];
    for (const p of site.pages) {
      const html = fs.readFileSync(path.join(out, p), "utf8");
      for (const m of html.matchAll(/<a [^>]*href="([^"]+)"/g)) {
        const href = m[1]!;
        if (/^[a-z]+:/.test(href) || href.startsWith("#")) continue;
        const file = decodeURI(href.split("#")[0]!);
        if (!fs.existsSync(path.join(out, path.dirname(p), file))) broken.push(`${p} -> ${href}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("family pages carry the block diagram and link to their awesome-list entries, which exist", () => {
    const mamba = fs.readFileSync(path.join(out, "models/mamba.html"), "utf8");
    const awesome = fs.readFileSync(path.join(out, "awesome.html"), "utf8");
    expect(mamba).toContain('class="block-diagram"');
    expect(mamba).toContain("selective scan");
    const anchors = [...mamba.matchAll(/href="\.\.\/awesome\.html#([^"]+)"/g)].map((m) => m[1]!);
    expect(anchors.length).toBeGreaterThan(0);
    for (const a of anchors) expect(awesome).toContain(`id="${a}"`);
    expect(mamba).toContain("https://arxiv.org/abs/2312.00752");
  });
});
