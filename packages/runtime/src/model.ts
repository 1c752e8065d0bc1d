// Opening a checkpoint folder (models/<id>/) as a driver: the one call the runner needs.
import path from "node:path";
import { getBackend } from "./backends.ts";
import { RecurrentDriver, type DriverOptions, type ModelSpec } from "./driver.ts";
import type { LoadOptions } from "./types.ts";

export interface OpenOptions extends LoadOptions, DriverOptions {
  /** Execution provider: cpu, wasm, cuda or webgpu. */
  ep: string;
  /**
   * Intra-op threads of the step session on onnxruntime-node (default: `threads`). A decode step's ops are too
   * small to split, so one thread avoids the pool's hand-offs; onnxruntime-web's pool is one per process, so it
   * is not set there.
   */
  stepThreads?: number;
  /** Decode steps call onnxruntime-node synchronously (LoadOptions.syncRun; default true). Prefill stays async. */
  syncSteps?: boolean;
}

/** Loads `<dir>/prefill.onnx` and `<dir>/step.onnx` on an EP and wraps them in a RecurrentDriver. */
export async function openModel(dir: string, spec: ModelSpec, opts: OpenOptions): Promise<RecurrentDriver> {
  const backend = await getBackend(opts.ep);
  const prefill = await backend.load(path.join(dir, "prefill.onnx"), opts);
  const stepOpts = { ...opts, syncRun: opts.syncSteps ?? true, ...(opts.stepThreads !== undefined && backend.runtime === "onnxruntime-node" ? { threads: opts.stepThreads } : {}) };
  const step = await backend.load(path.join(dir, "step.onnx"), stepOpts).catch(async (err: unknown) => {
    await prefill.release();
    throw err;
  });
  try {
    return new RecurrentDriver(prefill, step, spec, opts);
  } catch (err) {
    await prefill.release();
    await step.release();
    throw err;
  }
}
