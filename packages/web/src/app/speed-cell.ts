// The page of a speed-suite cell in Chromium (opened by ../speed-runtime.ts, one fresh browser per cell): onnxruntime-web
// in the page, the same RecurrentDriver and the same timing code (runner's timeCell) as the Node cells.
import * as ort from "onnxruntime-web";
import type { ModelCard } from "@ssmbench/core";
import { oneLine, statusOf, timeCell, type CellResult, type CellSpec } from "@ssmbench/runner/browser";
import { browserBackend, webgpuAdapter, type BrowserEp } from "@ssmbench/runtime/browser";
import { RecurrentDriver } from "@ssmbench/runtime/driver";

/** What the page reports about itself before any cell: what the rows' runtime columns and refusals are made of. */
export interface PageInfo {
  ortVersion: string;
  userAgent: string;
  cores: number;
  /** wasm threads need SharedArrayBuffer, so a page that is not isolated has one thread */
  crossOriginIsolated: boolean;
  webgpu: { available: boolean; reason: string; adapter?: string };
}

export interface PageCell {
  spec: CellSpec;
  card: ModelCard;
  ep: BrowserEp;
  /** URL of the folder with prefill.onnx and step.onnx (and generate.onnx for a generate cell) */
  model: string;
}

async function info(): Promise<PageInfo> {
  const gpu = await webgpuAdapter();
  let adapter: string | undefined;
  if (gpu.available) {
    const a = (await (navigator as unknown as { gpu: { requestAdapter(): Promise<{ info?: Record<string, string>; isFallbackAdapter?: boolean }> } }).gpu.requestAdapter());
    const i = a.info ?? {};
    adapter = [i.vendor, i.architecture, i.description].filter(Boolean).join(" ") || "unnamed adapter";
    if (a.isFallbackAdapter) adapter += " (fallback adapter: software)";
  }
  return {
    ortVersion: ort.env.versions.web ?? "unknown",
    userAgent: navigator.userAgent,
    cores: navigator.hardwareConcurrency || 1,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    webgpu: { ...gpu, adapter },
  };
}

async function runCell(c: PageCell): Promise<CellResult> {
  ort.env.wasm.wasmPaths = new URL("ort/", document.baseURI).href;
  ort.env.wasm.numThreads = c.spec.threads;
  try {
    const backend = browserBackend(ort, c.ep);
    const prefill = await backend.load(new URL("prefill.onnx", c.model).href);
    const step = await backend.load(new URL("step.onnx", c.model).href);
    const generate = c.spec.kind === "generate" ? await backend.load(new URL("generate.onnx", c.model).href) : undefined;
    const driver = new RecurrentDriver(prefill, step, c.card, {}, generate);
    try {
      const t = await timeCell(driver, c.card.vocab, c.spec);
      return { status: "ok", samples_ms: t.samplesMs, state_bytes: t.stateBytes, note: t.note ?? "" };
    } finally {
      await driver.release();
    }
  } catch (e) {
    return { status: statusOf(e), note: oneLine(e) };
  }
}

Object.assign(globalThis, { ssmbenchSpeed: { info, runCell } });
