// The classification tasks' published figures (published.ts) as the leaderboard prints them: a readable heading,
// the source, the figures copied from shared/anchors.md and our settings beside theirs.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { ModelCard } from "@ssmbench/core";
import { loadCards } from "./cards.ts";
import { renderLeaderboard, settingLabel, taskLabel } from "./leaderboard.ts";
import { published } from "./published.ts";

const basic = fileURLToPath(new URL("../fixtures/basic", import.meta.url));
const modelsDir = path.join(basic, "models");
const docsDir = path.join(basic, "docs");
const template = loadCards(modelsDir).find((c) => c.id === "mamba-mqar")!;

/** A fixture card moved to another task (only the fields the published rows read differ). */
function cardFor(task: string, params: Record<string, unknown>, vocab: number): ModelCard {
  return { ...template, id: `mamba-${task}`, task: { id: task, version: "1.0.0", params }, vocab };
}

const cases: [string, string, Record<string, unknown>, number, string[]][] = [
  ["smnist", "sMNIST", { side: 14 }, 256, ["S4 | 99.63", "pixels read (sequence length) | 784 (28x28) | 196"]],
  ["psmnist", "psMNIST", { side: 28 }, 256, ["S4 | 98.70", "pixels read (sequence length) | 784 (28x28) | 784"]],
  ["listops", "LRA ListOps", { seq_len: 500, min_length: 100, max_depth: 10, max_args: 10 }, 16, ["Mega | 63.14", "Transformer | 36.37", "S4 | 59.6", "100 < length < 500"]],
  ["text", "LRA Text", { seq_len: 1024 }, 257, ["Mega | 90.43", "Transformer | 64.27", "LRU | 89.4", "bytes read | 4,096 (truncated, padded) | 1,024"]],
  ["pathfinder", "LRA Pathfinder", { contour_length: 14 }, 256, ["Mega | 96.01", "Transformer | 71.40", "S5 | 95.3", "32x32, 14 (hard) | 32x32, 14"]],
];

describe.each(cases)("%s", (task, label, params, vocab, expected) => {
  it("has a readable label and its published figures, with our settings beside theirs", () => {
    expect(taskLabel(task)).toBe(label);
    expect(settingLabel(task, "test@x")).toBe(`${label} x`);
    const pub = published[task]!;
    expect(pub.arxiv).toMatch(/^\d{4}\.\d{5}$/);
    const md = renderLeaderboard({ rows: [], cards: [cardFor(task, params, vocab)], docsDir, modelsDir });
    expect(md).toContain(`### ${label}`);
    expect(md).toContain(`#### Published: ${pub.source}, [arXiv ${pub.arxiv}]`);
    for (const text of expected) expect(md).toContain(text);
  });
});

it("prints one LRA column per task, the same models in the same order", () => {
  const models = (task: string) => published[task]!.figures![0]!.rows.map((r) => r[0]);
  for (const task of ["listops", "text", "pathfinder"]) expect(models(task)).toEqual(["Transformer", "S4", "S4D-LegS", "S5", "LRU", "Mega"]);
});
