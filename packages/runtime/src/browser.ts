// A Backend over onnxruntime-web inside a browser (wasm, or webgpu where the browser gives an adapter).
// Browser-safe: no node: imports. The caller passes the onnxruntime-web module it loaded (and configured:
// env.wasm.wasmPaths, numThreads), and loads models by URL or bytes.
import { UserError } from "@ssmbench/core";
import type * as OrtWeb from "onnxruntime-web";
import { OrtSession } from "./session.ts";
import type { Backend } from "./types.ts";

type Ort = typeof OrtWeb;
export type BrowserEp = "wasm" | "webgpu";

/** The Backend of onnxruntime-web on `ep` in this page; `load` takes a URL (fetched by onnxruntime-web). */
export function browserBackend(ort: Ort, ep: BrowserEp): Backend {
  const b: Backend = {
    name: ep,
    runtime: "onnxruntime-web",
    version: ort.env.versions.web ?? "unknown",
    preallocatedOutputs: false,
    load: async (url: string) => {
      try {
        const session = await ort.InferenceSession.create(url, { executionProviders: [ep], graphOptimizationLevel: "all" });
        return new OrtSession(session, ort, b, url);
      } catch (err) {
        throw new UserError(
          `cannot load ${url} with onnxruntime-web ${b.version} (${ep}): ${err instanceof Error ? err.message : String(err)}`,
          ep === "webgpu" ? "try the wasm execution provider" : "check that the file is served and is a valid ONNX model",
        );
      }
    },
  };
  return b;
}

/** Whether this browser gives a WebGPU adapter (the condition for the webgpu EP), and why not when it does not. */
export async function webgpuAdapter(): Promise<{ available: boolean; reason: string }> {
  const gpu = (globalThis.navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
  if (!gpu) return { available: false, reason: "navigator.gpu is absent (no WebGPU in this browser or context)" };
  try {
    const adapter = await gpu.requestAdapter();
    return adapter ? { available: true, reason: "WebGPU adapter found" } : { available: false, reason: "navigator.gpu.requestAdapter() gave no adapter" };
  } catch (err) {
    return { available: false, reason: `requestAdapter failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export { argmax, checkGolden, type Golden, type GoldenCheck } from "./golden.ts";
