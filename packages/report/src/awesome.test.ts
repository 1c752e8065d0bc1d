import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { UserError } from "@ssmbench/core";
import { entryStatus, implementedFamilies, loadAwesome, renderAwesome, statusCell, type AwesomeEntry } from "./awesome.ts";
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

  it("without model packages: planned for a family without checkpoint, not benchmarked for one without results, the scope otherwise", () => {
    const status = (i: number) => bodyRows[i]!.split(" | ").at(-1)!;
    entries.forEach((e, i) => {
      if (e.family === null) expect(status(i)).toMatch(/^(out of scope|not a model|planned|task): /);
      else if (e.family === "gla") expect(status(i)).toBe("planned (family gla) |");
      else if (e.family === "lssl") expect(status(i)).toMatch(/^planned \(family lssl\): \S/);
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

const repoPackages = fileURLToPath(new URL("../../", import.meta.url));
const fixtureCards = loadCards(paths.modelsDir);
const fixtureTables = accuracyTables(mergeLeaderboard(loadResults(paths.resultsDir)), fixtureCards);
const byTitle = (prefix: string) => entries.find((e) => e.title.startsWith(prefix))!;
const status = (e: AwesomeEntry, implemented: string[] = [], cards = fixtureCards) => entryStatus(e, cards, fixtureTables, implemented);

/** A temporary packages/ folder: model packages for the given families, and one package that is not a model. */
function packagesWith(families: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-packages-"));
  const write = (name: string, pkg: object) => {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, "package.json"), JSON.stringify(pkg));
  };
  for (const f of families) write(`model-${f}`, { name: `@ssmbench/model-${f}`, ssmbench: { kind: "model" } });
  write("report", { name: "@ssmbench/report" });
  write("model-notes", { name: "@ssmbench/model-notes" });
  return dir;
}

describe("implementedFamilies", () => {
  it("lists packages/model-<family> marked as a model package, nothing else", () => {
    const dir = packagesWith(["gla", "s4d"]);
    expect(implementedFamilies(dir)).toEqual(["gla", "s4d"]);
    expect(implementedFamilies(path.join(dir, "absent"))).toEqual([]);
    fs.rmSync(dir, { recursive: true });
    const repo = implementedFamilies(repoPackages);
    expect(repo).toContain("mamba");
    expect(repo).not.toContain("report");
  });
});

describe("entry status kinds", () => {
  it("reproduced: a family checkpoint benchmarked ok", () => {
    const s = status(byTitle("Mamba: Linear-Time"), ["mamba"]);
    expect(s.kind).toBe("reproduced");
    expect(s.cell).toMatch(/^reproduced: \[mamba-mqar\]/);
  });

  it("in progress: a model package without checkpoint, or a checkpoint not benchmarked ok", () => {
    const gla = status(byTitle("Gated Linear Attention"), ["gla"]);
    expect(gla).toEqual({ kind: "in-progress", cell: "in progress: [packages/model-gla](../packages/model-gla) implemented and parity-tested, no trained checkpoint yet" });
    const s4 = byTitle("Efficiently Modeling Long Sequences");
    expect(s4).toMatchObject({ family: "s4" });
    expect(s4.scope).toBeUndefined();
    expect(status(s4, ["s4", "s4d"]).cell).toBe("in progress: [packages/model-s4](../packages/model-s4) implemented and parity-tested, no trained checkpoint yet");
    expect(implementedFamilies(repoPackages)).toContain("s4");
    expect(status(byTitle("RWKV: Reinventing"), ["rwkv"]).kind).toBe("in-progress");
  });

  it("planned: a family without package (with its reason), or a hybrid the hybrid package cannot stack", () => {
    const lssl = status(byTitle("Combining Recurrent, Convolutional"), ["gla", "s4d"]);
    expect(lssl.kind).toBe("planned");
    expect(lssl.cell).toMatch(/^planned \(family lssl\): .*HiPPO-LegS/);
    for (const title of ["Block-State Transformers", "Efficient Long Sequence Modeling via State Space Augmented"]) {
      const s = status(byTitle(title), ["hybrid"]);
      expect(s.kind).toBe("planned");
      expect(s.cell).toMatch(/^planned: not a stack of layers \(packages\/model-hybrid stacks whole layers by config\): /);
    }
  });

  it("hybrids of stacked layers (Jamba, MoE-Mamba, BlackMamba) are the hybrid family's", () => {
    for (const title of ["Jamba", "MoE-Mamba", "BlackMamba"]) {
      expect(byTitle(title).family).toBe("hybrid");
      expect(status(byTitle(title), ["hybrid"]).cell).toMatch(/^in progress: \[packages\/model-hybrid\]\(\.\.\/packages\/model-hybrid\) implemented and parity-tested/);
      expect(status(byTitle(title)).cell).toBe("planned (family hybrid)");
    }
    expect(entries.filter((e) => e.family === "hybrid")).toHaveLength(4); // MoE-Mamba is in both lists
  });

  it("task: entries reproduced as a task, with the checkpoints on it", () => {
    const zoology = status(byTitle("Zoology"));
    expect(zoology.kind).toBe("task");
    expect(zoology.cell).toMatch(/^task: \[mqar\]\(\.\.\/datasets\/mqar\/card\.md\) \(.+\); 3 checkpoints of 3 families on it/);
    expect(status(byTitle("MambaByte")).cell).toMatch(/^task: \[byte-lm\]\(\.\.\/datasets\/byte-lm\/card\.md\) \(bits per byte.*\); no checkpoint on it yet$/);
    expect(status(byTitle("Repeat After Me")).cell).toMatch(/^task: \[copying\]/);
    for (const e of entries) if (e.scope?.kind === "task") expect(fs.existsSync(path.join(repoPackages, "..", "datasets", e.scope.task!, "card.md"))).toBe(true);
  });

  it("out of scope and not a model: from the entry's scope, the same for the same title in both lists", () => {
    const vim = status(byTitle("Vision Mamba"));
    expect(vim.kind).toBe("out-of-scope");
    expect(vim.cell).toMatch(/^out of scope: vision backbone/);
    const survey = status(byTitle("A Survey on Visual Mamba"));
    expect(survey).toEqual({ kind: "not-a-model", cell: expect.stringMatching(/^not a model: survey/) as unknown as string });
    for (const title of ["Star History", "Scale-up", "The Annotated S4D", "Linear State-Space Control Systems"]) expect(status(byTitle(title)).kind).toBe("not-a-model");
    const seen = new Map<string, string>();
    for (const e of entries.filter((x) => x.family === null)) {
      expect(e.scope?.why.length).toBeGreaterThan(5);
      const prior = seen.get(e.title);
      if (prior !== undefined) expect(JSON.stringify(e.scope)).toBe(prior);
      seen.set(e.title, JSON.stringify(e.scope));
    }
  });

  it("a variant entry (DSS) shows its family package's status, and only checkpoints of its variant", () => {
    const dss = byTitle("Diagonal State Spaces are as Effective");
    const s4d = byTitle("On the Parameterization and Initialization of Diagonal");
    expect(dss).toMatchObject({ family: "s4d", variant: "dss" });
    expect(status(dss, ["s4d"]).cell).toBe(
      'in progress: [packages/model-s4d](../packages/model-s4d) implemented and parity-tested as variant dss (config `{"variant": "dss"}`), no trained checkpoint yet',
    );
    expect(status(dss).kind).toBe("planned");
    const base = fixtureCards.find((c) => c.id === "mamba-mqar")!;
    const plain = { ...base, id: "s4d-mqar", family: "s4d", variant: "s4d (S4D-Lin init, ZOH)" };
    const dssCard = { ...base, id: "s4d-dss-mqar", family: "s4d", variant: "dss (DSS_softmax, skew-HiPPO init)" };
    const withPlain = status(dss, ["s4d"], [...fixtureCards, plain]);
    expect(withPlain.kind).toBe("in-progress");
    expect(withPlain.cell).toMatch(/no trained checkpoint yet \(\[family page\]\(models\/s4d\.md\)\)$/);
    expect(status(s4d, ["s4d"], [...fixtureCards, plain]).cell).toMatch(/^checkpoint \[s4d-mqar\]/);
    const withDss = status(dss, ["s4d"], [...fixtureCards, plain, dssCard]);
    expect(withDss.cell).toMatch(/^checkpoint \[s4d-dss-mqar\]/);
    expect(withDss.cell).not.toContain("[s4d-mqar]");
    expect(status(s4d, ["s4d"], [...fixtureCards, dssCard]).cell).toMatch(/^in progress: /);
  });
});

describe("the summary line", () => {
  it("counts every status kind, and generateDocs finds the packages beside models/", () => {
    const implemented = ["gla", "mamba", "rwkv", "s4d"];
    const kinds = entries.map((e) => status(e, implemented).kind);
    const n = (k: string) => kinds.filter((x) => x === k).length;
    expect(n("reproduced") + n("task") + n("in-progress") + n("planned") + n("out-of-scope") + n("not-a-model")).toBe(entries.length);
    for (const k of ["reproduced", "task", "in-progress", "planned", "out-of-scope", "not-a-model"]) expect(n(k)).toBeGreaterThan(0);
    const summary = `${entries.length} entries from 2 lists: ${n("reproduced")} reproduced by a benchmarked ssmbench checkpoint, ${n("task")} reproduced as a task, ` +
      `${n("in-progress")} in progress (a model package but no benchmarked checkpoint yet), ${n("planned")} planned, ${n("out-of-scope")} out of scope, ${n("not-a-model")} not a model.`;
    expect(renderAwesome(data, fixtureCards, fixtureTables, implemented)).toContain(summary);
    const dir = packagesWith(implemented);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-root-"));
    fs.cpSync(basic, root, { recursive: true });
    fs.renameSync(dir, path.join(root, "packages"));
    const md = generateDocs({ resultsDir: path.join(root, "results"), modelsDir: path.join(root, "models"), docsDir: path.join(root, "docs") }).get(path.join(root, "docs", "awesome.md"))!;
    expect(md).toContain(summary);
    expect(md).toContain("families implemented: gla, mamba, rwkv, s4d.");
    fs.rmSync(root, { recursive: true });
  });
});

describe("loadAwesome's new fields", () => {
  const entry = { title: "T", arxiv: null, links: [], description: "d" };
  const load = (e: object) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssmbench-awesome-"));
    const file = path.join(dir, "awesome.json");
    fs.writeFileSync(file, JSON.stringify({ lists: [{ id: "x", title: "X", seed: "s", sections: [{ title: "S", entries: [{ ...entry, ...e }] }] }] }));
    try {
      return loadAwesome(file).lists[0]!.sections[0]!.entries[0]!;
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  };
  it("reads scope and variant", () => {
    expect(load({ family: null, scope: { kind: "task", task: "mqar", why: "w" } }).scope).toEqual({ kind: "task", task: "mqar", why: "w" });
    expect(load({ family: "s4d", variant: "dss" })).toEqual({ ...entry, family: "s4d", variant: "dss" });
    expect(load({ family: "s4", scope: { kind: "planned", why: "w" } }).scope).toEqual({ kind: "planned", why: "w" });
  });
  it("names the bad field", () => {
    const where = "lists\\[0\\]\\.sections\\[0\\]\\.entries\\[0\\]";
    const bad: [object, string][] = [
      [{ family: null }, `${where}\\.scope: an entry with no family needs a scope`],
      [{ family: null, scope: { kind: "maybe", why: "w" } }, `${where}\\.scope\\.kind: expected one of`],
      [{ family: null, scope: { kind: "out-of-scope", why: " " } }, `${where}\\.scope\\.why: expected a non-empty string`],
      [{ family: null, scope: { kind: "task", why: "w" } }, `${where}\\.scope\\.task: expected a string`],
      [{ family: null, scope: { kind: "not-a-model", why: "w", task: "mqar" } }, `${where}\\.scope\\.task: only kind "task"`],
      [{ family: "mamba", scope: { kind: "out-of-scope", why: "w" } }, `${where}\\.scope\\.kind: an entry with a family may only say why it is planned`],
      [{ family: null, variant: "dss", scope: { kind: "planned", why: "w" } }, `${where}\\.variant: a variant needs the family`],
      [{ family: "s4d", variant: 3 }, `${where}\\.variant: expected a string`],
      [{ family: "s4d", scop: {} }, `${where}\\.scop: unknown field`],
    ];
    for (const [e, message] of bad) expect(() => load(e)).toThrow(new RegExp(message));
  });
});
