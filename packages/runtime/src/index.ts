// @ssmbench/runtime: one Backend interface over onnxruntime-node (cpu, cuda, webgpu) and onnxruntime-web (wasm),
// and the generic driver that runs every checkpoint through the prefill/step contract.
export * from "./types.ts";
export { getBackend, listBackends, ortMessage } from "./backends.ts";
export { RecurrentDriver, NonFiniteError, assertFinite, stateDims, type DriverOptions, type Logits, type ModelSpec, type State } from "./driver.ts";
export { openModel, type OpenOptions } from "./model.ts";
export { argmax, checkGolden, type Golden, type GoldenCheck } from "./golden.ts";
