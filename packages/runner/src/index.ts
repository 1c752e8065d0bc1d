export * from "./discover.ts";
export * from "./results.ts";
export * from "./timing.ts";
export * from "./evaluate.ts";
export * from "./speed.ts";
export * from "./bench.ts";
export * from "./userdata.ts";
export { formatTable } from "./table.ts";
