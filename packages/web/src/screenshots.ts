// Browser flows shared by the Playwright tests and `pnpm web:screenshots`: run the in-browser benchmark or the
// text demo to completion and read what the page shows; screenshots of the leaderboard, a model page and a run.
import fs from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";

export interface BrowserRunResult {
  status: string;
  correct: number;
  total: number;
  examples: number;
  goldenPrefill: number;
  goldenStep: number;
  goldenArgmax: number;
  goldenTolerance: number;
  /** The CSV the download button gives. */
  csv: string;
  csvName: string;
}

/** Opens run.html for a checkpoint, runs it to completion and downloads its rows. */
export async function runBenchmark(page: Page, base: string, o: { checkpoint: string; examples: number; speed?: boolean; timeoutMs?: number }): Promise<BrowserRunResult> {
  await page.goto(new URL(`run.html?checkpoint=${o.checkpoint}&examples=${o.examples}&speed=${o.speed === false ? 0 : 1}`, base).href);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 60_000 });
  await page.click("#run");
  await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: o.timeoutMs ?? 180_000 });
  const status = (await page.textContent("#status")) ?? "";
  if ((await page.getAttribute("#status", "data-state")) === "error") throw new Error(`the in-browser run failed: ${status}`);
  const d = await page.$eval("#result", (el) => ({ ...(el as HTMLElement).dataset }));
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  const file = await download.path();
  const csv = fs.readFileSync(file, "utf8");
  const num = (k: string) => Number(d[k]);
  return {
    status,
    correct: num("correct"),
    total: num("total"),
    examples: num("examples"),
    goldenPrefill: num("goldenPrefill"),
    goldenStep: num("goldenStep"),
    goldenArgmax: num("goldenArgmax"),
    goldenTolerance: num("goldenTolerance"),
    csv,
    csvName: download.suggestedFilename(),
  };
}

/** Opens generate.html, generates `count` tokens after `prompt` (token ids) and returns them as the page shows them. */
export async function runTextDemo(page: Page, base: string, o: { checkpoint: string; prompt: number[]; count: number }): Promise<{ tokens: number[]; status: string }> {
  await page.goto(new URL(`generate.html?checkpoint=${o.checkpoint}&count=${o.count}&prompt=${encodeURIComponent(o.prompt.join(" "))}`, base).href);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 60_000 });
  await page.click("#generate");
  await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 120_000 });
  const status = (await page.textContent("#status")) ?? "";
  if ((await page.getAttribute("#status", "data-state")) === "error") throw new Error(`the text demo failed: ${status}`);
  const shown = (await page.getAttribute("#output", "data-tokens")) ?? "";
  return { tokens: shown.split(" ").filter(Boolean).map(Number), status };
}

export interface ScreenshotOptions {
  base: string;
  outDir: string;
  /** The family page to show. */
  family: string;
  checkpoint: string;
  examples: number;
}

/** leaderboard.png, model-<family>.png and run.png (a finished in-browser run) under outDir; returns their paths. */
export async function takeScreenshots(browser: Browser, o: ScreenshotOptions): Promise<string[]> {
  fs.mkdirSync(o.outDir, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 }, deviceScaleFactor: 1, acceptDownloads: true });
  const page = await context.newPage();
  const shots: string[] = [];
  const shoot = async (name: string, fullPage = false) => {
    const file = path.join(o.outDir, name);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: file, type: "png", fullPage });
    shots.push(file);
  };
  try {
    await page.goto(new URL("leaderboard.html", o.base).href);
    await shoot("leaderboard.png");
    await page.goto(new URL(`models/${o.family}.html`, o.base).href);
    await shoot(`model-${o.family}.png`);
    await runBenchmark(page, o.base, { checkpoint: o.checkpoint, examples: o.examples });
    await shoot("run.png", true); // the form, the live status and every figure of the finished run
  } finally {
    await context.close();
  }
  return shots;
}
