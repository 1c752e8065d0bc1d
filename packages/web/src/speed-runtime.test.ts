// The speed suite's Chromium runtime: its pure pieces (peak RSS from /proc, the WebGPU refusal, Chromium's flags,
// the refusal without Chromium), then one tiny suite run in Debian's Chromium where it is installed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ResultRow, UserError } from "@ssmbench/core";
import { findRepoRoot, loadCheckpoint, speedSuite } from "@ssmbench/runner";
import { CHROMIUM_ARGS, findChromium } from "./chromium.ts";
import { CHROMIUM_RUNTIME, chromiumArgs, chromiumSpeedRuntimes, openChromiumRuntime, peakRssOf, vmHwmMb, webgpuRefusal } from "./speed-runtime.ts";

const root = findRepoRoot(import.meta.dirname);
const chromiumPath = findChromium();
const status = (hwmKb: number) => `Name:\tchrome\nVmPeak:\t 9999999 kB\nVmHWM:\t ${hwmKb} kB\nVmRSS:\t 1000 kB\n`;

describe("peak RSS of a Chromium cell", () => {
  it("reads VmHWM off /proc/<pid>/status in MB", () => {
    expect(vmHwmMb(status(2048))).toBe(2);
    expect(vmHwmMb("Name:\tchrome\n")).toBeUndefined();
  });

  it("is the renderer with the highest peak, its note summing every process of the browser", () => {
    const procs = [{ type: "browser", id: 1 }, { type: "renderer", id: 2 }, { type: "renderer", id: 3 }, { type: "GPU", id: 4 }, { type: "renderer", id: 5 }];
    const kb: Record<number, number> = { 1: 200 * 1024, 2: 80 * 1024, 3: 400 * 1024, 4: 100 * 1024 }; // 5: gone before it was read
    const r = peakRssOf(procs, (pid) => (kb[pid] === undefined ? undefined : status(kb[pid]!)));
    expect(r.peak_rss_mb).toBe(400);
    expect(r.peak_rss_note).toContain("renderer process that ran this cell's page");
    expect(r.peak_rss_note).toContain("taken as the highest of the browser's 2 renderer(s)");
    expect(r.peak_rss_note).toContain("all 4 processes of this cell's browser (browser, GPU, utility, renderers) peaked at 780 MB summed");
  });

  it("is not measured, with the reason, where no renderer's status can be read (no /proc)", () => {
    const r = peakRssOf([{ type: "browser", id: 1 }, { type: "renderer", id: 2 }], () => undefined);
    expect(r.peak_rss_mb).toBeUndefined();
    expect(r.peak_rss_note).toMatch(/^not measured: .*\/proc/);
  });
});

describe("chromium-webgpu", () => {
  it("runs only on a hardware adapter: none, or a software one (SwiftShader, llvmpipe), is refused with the reason", () => {
    expect(webgpuRefusal({ available: false, reason: "navigator.gpu is absent" })).toBe("gives no WebGPU adapter: navigator.gpu is absent");
    expect(webgpuRefusal({ available: true, reason: "", adapter: "google swiftshader" })).toMatch(/only a software WebGPU adapter \(google swiftshader\)/);
    expect(webgpuRefusal({ available: true, reason: "", adapter: "mesa llvmpipe" })).toMatch(/software/);
    expect(webgpuRefusal({ available: true, reason: "", adapter: "nvidia hopper" })).toBeUndefined();
  });

  it("turns the GPU process on and WebGPU on Vulkan; chromium-wasm keeps the headless defaults", () => {
    expect(chromiumArgs("chromium-wasm")).toEqual(CHROMIUM_ARGS);
    expect(chromiumArgs("chromium-webgpu")).not.toContain("--disable-gpu");
    expect(chromiumArgs("chromium-webgpu")).toContain("--enable-unsafe-webgpu");
  });
});

describe("without Chromium", () => {
  it("refuses the EP with a UserError naming the package to install", async () => {
    const err = await openChromiumRuntime("chromium-wasm", undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toContain("--ep chromium-wasm");
    expect((err as UserError).hint).toContain("apt-get install -y chromium");
  });

  it("serves both Chromium EPs to the suite, found by name", () => {
    expect(chromiumSpeedRuntimes().eps).toEqual(["chromium-wasm", "chromium-webgpu"]);
  });
});

// The one browser test: a tiny run of the suite in Debian's Chromium (skipped with a notice where it is absent).
if (!chromiumPath) console.warn("\n[@ssmbench/web] SKIPPED: the Chromium speed cells need Debian's Chromium (apt-get install -y chromium).\n");

describe.skipIf(!chromiumPath)("the speed suite in Debian's Chromium (chromium-wasm)", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-chromium-speed-"));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));
  // the smallest committed graphs (prefill.onnx of about 0.6 MB)
  const ckpt = loadCheckpoint(path.join(root, "models", "transformer-induction-heads"));
  const timing = { warmup: 1, minSamples: 3, minTimeMs: 0, maxTimeMs: 5000, floorSamples: 2 };

  it("times a 64-token prefill and decode after 64 tokens into well-formed, finite rows, as a Node cell's", async () => {
    const { file, rows } = await speedSuite({
      root, checkpoints: [ckpt], eps: ["chromium-wasm"], torch: false, lengths: [64], batches: [1], contexts: [64], maxLogitsBytes: 2 ** 31,
      threads: 1, timing, steps: 8, warmupSteps: 2, generateChunk: 4, cellTimeoutMs: 180_000, outDir: out, runId: "chromium", resume: false,
      runtimes: [chromiumSpeedRuntimes({ executablePath: chromiumPath })], log: () => {},
    });
    expect(path.basename(file)).toBe("chromium.csv");
    for (const r of rows) expect(ResultRow.parse(r)).toEqual(r);
    expect(rows.map((r) => `${r.split} ${r.metric} ${r.status}`)).toEqual([
      "prefill prefill_tokens_per_s ok", "prefill state_bytes ok", "prefill peak_rss_mb ok",
      "decode decode_ms_per_token ok", "decode decode_ms_per_token_p90 ok", "decode state_bytes ok", "decode peak_rss_mb ok",
      // the checkpoint has generate.onnx: greedy decoding in the page too
      "generate decode_ms_per_token ok", "generate decode_ms_per_token_p90 ok", "generate state_bytes ok", "generate peak_rss_mb ok",
    ]);
    for (const r of rows) {
      expect(r).toMatchObject({ ep: "chromium-wasm", runtime: CHROMIUM_RUNTIME, model: "transformer-induction-heads", task: "speed", seq_len: 64, batch: 1 });
      expect(r.runtime_version).toMatch(/^\d+\.\d+\.\d+ \(Chromium \d+\.\d+\.\d+\.\d+\)$/);
      expect(Number.isFinite(r.value) && r.value! > 0, `${r.split} ${r.metric}`).toBe(true);
    }
    const prefill = rows.find((r) => r.metric === "prefill_tokens_per_s")!;
    expect(prefill.n).toBeGreaterThanOrEqual(3);
    expect(prefill.ci_low! <= prefill.value! && prefill.value! <= prefill.ci_high!).toBe(true);
    expect(prefill.note).toMatch(/^1 wasm thread\(s\) in Chromium \d+[.\d]* \(headless\); median of \d+ prefills/);
    // the KV cache: 2 layers x (key, value) x 2 heads x 32 floats = 1 KiB per token, after the 64 tokens of the
    // prefill, after the 64-token context, 2 warm-up and 8 timed steps, and after the context and a 4-token greedy
    // call (every call starts from the context)
    expect(rows.filter((r) => r.metric === "state_bytes").map((r) => r.value)).toEqual([64 * 1024, (64 + 2 + 8) * 1024, (64 + 4) * 1024]);
    expect(rows.find((r) => r.split === "generate")!.n).toBe(2); // 8 tokens at most, 4 per call
    expect(rows.find((r) => r.metric === "peak_rss_mb")!.note).toContain("renderer process");
  });

  it("a cell past its budget comes back as a timeout, its browser closed in the background", async () => {
    const rt = await openChromiumRuntime("chromium-wasm", chromiumPath);
    try {
      const r = await rt.run({ dir: ckpt.dir, ep: "chromium-wasm", kind: "prefill", seqLen: 64, batch: 1, threads: 1, timing, steps: 8, warmupSteps: 2 }, 50);
      expect(r).toEqual({ status: "timeout", note: "over the cell budget of 0.05 s" });
    } finally {
      await rt.close?.();
    }
  });
});
