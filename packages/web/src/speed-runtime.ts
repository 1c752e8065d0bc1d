// The speed suite in Chromium: `pnpm bench --suite speed --ep chromium-wasm` (and chromium-webgpu where the browser
// gives a WebGPU adapter). Each cell runs in a fresh headless Debian Chromium (never a downloaded browser) on a page
// served cross-origin isolated, so wasm threads start; the page times the cell with the runner's own timeCell and
// returns the samples, and the runner's suite turns them into rows as it does for a Node cell. The cli hands this
// provider to the suite, so the runner itself holds no browser code (web depends on runner, never the reverse).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import type { Browser, Page } from "playwright-core";
import { UserError } from "@ssmbench/core";
import { loadCheckpoint, type SpeedRuntime, type SpeedRuntimeProvider } from "@ssmbench/runner";
import { oneLine, statusOf, type CellResult, type CellSpec } from "@ssmbench/runner/browser";
import type { PageCell, PageInfo } from "./app/speed-cell.ts";
import { ORT_FILES, nodeBuiltinsAbsent, ortDist } from "./bundle.ts";
import { CHROMIUM_ARGS, findChromium, launchChromium } from "./chromium.ts";
import { serveSite, type Server } from "./serve.ts";

export const CHROMIUM_EPS = ["chromium-wasm", "chromium-webgpu"] as const;
export type ChromiumEp = (typeof CHROMIUM_EPS)[number];

/** The runtime column of Chromium rows, as the in-browser runner names it (lib/rows.ts browserRuntime). */
export const CHROMIUM_RUNTIME = "onnxruntime-web (chromium)";

/**
 * Chromium's flags for an EP. wasm: the headless defaults (no GPU). webgpu: the GPU process on, WebGPU exposed, and
 * Dawn on Vulkan (Chromium on Linux has WebGPU behind the Vulkan feature).
 */
export function chromiumArgs(ep: ChromiumEp): readonly string[] {
  if (ep === "chromium-wasm") return CHROMIUM_ARGS;
  return [...CHROMIUM_ARGS.filter((a) => a !== "--disable-gpu"), "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-angle=vulkan", "--disable-vulkan-surface"];
}

/** The suite's provider of chromium-wasm and chromium-webgpu (`executablePath` defaults to findChromium()). */
export function chromiumSpeedRuntimes(o: { executablePath?: string } = {}): SpeedRuntimeProvider {
  return { eps: CHROMIUM_EPS, open: (ep) => openChromiumRuntime(ep as ChromiumEp, o.executablePath ?? findChromium()) };
}

/** The refusal where there is no Chromium to run an EP in. */
export function noChromium(ep: string): UserError {
  const env = process.env.SSMBENCH_CHROMIUM;
  return new UserError(
    `--ep ${ep} times the cells in Debian's Chromium, and there is none here (${env ? `SSMBENCH_CHROMIUM=${env} does not exist` : "no chromium on PATH"})`,
    "install it: apt-get install -y chromium (Debian; ssmbench never downloads a browser), or set SSMBENCH_CHROMIUM to a Chromium binary; or leave the chromium EPs out of --ep",
  );
}

/**
 * Opens one Chromium EP: bundles the cell page, serves it, and starts Chromium once to read its version, the
 * page's onnxruntime-web version and (chromium-webgpu) whether navigator.gpu gives an adapter. Refuses with a
 * UserError where the EP cannot run here, before any row is written.
 */
export async function openChromiumRuntime(ep: ChromiumEp, executablePath: string | undefined): Promise<SpeedRuntime> {
  if (!CHROMIUM_EPS.includes(ep)) throw new UserError(`unknown Chromium execution provider "${ep}"`, `known: ${CHROMIUM_EPS.join(", ")}`);
  if (!executablePath) throw noChromium(ep);
  const site = await cellSite();
  try {
    const probe = await launchChromium(executablePath, chromiumArgs(ep));
    const chromium = `Chromium ${probe.version()}`;
    let info: PageInfo;
    try {
      const page = await probe.newPage();
      await openCellPage(page, site.server.url, 120_000);
      info = await page.evaluate(() => (globalThis as unknown as { ssmbenchSpeed: { info(): Promise<PageInfo> } }).ssmbenchSpeed.info());
    } finally {
      await probe.close();
    }
    if (!info.crossOriginIsolated) throw new Error(`the speed cell page is not cross-origin isolated in ${chromium}: wasm threads cannot start`);
    const noGpu = ep === "chromium-webgpu" ? webgpuRefusal(info.webgpu) : undefined;
    if (noGpu) {
      throw new UserError(
        `execution provider "chromium-webgpu" is not available here: ${chromium} (headless) ${noGpu}`,
        "WebGPU in headless Chromium needs a GPU with a Vulkan driver (Debian: libvulkan1 and the GPU's Vulkan ICD, e.g. mesa-vulkan-drivers or the NVIDIA driver's); without one, time Chromium with --ep chromium-wasm",
      );
    }
    const where = `${chromium} (headless)${info.webgpu.adapter && ep === "chromium-webgpu" ? `, WebGPU adapter ${info.webgpu.adapter}` : ""}`;
    return {
      runtime: CHROMIUM_RUNTIME,
      version: `${info.ortVersion} (${chromium})`,
      ep,
      run: (spec, timeoutMs) => runChromiumCell({ executablePath, ep, site, spec, timeoutMs, where }),
      close: site.close,
    };
  } catch (e) {
    await site.close();
    throw e;
  }
}

/**
 * Why the page's WebGPU cannot give chromium-webgpu figures, or undefined where it can: no adapter, or only a
 * software one (SwiftShader, llvmpipe, lavapipe: a CPU emulating a GPU, whose timings would not be a GPU's).
 */
export function webgpuRefusal(gpu: PageInfo["webgpu"]): string | undefined {
  if (!gpu.available) return `gives no WebGPU adapter: ${gpu.reason}`;
  if (/fallback adapter|swiftshader|llvmpipe|lavapipe/i.test(gpu.adapter ?? "")) return `gives only a software WebGPU adapter (${gpu.adapter}), a CPU emulating a GPU`;
  return undefined;
}

interface CellSite {
  dir: string;
  server: Server;
  /** The page's URL of a checkpoint folder (linked into the served folder on first use). */
  modelUrl(dir: string): string;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** A temporary folder served cross-origin isolated: the cell page, its bundle, onnxruntime-web's files, and links to checkpoints. */
async function cellSite(): Promise<CellSite> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-speed-"));
  try {
    fs.writeFileSync(
      path.join(dir, "index.html"),
      `<!doctype html><meta charset="utf-8"><title>ssmbench speed cell</title>
<script type="importmap">${JSON.stringify({ imports: { "onnxruntime-web": "./ort/ort.min.mjs" } })}</script>
<script type="module" src="./cell.js"></script>\n`,
    );
    fs.mkdirSync(path.join(dir, "ort"));
    for (const f of ORT_FILES) fs.symlinkSync(path.join(ortDist(), f), path.join(dir, "ort", f));
    await esbuild.build({
      entryPoints: [path.join(here, "app", "speed-cell.ts")],
      outfile: path.join(dir, "cell.js"),
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      conditions: ["@ssmbench/source"],
      external: ["onnxruntime-web"],
      logLevel: "warning",
      plugins: [nodeBuiltinsAbsent],
    });
    fs.mkdirSync(path.join(dir, "models"));
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const server = await serveSite(dir);
  const linked = new Map<string, string>();
  return {
    dir,
    server,
    modelUrl(modelDir) {
      const abs = path.resolve(modelDir);
      let name = linked.get(abs);
      if (!name) {
        name = `m${linked.size}`;
        fs.symlinkSync(abs, path.join(dir, "models", name));
        linked.set(abs, name);
      }
      return new URL(`models/${name}/`, server.url).href;
    },
    async close() {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Opens the cell page and waits for its bundle; `timeout` 0: no limit of its own (a cell's budget bounds it). */
async function openCellPage(page: Page, base: string, timeout: number): Promise<void> {
  await page.goto(new URL("index.html", base).href, { timeout });
  await page.waitForFunction(() => "ssmbenchSpeed" in globalThis, undefined, { timeout });
}

/**
 * One cell in a fresh Chromium: its own browser, so its memory is its own and a crash costs one row. Every failure
 * is a CellResult (timeout past timeoutMs, the renderer crashing, an error in the page); the browser is always closed.
 */
async function runChromiumCell(o: { executablePath: string; ep: ChromiumEp; site: CellSite; spec: CellSpec; timeoutMs: number; where: string }): Promise<CellResult> {
  const { card } = loadCheckpoint(o.spec.dir);
  let browser: Browser | undefined;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CellResult>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true;
      resolve({ status: "timeout", note: `over the cell budget of ${o.timeoutMs / 1000} s` });
    }, o.timeoutMs);
  });
  const cell = (async (): Promise<CellResult> => {
    browser = await launchChromium(o.executablePath, chromiumArgs(o.ep));
    if (timedOut) return { status: "timeout", note: "" };
    const page = await browser.newPage();
    const crashed = new Promise<CellResult>((resolve) => page.on("crash", () => resolve({ status: "error", note: `Chromium's renderer process crashed (out of memory?); ${o.where}` })));
    await openCellPage(page, o.site.server.url, 0);
    const arg: PageCell = { spec: o.spec, card, ep: o.ep === "chromium-webgpu" ? "webgpu" : "wasm", model: o.site.modelUrl(o.spec.dir) };
    const r = await Promise.race([page.evaluate((c) => (globalThis as unknown as { ssmbenchSpeed: { runCell(c: PageCell): Promise<CellResult> } }).ssmbenchSpeed.runCell(c), arg), crashed]);
    r.note = [`${o.spec.threads} wasm thread(s) in ${o.where}`, r.note].filter(Boolean).join("; ");
    if (r.status === "ok") Object.assign(r, await chromiumPeakRss(browser));
    return r;
  })();
  try {
    return await Promise.race([cell.catch((e): CellResult => ({ status: statusOf(e), note: `${oneLine(e)}; ${o.where}` })), timeout]);
  } finally {
    clearTimeout(timer);
    const close = () => browser?.close().catch(() => {});
    // A cell still running past its budget: its browser is closed now, or as soon as its launch returns.
    if (timedOut) void cell.then(close, close);
    await close();
  }
}

/** A process of the browser: its kind (browser, renderer, GPU, a utility service) and pid. */
export interface ChromiumProcess {
  type: string;
  id: number;
}

/** VmHWM (peak resident set) in MB from the text of /proc/<pid>/status, or undefined. */
export function vmHwmMb(status: string): number | undefined {
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) / 1024 : undefined;
}

/**
 * Peak RSS of a Chromium cell, from each process's VmHWM (Linux): the value is the renderer with the highest peak,
 * the process that ran the page (onnxruntime-web, its wasm heap, inputs and outputs; the page is the only one with
 * work to do); the note adds the whole browser's processes, whose peaks summed bound the tree's from above.
 * Where /proc cannot be read, no value and the reason (an na row).
 */
export function peakRssOf(processes: readonly ChromiumProcess[], readStatus: (pid: number) => string | undefined): Pick<CellResult, "peak_rss_mb" | "peak_rss_note"> {
  const peaks = processes.map((p) => {
    const status = readStatus(p.id);
    return { ...p, mb: status === undefined ? undefined : vmHwmMb(status) };
  });
  const renderers = peaks.filter((p) => p.type === "renderer" && p.mb !== undefined);
  if (renderers.length === 0) return { peak_rss_note: "not measured: no Chromium renderer's /proc/<pid>/status could be read (VmHWM is Linux's)" };
  const page = renderers.reduce((a, b) => (b.mb! > a.mb! ? b : a));
  const all = peaks.filter((p) => p.mb !== undefined);
  const total = all.reduce((s, p) => s + p.mb!, 0);
  return {
    peak_rss_mb: page.mb!,
    peak_rss_note:
      `peak resident set (VmHWM) of the Chromium renderer process that ran this cell's page (model, wasm heap, inputs, outputs, runtime), taken as the highest of the browser's ${renderers.length} renderer(s); ` +
      `all ${all.length} processes of this cell's browser (browser, GPU, utility, renderers) peaked at ${total.toFixed(0)} MB summed`,
  };
}

async function chromiumPeakRss(browser: Browser): Promise<Pick<CellResult, "peak_rss_mb" | "peak_rss_note">> {
  try {
    const cdp = await browser.newBrowserCDPSession();
    const { processInfo } = (await cdp.send("SystemInfo.getProcessInfo")) as { processInfo: ChromiumProcess[] };
    await cdp.detach();
    return peakRssOf(processInfo, (pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/status`, "utf8");
      } catch {
        return undefined;
      }
    });
  } catch (e) {
    return { peak_rss_note: `not measured: Chromium's process list could not be read (${oneLine(e)})` };
  }
}
