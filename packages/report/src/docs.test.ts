import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { UserError } from "@ssmbench/core";
import { checkDocs, generateDocs, runReport, writeDocs } from "./docs.ts";
import { BEGIN, END } from "./markers.ts";

const basic = fileURLToPath(new URL("../fixtures/basic", import.meta.url));
const temps: string[] = [];

/** A throwaway repository root holding a copy of the basic fixture (results/ and models/, no docs/ yet). */
function repo(): { root: string; paths: { resultsDir: string; modelsDir: string; docsDir: string } } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-report-"));
  temps.push(root);
  fs.cpSync(basic, root, { recursive: true });
  return { root, paths: { resultsDir: path.join(root, "results"), modelsDir: path.join(root, "models"), docsDir: path.join(root, "docs") } };
}
afterEach(() => {
  for (const t of temps.splice(0)) fs.rmSync(t, { recursive: true, force: true });
});

describe("generateDocs", () => {
  it("generates every file, in memory, deterministically", () => {
    const { root, paths } = repo();
    const a = generateDocs(paths);
    expect([...a.keys()].map((f) => path.relative(root, f)).sort()).toEqual([
      "docs/awesome.md",
      "docs/leaderboard.md",
      "docs/models/mamba.md",
      "docs/models/rwkv.md",
      "docs/models/transformer.md",
      "docs/speed.md",
      "results/leaderboard.csv",
    ]);
    expect(fs.existsSync(paths.docsDir)).toBe(false); // nothing written
    expect(generateDocs(paths)).toEqual(a);
    for (const [file, text] of a) if (file.endsWith(".md")) expect(text).toContain(END);
  });
});

describe("family pages", () => {
  it("say when a checkpoint's graphs use onnxruntime contrib ops (card export.contrib_ops), and only then", () => {
    const { paths } = repo();
    const dir = fs.readdirSync(paths.modelsDir).find((d) => d.startsWith("mamba"))!;
    const cardPath = path.join(paths.modelsDir, dir, "card.json");
    const page = () => [...generateDocs(paths)].find(([f]) => f.endsWith(path.join("models", "mamba.md")))![1];
    expect(page()).not.toContain("contrib");
    expect(page()).not.toContain("com.microsoft");
    const card = JSON.parse(fs.readFileSync(cardPath, "utf8"));
    card.export.contrib_ops = ["com.microsoft.LinearAttention"];
    fs.writeFileSync(cardPath, JSON.stringify(card));
    expect(page()).toContain("The graphs use onnxruntime's fused `com.microsoft.LinearAttention` ([speed](../speed.md)): they run on onnxruntime");
  });
});

describe("writeDocs / checkDocs", () => {
  it("reports every missing file, then nothing once written", () => {
    const { paths } = repo();
    expect(checkDocs(paths).map((s) => s.reason)).toEqual(Array(7).fill("missing"));
    expect(writeDocs(paths)).toHaveLength(7);
    expect(checkDocs(paths)).toEqual([]);
    expect(writeDocs(paths)).toEqual([]);
  });

  it("detects a stale file: hand-edited inside the markers, or results newer than the docs", () => {
    const { paths } = repo();
    writeDocs(paths);
    const board = path.join(paths.docsDir, "leaderboard.md");
    fs.writeFileSync(board, fs.readFileSync(board, "utf8").replace("99.2%", "99.9%"));
    expect(checkDocs(paths)).toEqual([{ path: board, reason: "stale" }]);
    writeDocs(paths);
    // A new run makes the merge and the pages showing it stale.
    const run = path.join(paths.resultsDir, "2025-02-01-b.csv");
    const newer = fs.readFileSync(run, "utf8").replaceAll("2025-02-01-b", "2025-03-01-c").replaceAll("2025-02-01T", "2025-03-01T");
    fs.writeFileSync(path.join(paths.resultsDir, "2025-03-01-c.csv"), newer.replace(",0.992,", ",0.993,"));
    const stale = checkDocs(paths).map((s) => path.basename(s.path));
    expect(stale).toEqual(expect.arrayContaining(["leaderboard.csv", "leaderboard.md", "awesome.md", "mamba.md"]));
  });

  it("keeps the text outside the markers", () => {
    const { paths } = repo();
    writeDocs(paths);
    const board = path.join(paths.docsDir, "leaderboard.md");
    const text = fs.readFileSync(board, "utf8");
    fs.writeFileSync(board, text.replace(BEGIN, `A human intro.\n\n${BEGIN}`).replace(/\| 99\.2%/, "| 12.3%") + "\nA human footer.\n");
    writeDocs(paths);
    const after = fs.readFileSync(board, "utf8");
    expect(after).toContain(`A human intro.\n\n${BEGIN}`);
    expect(after).toMatch(/A human footer\.\n$/);
    expect(after).not.toContain("12.3%");
    expect(checkDocs(paths)).toEqual([]);
  });

  it("flags and removes the page of a family whose cards are gone", () => {
    const { paths } = repo();
    writeDocs(paths);
    fs.rmSync(path.join(paths.modelsDir, "rwkv-mqar"), { recursive: true });
    const page = path.join(paths.docsDir, "models", "rwkv.md");
    expect(checkDocs(paths)).toContainEqual({ path: page, reason: "orphan" });
    writeDocs(paths);
    expect(fs.existsSync(page)).toBe(false);
    expect(checkDocs(paths)).toEqual([]);
  });
});

describe("runReport", () => {
  it("check fails with the way out, write fixes it", () => {
    const { root } = repo();
    expect(() => runReport({ root, check: true })).toThrow(UserError);
    expect(() => runReport({ root, check: true })).toThrow(/docs\/leaderboard\.md \(missing\)[\s\S]*run pnpm report/);
    const wrote = runReport({ root });
    expect(wrote.changed.map((c) => c.path)).toContain("results/leaderboard.csv");
    expect(runReport({ root, check: true }).changed).toEqual([]);
  });
});
