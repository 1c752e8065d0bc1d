// The one interface the harness sees, whichever onnxruntime package and execution provider runs the model.
// Types only (no runtime import), so the driver stays usable in a browser bundle.
import type { Tensor } from "onnxruntime-web";

export type { Tensor };

/** Execution providers ssmbench knows. cpu/cuda/webgpu run on onnxruntime-node, wasm on onnxruntime-web. */
export const EP_NAMES = ["cpu", "wasm", "cuda", "webgpu"] as const;
export type EpName = (typeof EP_NAMES)[number];
export type RuntimeName = "onnxruntime-node" | "onnxruntime-web";

/** Tensor element types the model contract uses (input ids and states). */
export type DType = "float32" | "float64" | "float16" | "int64";
/** What backs each dtype in JS (float16 travels as raw bits in a Uint16Array, as onnxruntime expects). */
export type DataOf<T extends DType> = T extends "float32"
  ? Float32Array
  : T extends "float64"
    ? Float64Array
    : T extends "int64"
      ? BigInt64Array
      : Uint16Array;

export type Feeds = Record<string, Tensor>;
/** Pre-allocated outputs: ORT writes into the given tensor; `null` (or a missing name) lets ORT allocate. */
export type Fetches = Record<string, Tensor | null>;

export interface LoadOptions {
  /** Intra-op threads (cpu), or the wasm thread pool size (fixed by the first wasm load in a process). */
  threads?: number;
  /**
   * onnxruntime-node only: run() calls the native session synchronously instead of through the package's
   * `setImmediate` hop, a turn of the event loop per call that cost 20-40 us of a 50-100 us decode step here. For
   * short runs (decode steps): a long run blocks the event loop for its whole length. Ignored elsewhere.
   */
  syncRun?: boolean;
}

export interface Session {
  /** The file it was loaded from, for messages. */
  readonly path: string;
  readonly ep: EpName;
  readonly runtime: RuntimeName;
  readonly version: string;
  /** Whether run() accepts `fetches` (see Backend.preallocatedOutputs). */
  readonly preallocatedOutputs: boolean;
  /** Whether run() calls the runtime synchronously (LoadOptions.syncRun, where the runtime allows it). */
  readonly syncRun: boolean;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph. `fetches` (pre-allocated outputs) is refused where the backend does not fill them. */
  run(feeds: Feeds, fetches?: Fetches): Promise<Record<string, Tensor>>;
  /** A tensor of this session's runtime (onnxruntime-node and -web each bundle their own Tensor class). */
  tensor<T extends DType>(type: T, data: DataOf<T>, dims: readonly number[]): Tensor;
  release(): Promise<void>;
}

export interface Backend {
  readonly name: EpName;
  readonly runtime: RuntimeName;
  /** Version of the onnxruntime package, for result rows. */
  readonly version: string;
  /** onnxruntime-node fills pre-allocated outputs; onnxruntime-web (wasm) silently leaves them untouched. */
  readonly preallocatedOutputs: boolean;
  load(path: string, opts?: LoadOptions): Promise<Session>;
}

export interface BackendInfo {
  name: EpName;
  runtime: RuntimeName;
  available: boolean;
  /** Why not, when not available; a short description when it is. */
  reason: string;
}
