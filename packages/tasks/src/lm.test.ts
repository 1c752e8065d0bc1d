import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { kjvText } from "./kjv.ts";
import { byteLm, SUBWORD_DIR, SUBWORD_VOCAB, subwordLm, subwordTokenizer, subwordTokens, windowOffsets } from "./lm.ts";
import { Rng } from "./rng.ts";
import { IGNORE, scoreLogLikelihood, type Example } from "./types.ts";
import { tasks } from "./index.ts";

/** Debian's bible-kjv: CI installs it and sets SSMBENCH_REQUIRE_KJV=1 (the tests then fail rather than skip). */
const haveKjv = spawnSync("bible", ["-f", "-p", "/usr/lib", "Ge1:1"]).status === 0 || process.env.SSMBENCH_REQUIRE_KJV === "1";

describe("scoreLogLikelihood on hand-made logits", () => {
  // vocab 3; position 0: equal logits (p = 1/3 each), target 1, argmax 0 (the first of the ties): wrong;
  // position 1: logits 0, ln 3, ln 4 (p = 1/8, 3/8, 4/8), target 2: right, -log2(1/2) = 1 bit;
  // position 2: not scored (its logits would cost 100 bits).
  const example: Example = { input_ids: Int32Array.from([0, 1, 2]), targets: Int32Array.from([1, 2, IGNORE]) };
  const logits = Float32Array.from([0, 0, 0, 0, Math.log(3), Math.log(4), 0, 0, -100 * Math.LN2]);
  const bits = Math.log2(3) + 1;

  it("sums -log2 p(target) over scored positions, counts argmax hits, one byte a token by default", () => {
    const s = scoreLogLikelihood(example, logits, 3);
    expect(s.correct).toBe(1);
    expect(s.total).toBe(2);
    expect(s.bits).toBeCloseTo(bits, 6);
    expect(s.bytes).toBe(2);
    expect(s.bits! / s.bytes!).toBeCloseTo((Math.log2(3) + 1) / 2, 6); // bits per byte
  });

  it("counts each target's bytes for bits per byte, and gives the perplexity 2^(bits/tokens)", () => {
    const s = scoreLogLikelihood(example, logits, 3, 0, [1, 2, 3]);
    expect(s.bytes).toBe(2 + 3);
    expect(s.bits! / s.bytes!).toBeCloseTo(bits / 5, 6);
    expect(2 ** (s.bits! / s.total)).toBeCloseTo(Math.sqrt(6), 5); // exp(mean nats) = sqrt(3 * 2)
  });

  it("reads the example at its offset in a batch, and is shift-invariant in the logits", () => {
    const batch = new Float32Array(2 * 9);
    batch.set(logits.map((x) => x + 16), 9);
    const s = scoreLogLikelihood(example, batch, 3, 9);
    expect(s.bits).toBeCloseTo(bits, 5);
    expect(s.correct).toBe(1);
  });

  it("refuses a target outside the vocabulary", () => {
    expect(() => scoreLogLikelihood({ input_ids: Int32Array.from([0]), targets: Int32Array.from([3]) }, new Float32Array(3), 3)).toThrow(/outside the vocabulary/);
  });
});

describe("windowOffsets", () => {
  it("cuts valid and test into consecutive windows (stride L), evenly spread when fewer are asked for", () => {
    // 101 tokens, L = 10: 10 windows of 10 inputs, every token but the first scored once
    expect(windowOffsets(101, 10, "test", 1000, new Rng(0))).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(windowOffsets(101, 10, "valid", 4, new Rng(0))).toEqual([0, 20, 50, 70]);
    expect(windowOffsets(100, 10, "test", 1000, new Rng(0))).toHaveLength(9); // the 10th would need a 101st target
  });

  it("draws train windows anywhere, seeded", () => {
    const a = windowOffsets(1000, 10, "train", 500, new Rng(1, "s"));
    expect(a).toEqual(windowOffsets(1000, 10, "train", 500, new Rng(1, "s")));
    expect(a).not.toEqual(windowOffsets(1000, 10, "train", 500, new Rng(2, "s")));
    expect(Math.min(...a)).toBe(0);
    expect(Math.max(...a)).toBe(990 - 1);
  });

  it("refuses a text shorter than one window", () => {
    expect(() => windowOffsets(10, 10, "test", 1, new Rng(0))).toThrow(/too few/);
  });
});

describe("registry", () => {
  it("registers byte-lm (bits per byte) and subword-lm (perplexity), versioned", () => {
    expect(tasks["byte-lm"]).toBe(byteLm);
    expect(tasks["subword-lm"]).toBe(subwordLm);
    expect([byteLm.metric, subwordLm.metric]).toEqual(["bits_per_byte", "perplexity"]);
    expect(byteLm.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(subwordLm.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("has the vocabulary and length of every setting: byte-lm 256 at 1024 then 4096, subword-lm 1024 at 256 then 1024", () => {
    const s = (t: typeof byteLm) => t.settings(t.defaultParams).map((x) => [x.name, t.vocab(x.params), t.seqLen(x.params)]);
    expect(s(byteLm)).toEqual([["L1024", 256, 1024], ["L4096", 256, 4096]]);
    expect(s(subwordLm)).toEqual([["L256", SUBWORD_VOCAB, 256], ["L1024", SUBWORD_VOCAB, 1024]]);
    expect(byteLm.parseParams({})).toEqual({ seq_len: 1024 });
    expect(byteLm.settings({ seq_len: 4096 }).map((x) => x.name)).toEqual(["L4096"]);
    expect(() => byteLm.parseParams({ seq_len: 1 })).toThrow();
  });
});

const ascii = (codes: ArrayLike<number>) => new TextDecoder().decode(Uint8Array.from(codes));

/** The text the windows of a held-out split cover, put back together: inputs, then the last window's last target. */
function covered(examples: Example[]): number[] {
  const out: number[] = [];
  for (const e of examples) out.push(...e.input_ids);
  out.push(examples[examples.length - 1]!.targets.at(-1)!);
  return out;
}

function checkWindows(examples: Example[], L: number, vocab: number) {
  for (const e of examples) {
    expect(e.input_ids).toHaveLength(L);
    expect(e.targets).toHaveLength(L);
    expect([...e.targets.subarray(0, L - 1)]).toEqual([...e.input_ids.subarray(1)]); // next token
    expect(e.targets.includes(IGNORE)).toBe(false); // every position scored
    expect(Math.max(...e.input_ids, ...e.targets)).toBeLessThan(vocab);
    expect(Math.min(...e.input_ids, ...e.targets)).toBeGreaterThanOrEqual(0);
  }
}

describe.skipIf(!haveKjv)("byte-lm", () => {
  const p = byteLm.defaultParams;

  it("cuts the test split into every consecutive 1,024-byte window, each byte after the first scored once", () => {
    const test = byteLm.generate(p, "test", 1000, 0);
    const text = kjvText("test");
    expect(test).toHaveLength(Math.floor((text.length - 1) / 1024));
    checkWindows(test, 1024, 256);
    expect(ascii(covered(test))).toBe(text.slice(0, test.length * 1024 + 1));
    // fewer asked: a spread-out subset of the same windows
    const ten = byteLm.generate(p, "test", 10, 0);
    expect(ten).toHaveLength(10);
    for (const e of ten) expect(test.some((t) => t.input_ids.every((x, i) => x === e.input_ids[i]))).toBe(true);
  });

  it("is deterministic by seed; train windows come from the train books only, valid from valid", () => {
    const a = byteLm.generate(p, "train", 20, 5);
    const b = byteLm.generate(p, "train", 20, 5);
    expect(a.map((e) => [...e.input_ids])).toEqual(b.map((e) => [...e.input_ids]));
    expect(a.map((e) => [...e.input_ids])).not.toEqual(byteLm.generate(p, "train", 20, 6).map((e) => [...e.input_ids]));
    checkWindows(a, 1024, 256);
    const train = kjvText("train");
    for (const e of a) expect(train.includes(ascii([...e.input_ids, e.targets.at(-1)!]))).toBe(true);
    const valid = byteLm.generate(p, "valid", 1000, 0);
    expect(ascii(covered(valid))).toBe(kjvText("valid").slice(0, valid.length * 1024 + 1));
  });

  it("evaluates at 4096 too: fewer, longer windows of the same text", () => {
    const long = byteLm.generate({ seq_len: 4096 }, "test", 1000, 0);
    expect(long).toHaveLength(Math.floor((kjvText("test").length - 1) / 4096));
    checkWindows(long.slice(0, 3), 4096, 256);
  });

  it("scores a uniform model at exactly 8 bits per byte", () => {
    const [e] = byteLm.generate(p, "test", 1, 0);
    const s = byteLm.scoreExample!(e!, new Float32Array(1024 * 256), 256, 0);
    expect(s.total).toBe(1024);
    expect(s.bits! / s.bytes!).toBeCloseTo(8, 9);
  });
});

describe.skipIf(!haveKjv)("subword-lm", () => {
  const p = subwordLm.defaultParams;

  it("loads the committed tokenizer offline through transformers.js with 1,024 tokens", () => {
    const { tok, bytesOf } = subwordTokenizer();
    expect(bytesOf).toHaveLength(SUBWORD_VOCAB);
    expect(tok.get_vocab().size).toBe(SUBWORD_VOCAB);
    expect(Math.min(...bytesOf)).toBe(1);
  });

  it("gives the same ids as the Python tokenizer it was trained with (golden strings)", () => {
    const golden = JSON.parse(readFileSync(new URL("tokenizer.golden.json", SUBWORD_DIR), "utf8")) as { text: string; ids: number[] }[];
    expect(golden.length).toBeGreaterThan(3);
    const { tok } = subwordTokenizer();
    for (const g of golden) expect(tok.encode(g.text, { add_special_tokens: false }), g.text).toEqual(g.ids);
  });

  it("was trained on this train split (its meta file records the text's sha256)", () => {
    const meta = JSON.parse(readFileSync(new URL("tokenizer.meta.json", SUBWORD_DIR), "utf8")) as { text_sha256: string; vocab_size: number };
    expect(meta.vocab_size).toBe(SUBWORD_VOCAB);
    expect(createHash("sha256").update(kjvText("train")).digest("hex")).toBe(meta.text_sha256);
  });

  it("tokenizes the test split losslessly: tokens' bytes add up to the text's, and decode gives it back", () => {
    const ids = subwordTokens("test");
    const text = kjvText("test");
    const { tok, bytesOf } = subwordTokenizer();
    expect(ids.reduce((s, id) => s + bytesOf[id]!, 0)).toBe(text.length);
    expect(tok.decode([...ids])).toBe(text);
    expect(text.length / ids.length).toBeGreaterThan(2.5); // about 3 bytes a token
  });

  it("cuts the test split into consecutive windows of 256 tokens, deterministic by seed", () => {
    const test = subwordLm.generate(p, "test", 1000, 0);
    const ids = subwordTokens("test");
    expect(test).toHaveLength(Math.floor((ids.length - 1) / 256));
    checkWindows(test, 256, SUBWORD_VOCAB);
    expect(covered(test)).toEqual([...ids.subarray(0, test.length * 256 + 1)]);
    const again = subwordLm.generate(p, "test", 1000, 0);
    expect(again.map((e) => [...e.input_ids])).toEqual(test.map((e) => [...e.input_ids]));
    expect(subwordLm.generate({ seq_len: 1024 }, "test", 1000, 0)).toHaveLength(Math.floor((ids.length - 1) / 1024));
  });

  it("scores perplexity per token and bits per byte with each token's bytes", () => {
    const [e] = subwordLm.generate(p, "test", 1, 0);
    const s = subwordLm.scoreExample!(e!, new Float32Array(256 * SUBWORD_VOCAB), SUBWORD_VOCAB, 0);
    expect(2 ** (s.bits! / s.total)).toBeCloseTo(SUBWORD_VOCAB, 6); // uniform: perplexity = vocabulary
    const { bytesOf } = subwordTokenizer();
    expect(s.bytes).toBe(e!.targets.reduce((n, t) => n + bytesOf[t]!, 0));
    expect(s.bits! / s.bytes!).toBeCloseTo((256 * 10) / s.bytes!, 6); // 10 bits a token over its bytes
  });
});
