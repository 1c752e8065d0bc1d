// Materialise a task's split as .npy files for the Python trainer (the generator stays the single source of truth).
import { mkdirSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { Example, Split, TaskDef } from "./types.ts";
import { writeNpy } from "./npy.ts";

export interface SplitFiles {
  inputs: string;
  targets: string;
  meta: string;
}

/** Stacks examples of one length into one [n, T] array; int16 while the vocabulary fits, else int32. */
export function stack(examples: Example[], vocab: number): { inputs: Int16Array | Int32Array; targets: Int16Array | Int32Array; shape: [number, number] } {
  const T = examples[0]?.input_ids.length ?? 0;
  const Arr = vocab <= 32767 ? Int16Array : Int32Array;
  const inputs = new Arr(examples.length * T);
  const targets = new Arr(examples.length * T);
  examples.forEach((e, i) => {
    if (e.input_ids.length !== T) throw new Error("stack: examples differ in length");
    inputs.set(e.input_ids, i * T);
    targets.set(e.targets, i * T);
  });
  return { inputs, targets, shape: [examples.length, T] };
}

export function writeSplit<P extends Record<string, unknown>>(
  task: TaskDef<P>,
  params: P,
  split: Split,
  n: number,
  seed: number,
  dir: string,
): SplitFiles {
  mkdirSync(dir, { recursive: true });
  const { inputs, targets, shape } = stack(task.generate(params, split, n, seed), task.vocab(params));
  const files = {
    inputs: join(dir, `${split}.inputs.npy`),
    targets: join(dir, `${split}.targets.npy`),
    meta: join(dir, `${split}.meta.json`),
  };
  writeNpy(files.inputs, inputs, shape);
  writeNpy(files.targets, targets, shape);
  // metric: how the task is scored, so the trainer keeps the learning rate with the lowest validation loss for a
  // language-modelling task (bits per byte, perplexity) and the highest validation accuracy otherwise.
  const meta = { task: task.id, version: task.version, metric: task.metric, params, split, n, seed, vocab: task.vocab(params), shape };
  writeFileSync(`${files.meta}.tmp`, JSON.stringify(meta, null, 2) + "\n");
  renameSync(`${files.meta}.tmp`, files.meta);
  return files;
}
