// The browser-safe part of the runner (no node: imports): accuracy over examples and the timing of prefill and
// decode, as `bench` measures them. The in-browser runner and the Chromium speed cells (packages/web) use these,
// so their figures are computed by the same code as the Node run's.
export * from "./evaluate.ts";
export * from "./speed.ts";
export * from "./timing.ts";
export { oneLine, statusOf } from "./cell.ts";
