// What every browser bundle of this package shares: onnxruntime-web's files (served from the page's own origin,
// never a CDN) and the esbuild plugin that lets browser code import packages whose index has Node-only helpers.
import { createRequire } from "node:module";
import path from "node:path";
import type * as esbuild from "esbuild";

/** onnxruntime-web's dist folder (the ES module build and the wasm binary it loads, wasm and WebGPU in one). */
export const ortDist = () => path.dirname(createRequire(import.meta.url).resolve("onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm"));
export const ORT_FILES = ["ort.min.mjs", "ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm"];

/**
 * The browser code imports packages whose index also exports Node-only helpers (the task package's .npy writer):
 * node: modules resolve to an empty module, so those helpers exist but fail if called, and nothing else changes.
 */
export const nodeBuiltinsAbsent: esbuild.Plugin = {
  name: "node-builtins-absent",
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: "node-absent" }));
    build.onLoad({ filter: /.*/, namespace: "node-absent" }, () => ({ contents: "module.exports = {};", loader: "js" }));
  },
};
