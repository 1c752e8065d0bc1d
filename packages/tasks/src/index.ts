import { listops } from "./listops.ts";
import { psmnist, smnist } from "./mnist.ts";
import { mqar } from "./mqar.ts";
import { pathfinder } from "./pathfinder.ts";
import { text } from "./text.ts";
import { byteLm, subwordLm } from "./lm.ts";
import { associativeRecall, copying, inductionHeads, selectiveCopying } from "./synthetic.ts";
import type { TaskDef } from "./types.ts";

export * from "./types.ts";
export * from "./npy.ts";
export * from "./dataset.ts";
export { Rng } from "./rng.ts";
export { mqar, MqarParams, generateMqar } from "./mqar.ts";
export * from "./synthetic.ts";
export * from "./classification.ts";
export * from "./mnist.ts";
export * from "./text.ts";
export * from "./listops.ts";
export * from "./pathfinder.ts";
export * from "./kjv.ts";
export * from "./lm.ts";

/** The one registry of tasks: add a task by adding it here (typed, no second table anywhere). */
export const tasks = {
  mqar,
  "selective-copying": selectiveCopying,
  "induction-heads": inductionHeads,
  "associative-recall": associativeRecall,
  copying,
  smnist,
  psmnist,
  text,
  listops,
  pathfinder,
  "byte-lm": byteLm,
  "subword-lm": subwordLm,
} satisfies Record<string, TaskDef<any>>;
export type TaskId = keyof typeof tasks;
