// docs/awesome.md: the two source lists (data/awesome.json), each entry with the status of its reproduction.
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { UserError, type ModelCard, type QualityMetric } from "@ssmbench/core";
import { arxivUrl, cell, cmp, link, percent, table } from "./format.ts";
import { anchorFor, familyPage, headline, METRIC_LABELS, showMetric, type AccuracyTable } from "./leaderboard.ts";

export interface AwesomeEntry {
  title: string;
  arxiv: string | null;
  links: { label: string; url: string }[];
  description: string;
  /** The ssmbench model family reproducing the entry, or null. */
  family: string | null;
}
export interface AwesomeData {
  lists: { id: string; title: string; seed: string; sections: { title: string; entries: AwesomeEntry[] }[] }[];
}

/** The packaged data file. */
export const awesomeJson = fileURLToPath(new URL("../data/awesome.json", import.meta.url));

/** Read and check the lists (a hand-edited file: every field is checked, and the first bad one is named). */
export function loadAwesome(file: string = awesomeJson): AwesomeData {
  const data = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
  const fail = (where: string, what: string): never => {
    throw new UserError(`${file}: ${where}: ${what}`, "fix the entry in the awesome data file");
  };
  const str = (x: unknown, where: string) => (typeof x === "string" ? x : fail(where, "expected a string"));
  const arr = (x: unknown, where: string) => (Array.isArray(x) ? (x as unknown[]) : fail(where, "expected an array"));
  const obj = (x: unknown, where: string) =>
    typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : fail(where, "expected an object");
  const strOrNull = (x: unknown, where: string) => (x === null ? null : str(x, where));
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
              return {
                title: str(entry.title, `${where}.title`),
                arxiv: strOrNull(entry.arxiv, `${where}.arxiv`),
                links: arr(entry.links, `${where}.links`).map((x, m) => {
                  const lk = obj(x, `${where}.links[${m}]`);
                  return { label: str(lk.label, `${where}.links[${m}].label`), url: str(lk.url, `${where}.links[${m}].url`) };
                }),
                description: str(entry.description, `${where}.description`),
                family: strOrNull(entry.family, `${where}.family`),
              };
            }),
          };
        }),
      };
    }),
  };
}

/**
 * The Status cell: every checkpoint of the entry's family with its headline accuracy, linked to its row in
 * leaderboard.md ("reproduced: ..."), or what stands in its way; "planned (family x)" when the family has no
 * checkpoint yet; "—" for entries no family reproduces.
 */
export function statusCell(entry: AwesomeEntry, cards: readonly ModelCard[], tables: readonly AccuracyTable[]): string {
  if (!entry.family) return "—";
  const mine = cards.filter((c) => c.family === entry.family);
  if (mine.length === 0) return `planned (family ${cell(entry.family)})`;
  const parts = mine.map((card) => {
    const at = link(card.id, `leaderboard.md#${anchorFor(card.id, card.task.id)}`);
    const h = headline(card, tables);
    if (!h) return `checkpoint ${at}: not benchmarked yet`;
    if (h.row.status === "ok" && h.row.value !== null && Number.isFinite(h.row.value)) {
      return `reproduced: ${at} ${h.row.metric === "accuracy" ? percent(h.row.value) : `${showMetric(h.row.metric as QualityMetric)(h.row.value)} ${METRIC_LABELS[h.row.metric as QualityMetric]}`} ${h.label}`;
    }
    return `checkpoint ${at}: ${h.row.status === "na" ? "NA" : `FAIL (${h.row.status})`} ${h.label}`;
  });
  return `${parts.join("; ")} (${link("family page", familyPage(entry.family))})`;
}

/** The generated body of docs/awesome.md: one table row per entry, sections as in the data. */
export function renderAwesome(data: AwesomeData, cards: readonly ModelCard[], tables: readonly AccuracyTable[]): string {
  const entries = data.lists.flatMap((l) => l.sections.flatMap((s) => s.entries));
  const statuses = entries.map((e) => statusCell(e, cards, tables));
  const reproduced = statuses.filter((s) => s.includes("reproduced: ")).length;
  const pending = statuses.filter((s) => s.startsWith("checkpoint ")).length;
  const planned = statuses.filter((s) => s.startsWith("planned ")).length;
  const families = [...new Set(cards.map((c) => c.family))].sort(cmp);
  const out: string[] = [
    `${entries.length} entries from ${data.lists.length} lists: ${reproduced} reproduced by an ssmbench checkpoint of their ` +
      `family, ${pending} with a checkpoint not yet benchmarked ok, ${planned} planned (family named, no checkpoint yet). ` +
      `Families with checkpoints: ${families.length ? families.join(", ") : "none yet"}. The status links each checkpoint ` +
      "to its row in the [leaderboard](leaderboard.md), with its accuracy at the setting it was trained at.",
  ];
  for (const list of data.lists) {
    out.push("", `## ${list.title}`);
    for (const section of list.sections) {
      out.push("", `### ${section.title}`, "");
      const rows = section.entries.map((e) => [
        e.arxiv ? link(e.title, arxivUrl(e.arxiv)) : cell(e.title),
        e.links.map((l) => link(l.label, l.url)).join(" · ") || "—",
        cell(e.description),
        statusCell(e, cards, tables),
      ]);
      out.push(table(["entry", "links", "description", "status"], rows));
    }
  }
  return out.join("\n");
}
