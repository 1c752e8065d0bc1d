// Opening a checkpoint folder (models/<id>/) as a driver: the one call the runner needs.
import path from "node:path";
import { getBackend } from "./backends.ts";
import { RecurrentDriver, type DriverOptions, type ModelSpec } from "./driver.ts";
import type { LoadOptions } from "./types.ts";

export interface OpenOptions extends LoadOptions, DriverOptions {
  /** Execution provider: cpu, wasm, cuda or webgpu. */
  ep: string;
}

/** Loads `<dir>/prefill.onnx` and `<dir>/step.onnx` on an EP and wraps them in a RecurrentDriver. */
export async function openModel(dir: string, spec: ModelSpec, opts: OpenOptions): Promise<RecurrentDriver> {
  const backend = await getBackend(opts.ep);
  const prefill = await backend.load(path.join(dir, "prefill.onnx"), opts);
  const step = await backend.load(path.join(dir, "step.onnx"), opts).catch(async (err: unknown) => {
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
