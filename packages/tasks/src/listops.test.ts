// LRA ListOps against its spec (listops.ts, datasets/listops/card.md): every example is parsed and evaluated
// here by a separate reader, and its tree checked against the generator's parameters.
import { describe, expect, it } from "vitest";
import { labelOf } from "./classification.ts";
import { LISTOPS, LISTOPS_VOCAB, applyOperator, listops, type ListOpsParams } from "./listops.ts";
import { IGNORE, type Example } from "./types.ts";

const NAMES: Record<number, string> = { [LISTOPS.MIN]: "MIN", [LISTOPS.MAX]: "MAX", [LISTOPS.MED]: "MED", [LISTOPS.SM]: "SM" };

/** numpy's median, then Python's int(): the mean of the middle pair for an even count, truncated. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.trunc((s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2);
}
const evaluate: Record<string, (xs: number[]) => number> = {
  MIN: (xs) => Math.min(...xs),
  MAX: (xs) => Math.max(...xs),
  MED: median,
  SM: (xs) => xs.reduce((a, b) => a + b, 0) % 10,
};

interface Parsed {
  value: number;
  /** Operator nesting depth (a digit: 0). */
  depth: number;
  ops: string[];
  arities: number[];
}

/** Reads one expression from tokens[at..]; returns it and where it ends. */
function parse(tokens: number[], at: number): { node: Parsed; next: number } {
  const t = tokens[at];
  if (t === undefined) throw new Error("unexpected end");
  if (t >= 0 && t <= 9) return { node: { value: t, depth: 0, ops: [], arities: [] }, next: at + 1 };
  const name = NAMES[t];
  if (!name) throw new Error(`unexpected token ${t} at ${at}`);
  const args: Parsed[] = [];
  let i = at + 1;
  while (tokens[i] !== LISTOPS.END) {
    const { node, next } = parse(tokens, i);
    args.push(node);
    i = next;
  }
  return {
    node: {
      value: evaluate[name]!(args.map((a) => a.value)),
      depth: 1 + Math.max(...args.map((a) => a.depth)),
      ops: [name, ...args.flatMap((a) => a.ops)],
      arities: [args.length, ...args.flatMap((a) => a.arities)],
    },
    next: i + 1,
  };
}

function check(e: Example, p: ListOpsParams): Parsed {
  const x = Array.from(e.input_ids);
  expect(x).toHaveLength(p.seq_len);
  expect(e.targets).toHaveLength(p.seq_len);
  expect(x.every((t) => Number.isInteger(t) && t >= 0 && t < LISTOPS_VOCAB)).toBe(true);
  expect(Array.from(e.targets.subarray(0, -1)).every((t) => t === IGNORE)).toBe(true);
  // Left padding, then one expression that ends at the last position.
  const start = x.findIndex((t) => t !== LISTOPS.PAD);
  const body = x.slice(start);
  expect(body.includes(LISTOPS.PAD)).toBe(false);
  expect(body.length).toBeGreaterThan(p.min_length);
  expect(body.length).toBeLessThan(p.seq_len);
  const { node, next } = parse(body, 0);
  expect(next).toBe(body.length);
  expect(labelOf(e)).toBe(node.value);
  // Operators nest below max_depth (the root is at depth 1, digits are forced at max_depth) with 2..max_args arguments.
  expect(node.depth).toBeLessThanOrEqual(p.max_depth - 1);
  expect(node.arities.every((n) => n >= 2 && n <= p.max_args)).toBe(true);
  return node;
}

describe("ListOps examples", () => {
  it.each([
    ["trained 100-500", listops.defaultParams, 150],
    ["LRA 500-2000", { seq_len: 2000, min_length: 500, max_depth: 10, max_args: 10 }, 60],
    ["shallow 20-60, depth 4, 3 arguments", { seq_len: 60, min_length: 20, max_depth: 4, max_args: 3 }, 200],
  ] as [string, ListOpsParams, number][])("%s: one expression, left-padded, its value as the label", (_, p, n) => {
    const nodes = listops.generate(p, "test", n, 11).map((e) => check(e, p));
    expect(new Set(nodes.flatMap((x) => x.ops))).toEqual(new Set(["MIN", "MAX", "MED", "SM"]));
  });

  it("spreads over the ten labels as LRA's do (MIN and MAX push 0 and 9 up)", () => {
    const counts = new Array<number>(10).fill(0);
    for (const e of listops.generate(listops.defaultParams, "train", 600, 0)) counts[labelOf(e)]!++;
    expect(counts.every((c) => c > 15)).toBe(true);
    expect(counts[0]! + counts[9]!).toBeGreaterThan(counts[4]! + counts[5]!);
  });

  it("applies the operators as LRA's to_value does", () => {
    expect(applyOperator(LISTOPS.MED, [3, 4])).toBe(3);
    expect(applyOperator(LISTOPS.MED, [9, 1, 5])).toBe(5);
    expect(applyOperator(LISTOPS.MED, [1, 2, 8, 9])).toBe(5);
    expect(applyOperator(LISTOPS.SM, [9, 9, 3])).toBe(1);
    expect(applyOperator(LISTOPS.MIN, [4, 2, 7])).toBe(2);
    expect(applyOperator(LISTOPS.MAX, [4, 2, 7])).toBe(7);
    expect(() => applyOperator(LISTOPS.END, [1])).toThrow();
  });
});

describe("ListOps settings and splits", () => {
  it("trains at lengths 100-500 and is evaluated at LRA's 500-2000, vocabulary 16", () => {
    const trained = listops.parseParams({});
    expect(trained).toEqual({ seq_len: 500, min_length: 100, max_depth: 10, max_args: 10 });
    const settings = listops.settings(trained);
    expect(settings.map((s) => [s.name, listops.seqLen(s.params)])).toEqual([["100-500", 500], ["500-2000", 2000]]);
    expect(settings[1]!.params).toEqual({ seq_len: 2000, min_length: 500, max_depth: 10, max_args: 10 });
    expect(listops.settings(settings[1]!.params).map((s) => s.name)).toEqual(["500-2000"]);
    for (const s of settings) expect(listops.vocab(s.params)).toBe(16);
  });

  it("refuses settings no tree can satisfy", () => {
    expect(() => listops.parseParams({ min_length: 499 })).toThrow(/min_length/);
    expect(() => listops.parseParams({ max_depth: 2, max_args: 3, min_length: 10, seq_len: 50 })).toThrow(/no tree/);
  });

  it("is deterministic by seed and split, and differs across them", () => {
    const a = listops.generate(listops.defaultParams, "test", 20, 0);
    expect(listops.generate(listops.defaultParams, "test", 20, 0)).toEqual(a);
    expect(listops.generate(listops.defaultParams, "test", 20, 1)).not.toEqual(a);
    expect(listops.generate(listops.defaultParams, "train", 20, 0)).not.toEqual(a);
  });

  it("draws train, valid and test from separate streams: no expression in two of them", () => {
    const key = (e: Example) => Array.from(e.input_ids).join(",");
    const sets = (["train", "valid", "test"] as const).map((s) => new Set(listops.generate(listops.defaultParams, s, 300, 0).map(key)));
    for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) expect([...sets[i]!].filter((k) => sets[j]!.has(k))).toEqual([]);
  });
});
