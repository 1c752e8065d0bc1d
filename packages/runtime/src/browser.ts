// A Backend over onnxruntime-web inside a browser (wasm, or webgpu where the browser gives an adapter).
// Browser-safe: no node: imports. The caller passes the onnxruntime-web module it loaded (and configured:
// env.wasm.wasmPaths, numThreads), and loads models by URL or bytes.
import { UserError } from "@ssmbench/core";
import type * as OrtWeb from "onnxruntime-web";
import type { InferenceSession } from "onnxruntime-web";
import type { Backend, DataOf, DType, Feeds, Fetches, Session, Tensor } from "./types.ts";

type Ort = typeof OrtWeb;
export type BrowserEp = "wasm" | "webgpu";

class BrowserSession implements Session {
  constructor(
    private readonly inner: InferenceSession,
    private readonly ort: Ort,
    private readonly backend: Backend,
    readonly path: string,
  ) {}

  get ep() { return this.backend.name; }
  get runtime() { return this.backend.runtime; }
  get version() { return this.backend.version; }
  get preallocatedOutputs() { return false; }
  get inputNames() { return this.inner.inputNames; }
  get outputNames() { return this.inner.outputNames; }

  async run(feeds: Feeds, fetches?: Fetches): Promise<Record<string, Tensor>> {
    // onnxruntime-web leaves pre-allocated outputs untouched without an error (see backends.ts): refuse them.
    if (fetches) throw new Error(`onnxruntime-web (${this.ep}) does not fill pre-allocated outputs: call run() without fetches`);
    try {
      return (await this.inner.run(feeds)) as Record<string, Tensor>;
    } catch (err) {
      throw new Error(`running ${this.path} on ${this.ep}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  tensor<T extends DType>(type: T, data: DataOf<T>, dims: readonly number[]): Tensor {
    return new this.ort.Tensor(type, data as Float32Array, dims);
  }

  release(): Promise<void> {
    return this.inner.release();
  }
}

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
        return new BrowserSession(session, ort, b, url);
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
