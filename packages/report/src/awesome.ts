// docs/awesome.md: the two source lists (data/awesome.json), each entry with the status of its reproduction.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UserError, type ModelCard, type QualityMetric } from "@ssmbench/core";
import { arxivUrl, cell, cmp, link, percent, table } from "./format.ts";
import { anchorFor, familyPage, headline, METRIC_LABELS, showMetric, type AccuracyTable } from "./leaderboard.ts";

/** Why an entry is not (or not only) a model family here: its status when no family package decides it. */
export interface AwesomeScope {
  /**
   * "out-of-scope": a model outside what ssmbench measures; "not-a-model": a tutorial, survey, book, theory paper,
   * library or chart; "planned": to be built (a hybrid of existing blocks, or why a named family waits);
   * "task": reproduced as one of ssmbench's tasks rather than as a family.
   */
  kind: "out-of-scope" | "not-a-model" | "planned" | "task";
  why: string;
  /** The task id (datasets/<task>/) for kind "task". */
  task?: string;
}
export const SCOPE_KINDS: readonly AwesomeScope["kind"][] = ["out-of-scope", "not-a-model", "planned", "task"];

export interface AwesomeEntry {
  title: string;
  arxiv: string | null;
  links: { label: string; url: string }[];
  description: string;
  /** The ssmbench model family reproducing the entry (packages/model-<family>), or null. */
  family: string | null;
  /**
   * The entry is the family's package run with config {"variant": <variant>} (DSS in packages/model-s4d): only
   * checkpoints whose card.variant names it count.
   */
  variant?: string;
  /** Required when family is null; with a family, only kind "planned" (why the family has no package yet). */
  scope?: AwesomeScope;
}
export interface AwesomeData {
  lists: { id: string; title: string; seed: string; sections: { title: string; entries: AwesomeEntry[] }[] }[];
}

/** The packaged data file. */
export const awesomeJson = fileURLToPath(new URL("../data/awesome.json", import.meta.url));

const ENTRY_KEYS = new Set(["title", "arxiv", "links", "description", "family", "variant", "scope"]);
const SCOPE_KEYS = new Set(["kind", "why", "task"]);

/** Read and check the lists (a hand-edited file: every field is checked, and the first bad one is named). */
export function loadAwesome(file: string = awesomeJson): AwesomeData {
  const data = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
  const fail = (where: string, what: string): never => {
    throw new UserError(`${file}: ${where}: ${what}`, "fix the entry in the awesome data file");
  };
  const str = (x: unknown, where: string) => (typeof x === "string" ? x : fail(where, "expected a string"));
  const text = (x: unknown, where: string) => (str(x, where).trim() ? (x as string) : fail(where, "expected a non-empty string"));
  const arr = (x: unknown, where: string) => (Array.isArray(x) ? (x as unknown[]) : fail(where, "expected an array"));
  const obj = (x: unknown, where: string) =>
    typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : fail(where, "expected an object");
  const strOrNull = (x: unknown, where: string) => (x === null ? null : str(x, where));
  const known = (o: Record<string, unknown>, keys: Set<string>, where: string) => {
    for (const k of Object.keys(o)) if (!keys.has(k)) fail(`${where}.${k}`, `unknown field (known: ${[...keys].join(", ")})`);
  };
  const scopeOf = (x: unknown, where: string, family: string | null): AwesomeScope | undefined => {
    if (x === undefined) return family === null ? fail(`${where}.scope`, "an entry with no family needs a scope: why it is not reproduced") : undefined;
    const o = obj(x, `${where}.scope`);
    known(o, SCOPE_KEYS, `${where}.scope`);
    const kind = str(o.kind, `${where}.scope.kind`) as AwesomeScope["kind"];
    if (!SCOPE_KINDS.includes(kind)) fail(`${where}.scope.kind`, `expected one of ${SCOPE_KINDS.join(", ")}`);
    if (family !== null && kind !== "planned") fail(`${where}.scope.kind`, `an entry with a family may only say why it is planned, not "${kind}"`);
    const why = text(o.why, `${where}.scope.why`);
    if (kind !== "task") return o.task === undefined ? { kind, why } : fail(`${where}.scope.task`, `only kind "task" names a task`);
    const task = text(o.task, `${where}.scope.task`);
    return /^[a-z0-9][a-z0-9-]*$/.test(task) ? { kind, task, why } : fail(`${where}.scope.task`, "expected a task id (lower case, digits, -)");
  };
  return {
    lists: arr(obj(data, "root").lists, "lists").map((l, i) => {
      const list = obj(l, `lists[${i}]`);
      return {
        id: str(list.id, `lists[${i}].id`),
        title: str(list.title, `lists[${i}].title`),
        seed: str(list.seed, `lists[${i}].seed`),
        sections: arr(list.sections, `lists[${i}].sections`).map((s, j) => {
          const at = `lists[${i}].sections[${j}]`;
          const section = obj(s, at);
          return {
            title: str(section.title, `${at}.title`),
            entries: arr(section.entries, `${at}.entries`).map((e, k) => {
              const where = `${at}.entries[${k}]`;
              const entry = obj(e, where);
              known(entry, ENTRY_KEYS, where);
              const out: AwesomeEntry = {
                title: str(entry.title, `${where}.title`),
                arxiv: strOrNull(entry.arxiv, `${where}.arxiv`),
                links: arr(entry.links, `${where}.links`).map((x, m) => {
                  const lk = obj(x, `${where}.links[${m}]`);
                  return { label: str(lk.label, `${where}.links[${m}].label`), url: str(lk.url, `${where}.links[${m}].url`) };
                }),
                description: str(entry.description, `${where}.description`),
                family: strOrNull(entry.family, `${where}.family`),
              };
              const family = out.family;
              if (entry.variant !== undefined) {
                if (family === null) fail(`${where}.variant`, "a variant needs the family whose package it configures");
                out.variant = text(entry.variant, `${where}.variant`);
              }
              const scope = scopeOf(entry.scope, where, family);
              if (scope) out.scope = scope;
              return out;
            }),
          };
        }),
      };
    }),
  };
}

/** Families with a model package: packages/model-<family>/package.json marked "ssmbench": {"kind": "model"}. */
export function implementedFamilies(packagesDir: string): string[] {
  if (!fs.existsSync(packagesDir)) return [];
  return fs
    .readdirSync(packagesDir)
    .filter((dir) => dir.startsWith("model-") && fs.existsSync(path.join(packagesDir, dir, "package.json")))
    .filter((dir) => {
      const pkg = JSON.parse(fs.readFileSync(path.join(packagesDir, dir, "package.json"), "utf8")) as { ssmbench?: { kind?: string } };
      return pkg.ssmbench?.kind === "model";
    })
    .map((dir) => dir.slice("model-".length))
    .sort(cmp);
}

export type StatusKind = "reproduced" | "task" | "in-progress" | "planned" | "out-of-scope" | "not-a-model";
export interface EntryStatus {
  kind: StatusKind;
  /** The markdown of the status cell. */
  cell: string;
}

/** Does a card's variant name the entry's variant ("dss" in "dss (DSS_softmax, ...)" or "dss-exp (...)")? */
function variantMatches(cardVariant: string, variant: string): boolean {
  const esc = variant.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^a-z0-9])${esc}([^a-z0-9]|$)`, "i").test(cardVariant);
}

/**
 * The status of an entry:
 * - reproduced: every checkpoint of its family (of its variant, if it names one) with its headline result, linked
 *   to its row in leaderboard.md; a checkpoint not benchmarked ok yet makes it "in progress";
 * - in progress: the family has a package (packages/model-<family>, in `implemented`) but no checkpoint yet;
 * - planned: a family with no package (its scope says why), or a hybrid the data marks planned;
 * - task / out of scope / not a model: from the entry's scope.
 */
export function entryStatus(
  entry: AwesomeEntry,
  cards: readonly ModelCard[],
  tables: readonly AccuracyTable[],
  implemented: readonly string[] = [],
): EntryStatus {
  const { family, scope, variant } = entry;
  if (!family) {
    if (!scope) return { kind: "not-a-model", cell: "—" };
    if (scope.kind === "task") {
      const on = cards.filter((c) => c.task.id === scope.task);
      const families = new Set(on.map((c) => c.family)).size;
      const count = on.length
        ? `${on.length} checkpoint${on.length === 1 ? "" : "s"} of ${families} famil${families === 1 ? "y" : "ies"} on it in the ${link("leaderboard", "leaderboard.md")}`
        : "no checkpoint on it yet";
      return { kind: "task", cell: `task: ${link(scope.task!, `../datasets/${scope.task}/card.md`)} (${cell(scope.why)}); ${count}` };
    }
    const label = { "out-of-scope": "out of scope", "not-a-model": "not a model", planned: "planned" }[scope.kind];
    return { kind: scope.kind, cell: `${label}: ${cell(scope.why)}` };
  }
  const ofFamily = cards.filter((c) => c.family === family);
  const pageLink = ofFamily.length ? ` (${link("family page", familyPage(family))})` : "";
  const mine = variant ? ofFamily.filter((c) => variantMatches(c.variant, variant)) : ofFamily;
  if (mine.length === 0) {
    if (implemented.includes(family)) {
      const pkg = link(`packages/model-${family}`, `../packages/model-${family}`);
      const as = variant ? ` as variant ${cell(variant)} (config \`{"variant": "${cell(variant)}"}\`)` : "";
      return { kind: "in-progress", cell: `in progress: ${pkg} implemented and parity-tested${as}, no trained checkpoint yet${pageLink}` };
    }
    const why = scope ? `: ${cell(scope.why)}` : "";
    return { kind: "planned", cell: `planned (family ${cell(family)})${why}` };
  }
  let reproduced = false;
  const parts = mine.map((card) => {
    const at = link(card.id, `leaderboard.md#${anchorFor(card.id, card.task.id)}`);
    const h = headline(card, tables);
    if (!h) return `checkpoint ${at}: not benchmarked yet`;
    if (h.row.status === "ok" && h.row.value !== null && Number.isFinite(h.row.value)) {
      reproduced = true;
      return `reproduced: ${at} ${h.row.metric === "accuracy" ? percent(h.row.value) : `${showMetric(h.row.metric as QualityMetric)(h.row.value)} ${METRIC_LABELS[h.row.metric as QualityMetric]}`} ${h.label}`;
    }
    return `checkpoint ${at}: ${h.row.status === "na" ? "NA" : `FAIL (${h.row.status})`} ${h.label}`;
  });
  return { kind: reproduced ? "reproduced" : "in-progress", cell: `${parts.join("; ")}${pageLink}` };
}

/** The Status cell of an entry (entryStatus's markdown). */
export function statusCell(
  entry: AwesomeEntry,
  cards: readonly ModelCard[],
  tables: readonly AccuracyTable[],
  implemented: readonly string[] = [],
): string {
  return entryStatus(entry, cards, tables, implemented).cell;
}

/**
 * The generated body of docs/awesome.md: a summary of the statuses, then one table row per entry, sections as in
 * the data. `implemented`: the families with a model package (implementedFamilies).
 */
export function renderAwesome(
  data: AwesomeData,
  cards: readonly ModelCard[],
  tables: readonly AccuracyTable[],
  implemented: readonly string[] = [],
): string {
  const entries = data.lists.flatMap((l) => l.sections.flatMap((s) => s.entries));
  const statuses = entries.map((e) => entryStatus(e, cards, tables, implemented));
  const n = (kind: StatusKind) => statuses.filter((s) => s.kind === kind).length;
  const families = [...new Set(cards.map((c) => c.family))].sort(cmp);
  const out: string[] = [
    `${entries.length} entries from ${data.lists.length} lists: ${n("reproduced")} reproduced by a benchmarked ssmbench checkpoint, ` +
      `${n("task")} reproduced as a task, ${n("in-progress")} in progress (a model package but no benchmarked checkpoint yet), ` +
      `${n("planned")} planned, ${n("out-of-scope")} out of scope, ${n("not-a-model")} not a model. ` +
      `Families with checkpoints: ${families.length ? families.join(", ") : "none yet"}; ` +
      `families implemented: ${implemented.length ? implemented.join(", ") : "none found"}. The status links each checkpoint ` +
      "to its row in the [leaderboard](leaderboard.md), with its result at the setting it was trained at; an entry " +
      "outside the families says why.",
  ];
  for (const list of data.lists) {
    out.push("", `## ${list.title}`);
    for (const section of list.sections) {
      out.push("", `### ${section.title}`, "");
      const rows = section.entries.map((e) => [
        e.arxiv ? link(e.title, arxivUrl(e.arxiv)) : cell(e.title),
        e.links.map((l) => link(l.label, l.url)).join(" · ") || "—",
        cell(e.description),
        entryStatus(e, cards, tables, implemented).cell,
      ]);
      out.push(table(["entry", "links", "description", "status"], rows));
    }
  }
  return out.join("\n");
}
