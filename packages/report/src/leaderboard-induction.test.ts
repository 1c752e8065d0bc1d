// The induction-heads section of the leaderboard (Mamba's Table 11: length extrapolation), on a fixture of two
// checkpoints trained at 64: a constant-state one evaluated at every setting (streamed past 2^16) and an attention
// one that fails (oom) at 2^16 and is not run (na: its state grows) at 2^18 and 2^20.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadCards } from "./cards.ts";
import { accuracyTables, columnLabel, headline, powerLabel, renderLeaderboard, settingLabel } from "./leaderboard.ts";
import { loadResults, mergeLeaderboard } from "./results.ts";

const dir = fileURLToPath(new URL("../fixtures/induction", import.meta.url));
const modelsDir = path.join(dir, "models");
const docsDir = path.join(dir, "docs");
const rows = mergeLeaderboard(loadResults(path.join(dir, "results")));
const cards = loadCards(modelsDir);
const md = renderLeaderboard({ rows, cards, docsDir, modelsDir });
const section = md.slice(md.indexOf("### Induction heads"), md.indexOf("## Provenance"));
const lines = section.split("\n");
const powers = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20];

/** The cells of a table line (without the outer pipes). */
const cells = (line: string) => line.replace(/^\| | \|$/g, "").split(" | ");
const rowOf = (start: string) => {
  const line = lines.find((l) => l.startsWith(start));
  if (!line) throw new Error(`no row starting ${start}`);
  return cells(line);
};

describe("induction heads on the leaderboard", () => {
  it("labels settings by their power of two, with the length", () => {
    expect(powerLabel(512)).toBe("2^9 (512)");
    expect(powerLabel(2 ** 20)).toBe("2^20 (1,048,576)");
    expect(columnLabel("induction-heads", "test@L512")).toBe("2^9 (512)");
    expect(settingLabel("induction-heads", "test@L512")).toBe("Induction heads 2^9 (512)");
    expect(settingLabel("induction-heads", "test@L100")).toBe("Induction heads L100"); // off the grid: as named
    expect(columnLabel("selective-copying", "test@L4096")).toBe("Selective copying L4096"); // other tasks as before
  });

  it("has a column per setting, 2^6 .. 2^16, 2^18 and 2^20", () => {
    const t = accuracyTables(rows, cards).find((x) => x.task === "induction-heads")!;
    expect(t.columns.map((c) => c.seqLen)).toEqual(powers.map((k) => 2 ** k));
    const header = cells(lines.find((l) => l.startsWith("| model |"))!);
    expect(header).toEqual(["model", "family", "params", ...powers.map((k) => powerLabel(2 ** k))]);
    // the awesome list's headline names the trained setting with the task
    expect(headline(cards.find((c) => c.id === "mamba-induction-heads")!, [t])?.label).toBe("Induction heads 2^6 (64)");
  });

  it("shows our rows, streamed settings included, and keeps FAIL apart from NA", () => {
    const mamba = rowOf('| <a id="mamba-induction-heads');
    expect(mamba).toHaveLength(3 + powers.length);
    expect(mamba[3]).toBe("**100.0%** (99.6–100.0)");
    expect(mamba.at(-1)).toBe("6.3% (1.1–28.3)"); // 1 of 16 streamed examples at 2^20: a wide interval
    const transformer = rowOf('| <a id="transformer-induction-heads');
    expect(transformer.slice(-3)).toEqual(["FAIL (oom)", "NA", "NA"]);
    // the NA cells say why below the table; the streamed ones say how they were measured
    expect(section).toContain(
      "`NA` at 2^18 (262,144) and 2^20 (1,048,576) for transformer-induction-heads: not run, because the checkpoint's state grows with the length",
    );
    expect(section).toContain("Settings past 65,536 tokens were streamed through `step.onnx`");
    expect(md).toMatch(/- transformer-induction-heads, Induction heads 2\^20 \(1,048,576\), cpu: NA: not run: its state grows with the length/);
  });

  it("sets Mamba's Table 11 rows beside ours, under the columns of the same length", () => {
    const mha = rowOf("| *Mamba Table 11: MHA-Abs*");
    const col = (k: number) => 3 + powers.indexOf(k);
    expect(mha.slice(0, 3)).toEqual(["*Mamba Table 11: MHA-Abs*", "published", "137K"]);
    expect([mha[col(9)], mha[col(10)], mha[col(12)], mha[col(14)], mha[col(20)]]).toEqual(["58.6%", "26.6%", "9.8%", "7.8%", "OOM"]);
    expect([mha[col(6)], mha[col(16)], mha[col(18)]]).toEqual(["—", "—", "—"]); // no figure at those lengths
    const mamba = rowOf("| *Mamba Table 11: Mamba*");
    expect(mamba[col(20)]).toBe("perfect");
    expect(rowOf("| *Mamba Table 11: Hyena*")[col(20)]).toBe("9.8%");
    // not printed a second time under Published; our settings beside theirs, training length 64 against 256
    expect(section).not.toContain("Mamba Table 11: accuracy (%) at test length:");
    expect(section).toMatch(/\| training length \| 256 \| 64 \| 64 \|/);
    expect(section).toMatch(/\| test lengths \| 2\^6 \.\. 2\^20 \| 2\^6 \.\. 2\^16, then 2\^18 and 2\^20 streamed through step\.onnx \| 2\^6 \.\. 2\^16 \(2\^18, 2\^20 not run: its state grows with the length\) \|/);
    // nothing bold among the published rows: the best of a column is ours only
    expect(lines.filter((l) => l.startsWith("| *Mamba Table 11")).join("\n")).not.toContain("**");
  });

  it("prints the published figure on its own while no column of ours matches its lengths", () => {
    const alone = renderLeaderboard({ rows: [], cards, docsDir, modelsDir });
    expect(alone).toContain("Mamba Table 11: accuracy (%) at test length:");
    expect(alone).not.toContain("| *Mamba Table 11");
  });
});
