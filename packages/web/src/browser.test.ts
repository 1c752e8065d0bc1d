// The site in a real browser: Debian's Chromium (never a downloaded one) driven by playwright-core, headless.
// Skipped with a notice where Chromium is not installed (CI installs it: .ci/run).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { accuracyTables, generateDocs, isSuiteRow, loadCards, loadResults, mergeLeaderboard, parseResultsCsv, showMetric, speedAnchor } from "@ssmbench/report";
import { TEST_SEED, accuracy, findRepoRoot, testSplit } from "@ssmbench/runner";
import { openModel } from "@ssmbench/runtime";
import { tasks, type TaskDef } from "@ssmbench/tasks";
import { findChromium, launchChromium } from "./chromium.ts";
import { generateGreedy } from "./lib/generate.ts";
import { runBenchmark, runTextDemo, takeScreenshots } from "./screenshots.ts";
import { serveSite, type Server } from "./serve.ts";
import { buildSite } from "./site.ts";

const root = findRepoRoot(import.meta.dirname);
const chromiumPath = findChromium();
if (!chromiumPath) {
  console.warn("\n[@ssmbench/web] SKIPPED: the browser tests need Debian's Chromium (apt-get install -y chromium); none was found on PATH.\n");
}

// CI installs Chromium and sets SSMBENCH_REQUIRE_CHROMIUM=1: there a missing browser is a failure, not a skip.
it.runIf(process.env.SSMBENCH_REQUIRE_CHROMIUM === "1")("Chromium is installed where it is required", () => {
  expect(chromiumPath, "SSMBENCH_REQUIRE_CHROMIUM=1 but no chromium on PATH").toBeDefined();
});

/** A small checkpoint and few examples keep the browser run short; its trained setting, as `bench --quick` runs it. */
const CHECKPOINT = "transformer-mqar";
const EXAMPLES = 50;

describe.skipIf(!chromiumPath)("the site in Debian's Chromium (playwright-core, headless)", () => {
  let out: string;
  let server: Server;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-web-"));
    await buildSite({ root, outDir: out });
    server = await serveSite(out);
    browser = await launchChromium(chromiumPath);
    page = await browser.newPage({ acceptDownloads: true });
    page.on("pageerror", (e) => pageErrors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  it("serves the pages cross-origin isolated (wasm threads can start)", async () => {
    await page.goto(new URL("run.html", server.url).href);
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
  });

  it("the leaderboard shows the accuracy of every result row of results/, and NA/FAIL where there is none", async () => {
    const rows = mergeLeaderboard(loadResults(path.join(root, "results")));
    const tables = accuracyTables(rows, loadCards(path.join(root, "models")));
    await page.goto(new URL("leaderboard.html", server.url).href);
    // model anchor -> the texts of its row's cells, read off the rendered page
    const shown = await page.$$eval("main table tr", (trs) =>
      Object.fromEntries(trs.flatMap((tr) => {
        const id = tr.querySelector("a[id]")?.id;
        return id ? [[id, [...(tr as HTMLTableRowElement).cells].map((c) => c.textContent ?? "")]] : [];
      })),
    );
    let checked = 0;
    for (const t of tables) {
      for (const r of t.rows) {
        const cells = shown[r.anchor];
        expect(cells, `row ${r.anchor}`).toBeDefined();
        r.cells.forEach((row, i) => {
          const text = cells![3 + i]!;
          if (!row || row.status === "na") expect(text, `${r.anchor} ${t.columns[i]!.label}`).toBe("NA");
          else if (row.status !== "ok") expect(text).toBe(`FAIL (${row.status})`);
          else {
            // accuracy as "99.2%", bits per byte and perplexity in their own unit
            const value = t.metric === "accuracy" ? `${(row.value! * 100).toFixed(1)}%` : showMetric(t.metric)(row.value!);
            expect(text, `${r.anchor} ${t.columns[i]!.label}`).toContain(value);
            checked++;
          }
        });
      }
    }
    expect(checked).toBeGreaterThan(10);
    // the leaderboard's speed tables: a row for every model and EP with (non-suite) speed rows
    const speed = rows.filter((r) => r.metric === "prefill_tokens_per_s" && r.batch === 1 && !isSuiteRow(r));
    for (const r of speed) expect(await page.locator(`[id="${speedAnchor(r.model, r.ep, 1)}"]`).count(), `${r.model} ${r.ep}`).toBe(1);
    // the speed page: the report's charts (docs/speed/*.svg) load, when the speed suite has rows
    await page.goto(new URL("speed.html", server.url).href);
    const images = await page.$$eval("main img", (imgs) => imgs.map((i) => ({ src: i.getAttribute("src"), ok: (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0 })));
    if (rows.some(isSuiteRow)) expect(images.length).toBeGreaterThan(0);
    for (const i of images) expect(i.ok, i.src ?? "").toBe(true);
  });

  it("tables sort by a click on a header", async () => {
    await page.goto(new URL("leaderboard.html", server.url).href);
    const table = page.locator("main table").first();
    const header = table.locator("thead th").nth(3);
    const values = async () => (await table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => (tr as HTMLTableRowElement).cells[3]?.textContent ?? "")))
      .map((t) => Number.parseFloat(t)).filter((x) => Number.isFinite(x));
    await header.click();
    const up = await values();
    expect(up.length).toBeGreaterThan(2);
    expect(up).toEqual([...up].sort((a, b) => a - b));
    await header.click();
    const down = await values();
    expect(down).toEqual([...down].sort((a, b) => b - a));
    expect(await header.getAttribute("aria-sort")).toBe("descending");
  });

  it("a model page shows the card, the block diagram, parity, results and links to the paper and the awesome list", async () => {
    await page.goto(new URL("models/mamba.html", server.url).href);
    await expect(page.locator("svg.block-diagram").count()).resolves.toBe(1);
    const text = (await page.textContent("main")) ?? "";
    for (const s of ["Configuration", "Export and parity", "Results", "In the awesome list", "selective scan"]) expect(text).toContain(s);
    expect(await page.locator('a[href="https://arxiv.org/abs/2312.00752"]').count()).toBeGreaterThan(0);
    const awesomeLink = page.locator('a[href^="../awesome.html#"]').first();
    const anchor = (await awesomeLink.getAttribute("href"))!.split("#")[1]!;
    await awesomeLink.click();
    await page.waitForURL(/awesome\.html/);
    expect(await page.locator(`[id="${anchor}"]`).count()).toBe(1);
    const card = await page.request.get(new URL(`checkpoints/mamba-mqar/card.json`, server.url).href);
    expect((await card.json()).id).toBe("mamba-mqar");
  });

  it(`the in-browser benchmark of ${CHECKPOINT} (${EXAMPLES} examples) equals the Node run, its logits the golden file, and its CSV joins the report`, async () => {
    const got = await runBenchmark(page, server.url, { checkpoint: CHECKPOINT, examples: EXAMPLES });

    // The Node run of the same examples: same generator, split and seed as bench, same driver and accuracy(), wasm.
    const card = loadCards(path.join(root, "models")).find((c) => c.id === CHECKPOINT)!;
    const task = (tasks as Record<string, TaskDef<any>>)[card.task.id]!;
    const setting = task.settings(task.parseParams(card.task.params))[0]!;
    const examples = task.generate(setting.params, "test", EXAMPLES, TEST_SEED);
    const driver = await openModel(path.join(root, "models", CHECKPOINT), card, { ep: "wasm", threads: 1 });
    const node = await accuracy(driver, card.vocab, examples, undefined, task.scoreExample).finally(() => driver.release());
    expect({ correct: got.correct, total: got.total }).toEqual({ correct: node.correct, total: node.total });
    expect(got.examples).toBe(EXAMPLES);

    // Parity with PyTorch's golden logits (1e-4), and stepping equal to prefill.
    expect(got.goldenPrefill).toBeLessThan(1e-4);
    expect(got.goldenStep).toBeLessThan(got.goldenTolerance);
    expect(got.goldenArgmax).toBe(0);

    // The CSV: ResultRow rows, accepted by the report's parser and generator beside the committed results.
    const rows = parseResultsCsv(got.csv, got.csvName);
    const acc = rows.find((r) => r.metric === "accuracy")!;
    expect(acc).toMatchObject({ model: CHECKPOINT, ep: "chromium-wasm", runtime: "onnxruntime-web (chromium)", split: testSplit(setting.name), value: node.value, n: node.total, status: "ok" });
    expect(acc.note).toMatch(new RegExp(`^${EXAMPLES} test examples, seed ${TEST_SEED}, trained setting; .*in the browser .*HeadlessChrome`));
    expect(rows.map((r) => r.metric)).toEqual(["accuracy", "prefill_tokens_per_s", "decode_ms_per_token", "decode_ms_per_token_p90", "state_bytes"]);
    expect(got.csvName).toBe(`${acc.run_id}.csv`);
    const results = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-results-"));
    try {
      for (const f of fs.readdirSync(path.join(root, "results")).filter((f) => f.endsWith(".csv"))) fs.copyFileSync(path.join(root, "results", f), path.join(results, f));
      fs.writeFileSync(path.join(results, got.csvName), got.csv);
      const docs = generateDocs({ resultsDir: results, modelsDir: path.join(root, "models"), docsDir: path.join(root, "docs") });
      const leaderboard = docs.get(path.join(root, "docs", "leaderboard.md"))!;
      expect(leaderboard).toContain(acc.run_id);
      expect(leaderboard).toContain("onnxruntime-web (chromium)");
    } finally {
      fs.rmSync(results, { recursive: true, force: true });
    }
  });

  it("the text demo generates token by token through step.onnx, as the Node driver does", async () => {
    const card = loadCards(path.join(root, "models")).find((c) => c.id === CHECKPOINT)!;
    const prompt = [...tasks.mqar.generate(tasks.mqar.parseParams(card.task.params), "test", 1, TEST_SEED)[0]!.input_ids.slice(0, 20)];
    const count = 12;
    const got = await runTextDemo(page, server.url, { checkpoint: CHECKPOINT, prompt, count });
    expect(got.tokens).toHaveLength(count);
    expect(got.status).toMatch(/Generated 12 tokens on wasm: .* tokens\/s through step\.onnx/);
    const driver = await openModel(path.join(root, "models", CHECKPOINT), card, { ep: "wasm", threads: 1 });
    const node = await generateGreedy(driver, prompt, count).finally(() => driver.release());
    expect(got.tokens).toEqual(node.tokens);
  });

  it("the text demo runs generate.onnx where the checkpoint has it, with the tokens of the Node driver's steps", async () => {
    const id = "mamba-induction-heads";
    const card = loadCards(path.join(root, "models")).find((c) => c.id === id)!;
    const prompt = [...tasks["induction-heads"].generate(tasks["induction-heads"].parseParams(card.task.params), "test", 1, TEST_SEED)[0]!.input_ids.slice(0, 20)];
    const got = await runTextDemo(page, server.url, { checkpoint: id, prompt, count: 40 });
    expect(got.status).toMatch(/Generated 40 tokens on wasm: .* tokens\/s through generate\.onnx \(.*16 per call/);
    const driver = await openModel(path.join(root, "models", id), card, { ep: "wasm", threads: 1 });
    const node = await generateGreedy(driver, prompt, 40).finally(() => driver.release());
    expect(got.tokens).toEqual(node.tokens);
  });

  it("screenshots of the leaderboard, a model page and a finished run are small PNGs", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-shots-"));
    try {
      const shots = await takeScreenshots(browser, { base: server.url, outDir: dir, family: "mamba", checkpoint: CHECKPOINT, examples: EXAMPLES });
      expect(shots.map((s) => path.basename(s))).toEqual(["leaderboard.png", "model-mamba.png", "run.png"]);
      for (const s of shots) {
        const bytes = fs.readFileSync(s);
        expect(bytes.subarray(1, 4).toString()).toBe("PNG");
        expect(bytes.length).toBeLessThan(300_000);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("no page threw an uncaught error", () => {
    expect(pageErrors).toEqual([]);
  });
});
