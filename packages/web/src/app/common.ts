// What the in-browser pages share: the site's data, onnxruntime-web set up to load its files from this site,
// checkpoints opened through runtime's browser backend and the same RecurrentDriver as the Node runner.
import * as ort from "onnxruntime-web";
import type { ModelCard } from "@ssmbench/core";
import { browserBackend, webgpuAdapter, type BrowserEp } from "@ssmbench/runtime/browser";
import { RecurrentDriver } from "@ssmbench/runtime/driver";
import type { BrowserEnv } from "../lib/rows.ts";
import type { SiteData } from "../site.ts";

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** The wasm thread pool: onnxruntime-web's own default size where the page is cross-origin isolated, else 1. */
export function configureOrt(): number {
  ort.env.wasm.wasmPaths = new URL("ort/", document.baseURI).href;
  const threads = globalThis.crossOriginIsolated ? Math.min(4, Math.ceil((navigator.hardwareConcurrency || 1) / 2)) : 1;
  ort.env.wasm.numThreads = threads;
  return threads;
}

export async function loadSiteData(): Promise<SiteData> {
  const r = await fetch(new URL("data/site.json", document.baseURI));
  if (!r.ok) throw new Error(`data/site.json: HTTP ${r.status}`);
  return (await r.json()) as SiteData;
}

export function browserEnv(threads: number): BrowserEnv {
  const uaData = (navigator as unknown as { userAgentData?: { platform?: string } }).userAgentData;
  return {
    userAgent: navigator.userAgent,
    platform: uaData?.platform || navigator.platform || "unknown",
    cores: navigator.hardwareConcurrency || 1,
    ortVersion: ort.env.versions.web ?? "unknown",
    threads,
  };
}

/** Enables the webgpu option when the browser gives an adapter; says why not otherwise. */
export async function offerWebgpu(select: HTMLSelectElement): Promise<string> {
  const gpu = await webgpuAdapter();
  const option = select.querySelector<HTMLOptionElement>('option[value="webgpu"]');
  if (option) {
    option.disabled = !gpu.available;
    option.textContent = gpu.available ? "webgpu" : "webgpu (not available)";
  }
  return gpu.available ? "WebGPU: adapter found." : `WebGPU: ${gpu.reason}.`;
}

const open = new Map<string, Promise<RecurrentDriver>>();

/** The driver of a checkpoint on an EP, opened once per page (its sessions are reused by later runs). */
export function openCheckpoint(ckpt: { card: ModelCard; dir: string }, ep: BrowserEp): Promise<RecurrentDriver> {
  const key = `${ckpt.card.id}|${ep}`;
  let driver = open.get(key);
  if (!driver) {
    driver = (async () => {
      const backend = browserBackend(ort, ep);
      const base = new URL(ckpt.dir, document.baseURI);
      const prefill = await backend.load(new URL("prefill.onnx", base).href);
      const step = await backend.load(new URL("step.onnx", base).href);
      // generate.onnx where the checkpoint has it: greedy decoding many tokens per call (lib/generate.ts)
      const hasGenerate = ckpt.card.files.some((f) => f.path === "generate.onnx");
      const generate = hasGenerate ? await backend.load(new URL("generate.onnx", base).href) : undefined;
      return new RecurrentDriver(prefill, step, ckpt.card, {}, generate);
    })();
    driver.catch(() => open.delete(key));
    open.set(key, driver);
  }
  return driver;
}

export const grouped = (n: number) => Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
export const errorText = (e: unknown) => String((e as Error)?.message ?? e);
/** Lets the page paint between two pieces of work. */
export const paint = () => new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0)));
