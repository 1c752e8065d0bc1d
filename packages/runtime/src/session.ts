// One onnxruntime InferenceSession behind the Session interface, and onnxruntime's error messages made readable.
// Browser-safe (types only from onnxruntime): onnxruntime-node and -web in Node (backends.ts) and onnxruntime-web in a
// page (browser.ts) share it.
import type * as OrtWeb from "onnxruntime-web";
import type { Backend, DataOf, DType, Feeds, Fetches, Session, Tensor } from "./types.ts";

type Ort = typeof OrtWeb;

const basename = (p: string) => p.split(/[\\/]/).pop() ?? p;

/** onnxruntime's messages carry C++ source paths and signatures; keep the sentence a user can read. */
export function ortMessage(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  return raw
    .replace(/^[^]*ERROR_CODE: \d+, ERROR_MESSAGE: /, "") // onnxruntime-web's wrapper
    .replace(/^Load model from .*? failed:/, "") // onnxruntime-node's wrapper (callers name the file)
    .replace(/\S*onnxruntime\/\S+:\d+ [^[]*?\[ONNXRuntimeError\] : \d+ : \w+ : /g, "") // "/…/op_kernel.cc:83 virtual …] : 1 : FAIL : "
    .replace(/\S*onnxruntime\/\S+:\d+ (\S+\(.*?\)(::<lambda\(\)>)? )?/g, "") // "/…/model.cc:187 Ns::Fn(args) "
    .replace(/^.*? was false\. /, "") // "adapter_result.status == … was false. Failed to …"
    .replace(/\s+/g, " ")
    .trim();
}

/** A synchronous runner of the model (onnxruntime-node's native session): outputs by name. */
export interface SyncRun {
  run(feeds: Feeds, fetches: Fetches): Record<string, Tensor>;
}

/** What a Session needs of an onnxruntime InferenceSession (or of a native session standing in for one). */
export interface InnerSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Feeds, fetches?: Fetches): Promise<unknown>;
  release(): Promise<void>;
}

/** Wraps one onnxruntime InferenceSession behind the Session interface. */
export class OrtSession implements Session {
  private readonly allOutputs: Fetches;

  constructor(
    private readonly inner: InnerSession,
    private readonly ort: Ort,
    private readonly backend: Backend,
    readonly path: string,
    private readonly sync?: SyncRun,
  ) {
    this.allOutputs = Object.fromEntries(inner.outputNames.map((n) => [n, null]));
  }

  get syncRun() { return this.sync !== undefined; }

  get ep() { return this.backend.name; }
  get runtime() { return this.backend.runtime; }
  get version() { return this.backend.version; }
  get preallocatedOutputs() { return this.backend.preallocatedOutputs; }
  get inputNames() { return this.inner.inputNames; }
  get outputNames() { return this.inner.outputNames; }

  async run(feeds: Feeds, fetches?: Fetches): Promise<Record<string, Tensor>> {
    if (fetches && !this.backend.preallocatedOutputs) {
      // onnxruntime-web returns the fetched tensors untouched (zeros) without an error: never let that through.
      throw new Error(`${this.backend.runtime} (${this.ep}) does not fill pre-allocated outputs: call run() without fetches`);
    }
    try {
      // The native session returns onnxruntime Tensors (the package hands it the Tensor class at start-up).
      if (this.sync) return this.sync.run(feeds, fetches ? { ...this.allOutputs, ...fetches } : this.allOutputs);
      // Every output is a tensor in the model contract.
      return (await (fetches ? this.inner.run(feeds, fetches) : this.inner.run(feeds))) as Record<string, Tensor>;
    } catch (err) {
      throw new Error(`running ${basename(this.path)} on ${this.ep}: ${ortMessage(err)}`, { cause: err });
    }
  }

  tensor<T extends DType>(type: T, data: DataOf<T>, dims: readonly number[]): Tensor {
    return new this.ort.Tensor(type, data as Float32Array, dims);
  }

  release(): Promise<void> {
    return this.inner.release(); // a sync session's native one too: its memory freed now, not whenever the GC runs
  }
}
