// The tiny committed fixture (fixtures/make_fixture.py) for this package's tests.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { StateTensor } from "@ssmbench/core";

export const fixtureDir = fileURLToPath(new URL("../fixtures/", import.meta.url));

interface Array2 { dims: number[]; data: number[] }
export interface Golden {
  vocab: number;
  states: StateTensor[];
  input_ids: Array2;
  logits: Array2;
  "present_ssm.0": Array2;
}

export const golden: Golden = JSON.parse(readFileSync(new URL("golden.json", `file://${fixtureDir}`), "utf8"));

export const goldenIds = () => BigInt64Array.from(golden.input_ids.data, BigInt);

/** Largest |a - b| over two equally long arrays (Infinity when the lengths differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
