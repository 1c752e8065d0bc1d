import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { UserError } from "@ssmbench/core";
import { loadAwesome, statusCell } from "./awesome.ts";
import { loadCards } from "./cards.ts";
import { generateDocs } from "./docs.ts";
import { accuracyTables } from "./leaderboard.ts";
import { loadResults, mergeLeaderboard } from "./results.ts";

const basic = fileURLToPath(new URL("../fixtures/basic", import.meta.url));
const paths = { resultsDir: path.join(basic, "results"), modelsDir: path.join(basic, "models"), docsDir: path.join(basic, "docs") };
const files = generateDocs(paths);
const awesome = files.get(path.join(paths.docsDir, "awesome.md"))!;
const leaderboard = files.get(path.join(paths.docsDir, "leaderboard.md"))!;
const data = loadAwesome();
const entries = data.lists.flatMap((l) => l.sections.flatMap((s) => s.entries));

/** Table body rows of awesome.md (not headers, not separators). */
const bodyRows = awesome.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| entry |") && !l.startsWith("| --- |"));

describe("awesome.md", () => {
  it("has one table row per entry of awesome.json, in order", () => {
    expect(entries.length).toBeGreaterThan(100);
    expect(bodyRows).toHaveLength(entries.length);
    entries.forEach((e, i) => expect(bodyRows[i]).toContain(e.title.replace(/\|/g, "\\|")));
    for (const l of data.lists) for (const s of l.sections) expect(awesome).toContain(`### ${s.title}\n`);
  });

  it("links reproduced entries to an existing anchor in leaderboard.md", () => {
    const mamba = bodyRows.find((r) => r.includes("(https://github.com/state-spaces/mamba)"))!;
    expect(mamba).toContain("reproduced: [mamba-mqar](leaderboard.md#mamba-mqar) 99.2% MQAR 128/8");
    const targets = [...awesome.matchAll(/\]\(leaderboard\.md#([^)]+)\)/g)].map((m) => m[1]);
    expect(targets.length).toBeGreaterThan(0);
    for (const t of new Set(targets)) expect(leaderboard).toContain(`<a id="${t}"></a>`);
  });

  it("says planned for a family without checkpoint, not benchmarked for one without results, — otherwise", () => {
    const status = (i: number) => bodyRows[i]!.split(" | ").at(-1)!;
    entries.forEach((e, i) => {
      if (e.family === null) expect(status(i)).toBe("— |");
      else if (e.family === "gla") expect(status(i)).toBe("planned (family gla) |");
      else if (e.family === "rwkv") expect(status(i)).toMatch(/^checkpoint \[rwkv-mqar\]\(leaderboard\.md#rwkv-mqar\): not benchmarked yet/);
    });
  });

  it("links the title to arXiv when the entry has an id", () => {
    const withArxiv = entries.findIndex((e) => e.arxiv);
    expect(bodyRows[withArxiv]).toMatch(new RegExp(`^\\| \\[[^\\]]+\\]\\(https://arxiv\\.org/abs/${entries[withArxiv]!.arxiv!.replace(".", "\\.")}\\)`));
  });
});

describe("loadAwesome", () => {
  it("names the first bad field", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-awesome-"));
    const file = path.join(dir, "awesome.json");
    fs.writeFileSync(file, JSON.stringify({ lists: [{ id: "x", title: "X", seed: "s", sections: [{ title: "S", entries: [{ title: 3 }] }] }] }));
    expect(() => loadAwesome(file)).toThrow(UserError);
    expect(() => loadAwesome(file)).toThrow(/lists\[0\]\.sections\[0\]\.entries\[0\]\.title: expected a string/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe("statusCell of a language-modelling checkpoint", () => {
  it("quotes its main metric in its unit, not as a percentage", () => {
    const card = loadCards(paths.modelsDir).find((c) => c.id === "mamba-mqar")!;
    const base = mergeLeaderboard(loadResults(paths.resultsDir)).find((r) => r.model === "mamba-mqar" && r.status === "ok" && r.metric === "accuracy")!;
    const lm = { ...card, id: "mamba-subword-lm", task: { id: "subword-lm", version: "1.0.0", params: { seq_len: 256 } } };
    const rows = [
      { ...base, model: lm.id, task: "subword-lm", split: "test@L256", seq_len: 256, metric: "bits_per_byte" as const, value: 1.5 },
      { ...base, model: lm.id, task: "subword-lm", split: "test@L256", seq_len: 256, metric: "perplexity" as const, value: 12.3456 },
    ];
    const entry = entries.find((e) => e.family === "mamba")!;
    expect(statusCell(entry, [lm], accuracyTables(rows, [lm]))).toContain("reproduced: [mamba-subword-lm](leaderboard.md#mamba-subword-lm-subword-lm) 12.35 perplexity Subword LM L256");
  });
});
