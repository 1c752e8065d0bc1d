// Opening a checkpoint folder (models/<id>/) as a driver: the one call the runner needs.
import { existsSync } from "node:fs";
import path from "node:path";
import { UserError } from "@ssmbench/core";
import { getBackend } from "./backends.ts";
import { RecurrentDriver, type DriverOptions, type ModelSpec } from "./driver.ts";
import type { LoadOptions, Session } from "./types.ts";

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
  /** Also load `<dir>/generate.onnx` (greedy decoding in one call: RecurrentDriver.generate), with the step's options. */
  generate?: boolean;
}

/** Loads `<dir>/prefill.onnx` and `<dir>/step.onnx` (and generate.onnx if asked) on an EP and wraps them in a RecurrentDriver. */
export async function openModel(dir: string, spec: ModelSpec, opts: OpenOptions): Promise<RecurrentDriver> {
  const backend = await getBackend(opts.ep);
  const prefill = await backend.load(path.join(dir, "prefill.onnx"), opts);
  const stepOpts = { ...opts, syncRun: opts.syncSteps ?? true, ...(opts.stepThreads !== undefined && backend.runtime === "onnxruntime-node" ? { threads: opts.stepThreads } : {}) };
  const loaded: Session[] = [prefill];
  const releaseAll = () => Promise.all(loaded.map((s) => s.release()));
  try {
    const step = await backend.load(path.join(dir, "step.onnx"), stepOpts);
    loaded.push(step);
    const generate = opts.generate ? await backend.load(generateFile(dir), stepOpts) : undefined;
    if (generate) loaded.push(generate);
    return new RecurrentDriver(prefill, step, spec, opts, generate);
  } catch (err) {
    await releaseAll();
    throw err;
  }
}

/** `<dir>/generate.onnx`, or a UserError saying how to build it from step.onnx. */
function generateFile(dir: string): string {
  const file = path.join(dir, "generate.onnx");
  if (!existsSync(file)) throw new UserError(`${file} is missing: this checkpoint has no greedy-decoding graph`, `build it from step.onnx: node scripts/py.mjs -m ssmbench_trainer.generate ${dir}`);
  return file;
}
