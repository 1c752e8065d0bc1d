// Backends by execution-provider name: cpu, cuda, webgpu on onnxruntime-node; wasm on onnxruntime-web inside Node.
// The onnxruntime packages are imported on first use (onnxruntime-node loads a native library when imported).
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { UserError, didYouMean } from "@ssmbench/core";
import { webgpuAdvice } from "./gpu.ts";
import type { InferenceSession } from "onnxruntime-web";
import type * as OrtWeb from "onnxruntime-web";
import { OrtSession, ortMessage, type InnerSession, type SyncRun } from "./session.ts";

export { ortMessage };
import {
  EP_NAMES,
  type Backend,
  type BackendInfo,
  type DataOf,
  type DType,
  type EpName,
  type Feeds,
  type Fetches,
  type LoadOptions,
  type RuntimeName,
  type Session,
  type Tensor,
} from "./types.ts";

/** Both packages re-export onnxruntime-common; onnxruntime-node adds listSupportedBackends. */
type Ort = typeof OrtWeb;

/** A one-node Identity model (x: float[1] -> y), made with onnx.helper; used to probe whether an EP starts. */
const PROBE_MODEL = "CAgSADo7ChAKAXgSAXkiCElkZW50aXR5EgVwcm9iZVoPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEA0=";

let nodeOrt: Promise<typeof import("onnxruntime-node")> | undefined;
const importNode = () => (nodeOrt ??= import("onnxruntime-node"));

let webOrt: Promise<Ort> | undefined;
/** onnxruntime-web sets its wasm thread pool once, when the first session starts; this remembers the size. */
let webThreads: number | undefined;

/** onnxruntime-web configured for Node: the .wasm/.mjs files are loaded from the package's own dist folder. */
function importWeb(): Promise<Ort> {
  return (webOrt ??= import("onnxruntime-web").then((ort) => {
    ort.env.wasm.wasmPaths = `${pathToFileURL(webDist()).href}/`;
    return ort;
  }));
}

/** "onnxruntime-web" resolves (node condition) to dist/ort.node.min.js; its wasm files sit beside it. */
const webDist = () => path.dirname(createRequire(import.meta.url).resolve("onnxruntime-web"));

function setWebThreads(ort: Ort, threads: number | undefined): void {
  if (webThreads === undefined) {
    webThreads = threads ?? Math.min(4, Math.ceil(availableParallelism() / 2)); // onnxruntime-web's own default
    ort.env.wasm.numThreads = webThreads;
  } else if (threads !== undefined && threads !== webThreads) {
    throw new UserError(
      `the wasm thread pool already has ${webThreads} thread(s) in this process; ${threads} were asked for`,
      "onnxruntime-web sizes its thread pool once per process: run each thread count in its own process",
    );
  }
}

/** onnxruntime-node's native session: what its public InferenceSession runs behind a setImmediate per call. */
interface NativeSession {
  loadModel(path: string, options: InferenceSession.SessionOptions): void;
  run(feeds: Feeds, fetches: Fetches, options: object): Record<string, Tensor>;
  dispose(): void;
  readonly inputMetadata?: unknown;
  readonly outputMetadata?: unknown;
}
let nativeSession: (new () => NativeSession) | null | undefined;

/**
 * The native session class of onnxruntime-node (its dist/binding.js, loaded once by the package itself; initOrt
 * hands it onnxruntime-common's Tensor class, so its outputs are ordinary Tensors). An internal of the package:
 * where it is not there in this form, undefined, and sessions run through the public API.
 */
function nativeSessionClass(): (new () => NativeSession) | undefined {
  if (nativeSession === undefined) {
    try {
      const req = createRequire(createRequire(import.meta.url).resolve("onnxruntime-node"));
      const { binding, initOrt } = req("./binding.js") as { binding?: { InferenceSession?: new () => NativeSession }; initOrt?: () => void };
      const ctor = binding?.InferenceSession;
      if (typeof ctor !== "function" || typeof initOrt !== "function" || typeof ctor.prototype.run !== "function" || typeof ctor.prototype.dispose !== "function") throw new Error("not the expected binding");
      initOrt();
      nativeSession = ctor;
    } catch {
      nativeSession = null;
    }
  }
  return nativeSession ?? undefined;
}

/** The names in the binding's input or output metadata (what the public session reads them from), if it has them. */
function metadataNames(meta: unknown): string[] | undefined {
  if (!Array.isArray(meta) || !meta.every((m) => typeof (m as { name?: unknown })?.name === "string")) return undefined;
  return meta.map((m: { name: string }) => m.name);
}

/**
 * The model loaded once, into onnxruntime-node's native session, run synchronously; the async path and the names
 * of the Session come from the same native session. undefined where the binding is not in the expected form (the
 * caller then loads the public session).
 */
function loadNative(file: string, options: InferenceSession.SessionOptions): { inner: InnerSession; sync: SyncRun } | undefined {
  const Native = nativeSessionClass();
  if (!Native) return undefined;
  const native = new Native();
  native.loadModel(file, options);
  const inputNames = metadataNames(native.inputMetadata);
  const outputNames = metadataNames(native.outputMetadata);
  if (!inputNames || !outputNames) {
    native.dispose();
    return undefined;
  }
  const runOptions = {};
  const all: Fetches = Object.fromEntries(outputNames.map((n) => [n, null]));
  const run = (feeds: Feeds, fetches?: Fetches) => native.run(feeds, fetches ?? all, runOptions);
  return {
    inner: { inputNames, outputNames, run: async (feeds, fetches) => run(feeds, fetches), release: async () => native.dispose() },
    sync: { run },
  };
}

/** Creates an onnxruntime session, turning failures into UserErrors that name the file and a way out. */
async function createSession(ort: Ort, backend: Backend, file: string, options: InferenceSession.SessionOptions, sync = false) {
  const found = await stat(file).catch(() => undefined);
  if (!found?.isFile()) {
    throw new UserError(`model file not found: ${file}`, "train and export the model first (pnpm train), or check the path");
  }
  try {
    const native = sync ? loadNative(file, options) : undefined;
    const inner = native?.inner ?? (await ort.InferenceSession.create(file, options));
    return new OrtSession(inner, ort, backend, file, native?.sync);
  } catch (err) {
    const why = ortMessage(err);
    const corrupt = /protobuf|no graph|does not have a graph|invalid.*model/i.test(why);
    throw withCause(err, new UserError(
      `cannot load ${file} with ${backend.runtime} ${backend.version} (${backend.name}): ${why}`,
      corrupt
        ? "the file is not a valid ONNX model (truncated or corrupt?): re-export it (pnpm export) or re-download it"
        : `the model may use an operator or opset this runtime lacks on ${backend.name}: try --ep cpu, or re-export it (pnpm export)`,
    ));
  }
}

const withCause = <E extends Error>(cause: unknown, err: E): E => Object.assign(err, { cause });

/** The Backend object of an EP (imports its onnxruntime package). */
async function open(name: EpName): Promise<Backend> {
  if (name === "wasm") {
    const ort = await importWeb();
    return backend(ort, name, "onnxruntime-web", ort.env.versions.web ?? "unknown", false, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
  }
  const ort = await importNode();
  return backend(ort as Ort, name, "onnxruntime-node", ort.env.versions.node ?? "unknown", true, {
    executionProviders: [name],
    graphOptimizationLevel: "all",
  });
}

function backend(
  ort: Ort,
  name: EpName,
  runtime: RuntimeName,
  version: string,
  preallocatedOutputs: boolean,
  base: InferenceSession.SessionOptions,
): Backend {
  const b: Backend = {
    name,
    runtime,
    version,
    preallocatedOutputs,
    load: async (file, opts: LoadOptions = {}) => {
      if (runtime === "onnxruntime-web") setWebThreads(ort, opts.threads);
      const threads = runtime === "onnxruntime-node" && opts.threads ? { intraOpNumThreads: opts.threads } : {};
      return createSession(ort, b, file, { ...base, ...threads }, runtime === "onnxruntime-node" && opts.syncRun === true);
    },
  };
  return b;
}

/**
 * Whether an EP works here. GPU EPs: start a session on a one-node model and run it (the only honest test).
 * wasm: the package and its .wasm file are present; a session is not started, since that would fix the
 * wasm thread pool before the caller chooses its size.
 */
async function probe(name: EpName): Promise<BackendInfo> {
  const runtime: RuntimeName = name === "wasm" ? "onnxruntime-web" : "onnxruntime-node";
  try {
    const b = await open(name);
    if (name === "wasm") {
      const wasm = path.join(webDist(), "ort-wasm-simd-threaded.wasm");
      if (!(await stat(wasm).catch(() => undefined))) throw new Error(`${wasm} is missing`);
      return { name, runtime, available: true, reason: `${runtime} ${b.version}, WebAssembly in Node` };
    }
    const ort = (await importNode()) as Ort;
    const session = await ort.InferenceSession.create(Buffer.from(PROBE_MODEL, "base64"), {
      executionProviders: [name],
      logSeverityLevel: 4,
    });
    await session.run({ x: new ort.Tensor("float32", new Float32Array([1]), [1]) });
    await session.release();
    return { name, runtime, available: true, reason: `${runtime} ${b.version}` };
  } catch (err) {
    let reason = ortMessage(err);
    if (name === "cuda") {
      const bundled = (await importNode().catch(() => undefined))?.listSupportedBackends().find((x) => x.name === "cuda")?.bundled;
      if (bundled === false) {
        reason +=
          " (onnxruntime-node does not bundle the CUDA EP: its install script downloads it, and this workspace " +
          "runs no dependency build scripts: on a machine with CUDA 12, run it with ONNXRUNTIME_NODE_INSTALL=cuda12 as the README's \"CUDA and WebGPU\" section shows)";
      }
    }
    if (name === "webgpu" && /adapter/i.test(reason)) reason += ` (${webgpuAdvice()})`;
    return { name, runtime, available: false, reason };
  }
}

const probes = new Map<EpName, Promise<BackendInfo>>();
const probeOnce = (name: EpName) => probes.get(name) ?? probes.set(name, probe(name)).get(name)!;

/** Every EP ssmbench knows, whether it works on this machine, and why not. Probed once per process. */
export async function listBackends(): Promise<BackendInfo[]> {
  const out: BackendInfo[] = [];
  for (const name of EP_NAMES) out.push(await probeOnce(name)); // one at a time: EP start-up touches global state
  return out;
}

/** The backend for an EP name; a UserError naming it and the available EPs when it is unknown or cannot run here. */
export async function getBackend(name: string): Promise<Backend> {
  const known = (EP_NAMES as readonly string[]).includes(name);
  const info = known ? await probeOnce(name as EpName) : undefined;
  if (info?.available) return open(info.name);
  const available = (await listBackends()).filter((b) => b.available).map((b) => b.name);
  throw new UserError(
    info ? `execution provider "${name}" is not available here: ${info.reason}` : `unknown execution provider "${name}"${didYouMean(name, EP_NAMES)}`,
    `available here: ${available.join(", ") || "none"} (known: ${EP_NAMES.join(", ")})`,
  );
}
