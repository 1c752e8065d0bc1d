import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { ResultRow } from "@ssmbench/core";
import { loadCards } from "./cards.ts";
import { accuracyTables, anchorFor, renderLeaderboard, settingLabel } from "./leaderboard.ts";
import { loadResults, mergeLeaderboard } from "./results.ts";

const basic = fileURLToPath(new URL("../fixtures/basic", import.meta.url));
const modelsDir = path.join(basic, "models");
const docsDir = path.join(basic, "docs");
const rows = mergeLeaderboard(loadResults(path.join(basic, "results")));
const cards = loadCards(modelsDir);
const md = renderLeaderboard({ rows, cards, docsDir, modelsDir });

/** The cells of the table row whose first cell holds this anchor. */
function rowOf(text: string, anchor: string): string[] {
  const line = text.split("\n").find((l) => l.startsWith(`| <a id="${anchor}">`));
  if (!line) throw new Error(`no row ${anchor}`);
  return line.split(" | ").map((c) => c.replace(/^\| |\s\|$/g, ""));
}

describe("overview", () => {
  it("has a column per task, a row per family, each cell the family's trained-setting value linked to its row", () => {
    const lines = md.split("\n");
    const at = lines.indexOf("## Overview: tasks x families");
    expect(at).toBeGreaterThanOrEqual(0);
    const header = lines.slice(at).find((l) => l.startsWith("| family"))!;
    expect(header).toContain("MQAR (accuracy)");
    const t = accuracyTables(rows, cards)[0]!;
    for (const r of t.rows) {
      const trained = r.cells.find((c) => c?.status === "ok" && c.seq_len === r.card?.task.params.seq_len);
      const line = lines.slice(at).find((l) => l.startsWith(`| [${r.card!.family}]`))!;
      expect(line).toContain(trained ? `(#${r.anchor})` : "—");
    }
  });
});

describe("accuracy table", () => {
  const t = accuracyTables(rows, cards)[0]!;

  it("has one column per setting, by length, and every card as a row", () => {
    expect(t.columns.map((c) => c.label)).toEqual(["MQAR 128/8", "MQAR 256/16", "MQAR 512/32", "MQAR 1024/64"]);
    expect(t.rows.map((r) => r.anchor)).toEqual(["mamba-mqar", "rwkv-mqar", "transformer-mqar"]);
  });

  it("bolds the best of each column only", () => {
    const mamba = rowOf(md, "mamba-mqar");
    const transformer = rowOf(md, "transformer-mqar");
    expect(transformer[3]).toBe("**99.9%** (99.8–100.0)");
    expect(mamba[3]).toBe("99.2% (99.0–99.4)");
    // No rival (the other rows are NA or FAIL): nothing to be best against, so not bold.
    expect(mamba[5]).toBe("90.3% (89.5–91.1)");
    expect(mamba[6]).toBe("50.0% (49.0–51.0)");
  });

  it("keeps FAIL (ran and failed) apart from NA (never ran)", () => {
    const transformer = rowOf(md, "transformer-mqar");
    expect(transformer[5]).toBe("NA");
    expect(transformer[6]).toBe("FAIL (oom)");
    expect(rowOf(md, "rwkv-mqar").slice(3)).toEqual(["NA", "NA", "NA", "NA"]);
  });

  it("bolds ties at display precision, and nothing when a value has no rival", () => {
    const base = rows.find((r) => r.model === "mamba-mqar" && r.split === "test@128/8")!;
    const two: ResultRow[] = [
      { ...base, model: "a-mqar", value: 0.9921 },
      { ...base, model: "b-mqar", value: 0.9919 },
      { ...base, model: "c-mqar", value: 0.5, split: "test@256/16", seq_len: 256 },
    ];
    const out = renderLeaderboard({ rows: two, cards: [], docsDir, modelsDir });
    expect(rowOf(out, "a-mqar")[3]).toMatch(/^\*\*99\.2%\*\*/);
    expect(rowOf(out, "b-mqar")[3]).toMatch(/^\*\*99\.2%\*\*/);
    expect(rowOf(out, "c-mqar")[4]).toMatch(/^50\.0%/);
  });
});

describe("leaderboard.md", () => {
  it("links each row to the checkpoint's card and family page", () => {
    expect(rowOf(md, "mamba-mqar")[0]).toBe(
      '<a id="mamba-mqar"></a>[mamba-mqar](models/mamba.md#mamba-mqar) ([card](../models/mamba-mqar/card.json))',
    );
  });

  it("gives every table row a unique anchor", () => {
    const ids = [...md.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(5);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain("mamba-mqar-speed-cpu");
    expect(ids).toContain("mamba-mqar-speed-wasm");
  });

  it("cites Zoology's MQAR settings beside ours from the card", () => {
    expect(md).toContain("[arXiv 2312.04927](https://arxiv.org/abs/2312.04927)");
    expect(md).toContain("only as figures");
    expect(md).toMatch(/\| vocabulary \| 8,192 \| 8,192 \|/);
    expect(md).toMatch(/\| training \(seq len, kv pairs\) \| \(64, 4\), \(128, 8\), \(256, 16\) \| \(128, 8\) \|/);
    expect(md).toMatch(/\| d_model \| 64 \.\. 512 \| 128 \|/);
    expect(md).toContain("swept over logspace(-4, -2, 4), best kept | 1e-3, best of a 4-run sweep over 1e-4, 4.642e-4, 1e-3, 0.01 |");
  });

  it("has a speed table per EP with host, runtime and the p90 of decode", () => {
    expect(md).toContain("### cpu");
    expect(md).toContain("### wasm");
    const mamba = rowOf(md, "mamba-mqar-speed-cpu");
    expect(mamba.slice(1)).toEqual(["61,235", "60,111", "**0.210** (0.250)", "**38.0 KiB**", "**210**", "bench-1 (AMD EPYC 7B13, 2 cores)", "onnxruntime-node 1.30.0"]);
    expect(rowOf(md, "transformer-mqar-speed-cpu")[2]).toBe("FAIL (timeout)");
    expect(rowOf(md, "mamba-mqar-speed-wasm")[1]).toBe("12,346"); // alone on its EP: not bold
  });

  it("names the provenance of the rows shown", () => {
    expect(md).toMatch(/\| `2025-01-10-a` \| 2025-01-10 \| `1111111111` \|.*\| 3 \|/);
    expect(md).toMatch(/\| `2025-02-01-b` \| 2025-02-01 \| `2222222222` \|.*\| 19 \|/);
    expect(md).toContain("transformer-mqar, MQAR 1024/64, cpu: FAIL (oom): allocation of 4 GiB failed");
  });
});

describe("names", () => {
  it("anchors and settings", () => {
    expect(anchorFor("mamba-mqar", "mqar")).toBe("mamba-mqar");
    expect(anchorFor("mamba-small", "mqar")).toBe("mamba-small-mqar");
    expect(anchorFor("mamba-mqar-d128", "mqar")).toBe("mamba-mqar-d128");
    expect(settingLabel("mqar", "test@128/8")).toBe("MQAR 128/8");
    expect(settingLabel("mqar", "valid@128/8")).toBe("MQAR valid 128/8");
  });
});

describe("accuracy against model width", () => {
  it("has a row per family and a column per d_model, linking each cell to its checkpoint's row", () => {
    const i = md.indexOf("#### MQAR: accuracy against model width");
    expect(i).toBeGreaterThan(0);
    const lines = md.slice(i).split("\n").filter((l) => l.startsWith("|"));
    expect(lines[0]).toBe("| family | d_model 128 |");
    // best of the column in bold; FAIL and NA kept apart
    expect(lines.find((l) => l.startsWith("| transformer"))).toBe("| transformer | [**99.9%**](#transformer-mqar) |");
    expect(lines.find((l) => l.startsWith("| mamba"))).toBe("| mamba | [99.2%](#mamba-mqar) |");
    expect(lines.find((l) => l.startsWith("| rwkv"))).toMatch(/^\| rwkv \| \[(NA|FAIL \(\w+\))\]\(#rwkv-mqar\) \|$/);
  });
});

describe("Zoology's finding, checked on the numbers", () => {
  const base = rows.find((r) => r.model === "mamba-mqar" && r.split === "test@128/8" && r.status === "ok")!;
  const card = cards.find((c) => c.id === "mamba-mqar")!;
  const make = (family: string, width: number, value: number) => ({
    card: { ...card, id: `${family}-${width}`, family, variant: family, config: { ...card.config, d_model: width } },
    row: { ...base, model: `${family}-${width}`, value },
  });
  const render = (xs: ReturnType<typeof make>[]) =>
    renderLeaderboard({ rows: xs.map((x) => x.row), cards: xs.map((x) => x.card), docsDir, modelsDir });

  it("says reproduced when attention solves the small width and gated convolutions trail and gain with width", () => {
    const out = render([make("transformer", 64, 0.97), make("transformer", 128, 0.99), make("hyena", 64, 0.05), make("hyena", 128, 0.12), make("mamba", 64, 0.99)]);
    expect(out).toContain("Attention: transformer 97.0% → 99.0%. Gated convolutions: hyena 5.0% → 12.0%. Input-dependent recurrences, for comparison: mamba 99.0% → —.");
    expect(out).toContain("**Reproduced here**");
  });

  it("says which part does not hold otherwise", () => {
    const out = render([make("transformer", 64, 0.8), make("transformer", 128, 0.99), make("retnet", 64, 0.7), make("retnet", 128, 0.6)]);
    expect(out).toMatch(/\*\*Not fully reproduced here\*\*: attention is below 90% at the smallest width; not every gated convolution is 20 points or more below attention at the smallest width; not every gated convolution gains with width\./);
  });
});

describe("speed against attention", () => {
  it("divides only rows of the same run and EP, attention of the same width as the baseline", () => {
    const i = md.indexOf("#### cpu: speed against attention");
    expect(i).toBeGreaterThan(0);
    const section = md.slice(i).split("\n");
    const end = section.findIndex((l, k) => k > 0 && l.startsWith("#"));
    const lines = section.slice(0, end < 0 ? undefined : end).filter((l) => l.startsWith("|"));
    const mamba = lines.find((l) => l.startsWith("| mamba-mqar"))!;
    expect(mamba).toContain("| transformer-mqar | `2025-02-01-b` |");
    // decode: attention 0.35 ms over mamba 0.21 ms in the same run
    expect(mamba.trimEnd().endsWith(`| ${(0.35 / 0.21).toFixed(2)}x |`)).toBe(true);
    // no ratio from the older run, which has no attention rows
    expect(lines.some((l) => l.includes("2025-01-10-a"))).toBe(false);
    // the attention baseline is not compared with itself, and wasm (no attention rows) gets no ratio table
    expect(lines.some((l) => l.startsWith("| transformer-mqar"))).toBe(false);
    expect(md).not.toContain("#### wasm: speed against attention");
  });
});

describe("language-modelling tables", () => {
  const base = rows.find((r) => r.model === "mamba-mqar" && r.split === "test@128/8" && r.status === "ok")!;
  const card = cards.find((c) => c.id === "mamba-mqar")!;
  const lmCard = (id: string, task: string) => ({ ...card, id, task: { id: task, version: "1.0.0", params: { seq_len: 1024 } }, vocab: 256 });
  const row = (model: string, task: string, metric: ResultRow["metric"], split: string, value: number, extra: Partial<ResultRow> = {}): ResultRow => ({
    ...base, model, task, metric, split, seq_len: Number(split.slice(6)), value, ci_low: value - 0.01, ci_high: value + 0.01, n: 1000, ...extra,
  });
  const lmRows = [
    row("mamba-byte-lm", "byte-lm", "bits_per_byte", "test@L1024", 1.8234),
    row("transformer-byte-lm", "byte-lm", "bits_per_byte", "test@L1024", 2.1),
    row("mamba-byte-lm", "byte-lm", "bits_per_byte", "test@L4096", 1.7),
    row("transformer-byte-lm", "byte-lm", "bits_per_byte", "test@L4096", Number.NaN, { status: "nan", ci_low: null, ci_high: null }),
    row("mamba-subword-lm", "subword-lm", "perplexity", "test@L256", 12.345),
    row("mamba-subword-lm", "subword-lm", "bits_per_byte", "test@L256", 1.5),
    row("hyena-subword-lm", "subword-lm", "perplexity", "test@L256", 15),
    row("hyena-subword-lm", "subword-lm", "bits_per_byte", "test@L256", 1.6),
  ];
  const lmCards = [lmCard("mamba-byte-lm", "byte-lm"), lmCard("transformer-byte-lm", "byte-lm"), lmCard("mamba-subword-lm", "subword-lm"), lmCard("hyena-subword-lm", "subword-lm")];
  const out = renderLeaderboard({ rows: [...rows, ...lmRows], cards: [...cards, ...lmCards], docsDir, modelsDir });

  it("get their own section with one table per task and metric, the main metric first", () => {
    const tables = accuracyTables(lmRows, lmCards);
    expect(tables.map((t) => `${t.task}:${t.metric}`)).toEqual(["byte-lm:bits_per_byte", "subword-lm:perplexity", "subword-lm:bits_per_byte"]);
    expect(out).toContain("## Language modelling");
    expect(out.indexOf("### Byte LM: bits per byte")).toBeGreaterThan(out.indexOf("## Language modelling"));
    expect(out.indexOf("### Subword LM: perplexity")).toBeLessThan(out.indexOf("### Subword LM: bits per byte"));
    expect(out).not.toContain("### Byte LM\n"); // not among the accuracy tables
  });

  it("bolds the lowest value (lower is better), shows intervals, keeps FAIL apart", () => {
    expect(rowOf(out, anchorFor("mamba-byte-lm", "byte-lm")).slice(3)).toEqual(["**1.823** (1.813–1.833)", "1.700 (1.690–1.710)"]);
    expect(rowOf(out, anchorFor("transformer-byte-lm", "byte-lm")).slice(3)).toEqual(["2.100 (2.090–2.110)", "FAIL (nan)"]);
    expect(rowOf(out, anchorFor("mamba-subword-lm", "subword-lm"))[3]).toBe("**12.35** (12.34–12.36)");
    expect(rowOf(out, `${anchorFor("mamba-subword-lm", "subword-lm")}-bits-per-byte`)[3]).toBe("**1.500** (1.490–1.510)");
    expect(rowOf(out, anchorFor("hyena-subword-lm", "subword-lm"))[3]).toBe("15.00 (14.99–15.01)");
  });

  it("keeps every anchor unique and the language-modelling rows out of the speed tables", () => {
    const ids = [...out.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.some((id) => /byte-lm-speed|subword-lm-speed/.test(id!))).toBe(false);
    expect(out).toContain("transformer-byte-lm, Byte LM L4096 bits per byte, cpu: FAIL (nan)");
  });

  it("cites MambaByte's settings under the byte-lm table, with no figure", () => {
    expect(out).toContain("#### Published: MambaByte (Wang et al., 2024), [arXiv 2401.13660](https://arxiv.org/abs/2401.13660)");
    expect(out).toMatch(/\| vocabulary \| 256 bytes \| 256 \| 256 \|/);
  });

  it("leaves the page as it was when there are no language-modelling rows or cards", () => {
    expect(md).not.toContain("## Language modelling");
    // the accuracy section unchanged (the overview above it gains the language-modelling columns)
    expect(out).toContain(md.slice(md.indexOf("## Accuracy"), md.indexOf("## Speed")).replace(/\n+$/, ""));
  });
});
