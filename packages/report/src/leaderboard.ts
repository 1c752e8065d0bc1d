// docs/leaderboard.md: accuracy per task and setting, speed per execution provider, provenance.
// Everything is computed from the merged rows (one per model, task, split, EP, length, batch, metric)
// and the cards; a cell with no row is NA (never run), a row that ran and failed is FAIL (status).
import path from "node:path";
import { higherIsBetter, isQualityMetric, type Metric, type ModelCard, type QualityMetric, type ResultRow } from "@ssmbench/core";
import {
  byFields,
  bytes,
  cell,
  cmp,
  finite,
  grouped,
  link,
  megabytes,
  ms,
  percent,
  relLink,
  table,
  tokensPerS,
  unique,
  arxivUrl,
} from "./format.ts";
import { published, type PublishedFigure } from "./published.ts";
import { isSuiteRow } from "./speed.ts";

// ---------- names, anchors, cells ----------

/** An id safe in an HTML anchor and a file name. */
export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** Anchor of a model's accuracy row: its id when the id already names the task (mamba-mqar, mamba-mqar-d128), else id-task. */
export function anchorFor(model: string, task: string): string {
  return slug(model.split("-").includes(task) ? model : `${model}-${task}`);
}

/** Anchor of a model's row in the speed table of one EP. */
export function speedAnchor(model: string, ep: string, batch: number): string {
  return slug(`${model}-speed-${ep}${batch === 1 ? "" : `-b${batch}`}`);
}

/** docs/models/<family>.md, relative to docs/. */
export function familyPage(family: string): string {
  return `models/${slug(family)}.md`;
}

const TASK_LABELS: Record<string, string> = {
  mqar: "MQAR",
  "selective-copying": "Selective copying",
  "induction-heads": "Induction heads",
  "associative-recall": "Associative recall",
  copying: "Copying",
  smnist: "sMNIST",
  psmnist: "psMNIST",
  text: "LRA Text",
  listops: "LRA ListOps",
  pathfinder: "LRA Pathfinder",
  "byte-lm": "Byte LM",
  "subword-lm": "Subword LM",
};

export function taskLabel(task: string): string {
  return TASK_LABELS[task] ?? task.toUpperCase();
}

/** Tasks whose settings are lengths named by their power of two, as Mamba's Table 11 names them: L512 -> "2^9 (512)". */
const POWER_OF_TWO_LENGTHS = new Set(["induction-heads"]);

/** 512 -> "2^9 (512)"; 1048576 -> "2^20 (1,048,576)". */
export function powerLabel(n: number): string {
  return `2^${Math.log2(n)} (${grouped(n)})`;
}

/** A setting's own name as shown: "128/8", or "2^9 (512)" for a length-named setting of such a task. */
function settingName(task: string, setting: string): string {
  const m = /^L(\d+)$/.exec(setting);
  const n = m ? Number(m[1]) : 0;
  return POWER_OF_TWO_LENGTHS.has(task) && n > 0 && Number.isInteger(Math.log2(n)) ? powerLabel(n) : setting;
}

/**
 * "test@128/8" -> "MQAR 128/8"; a split other than test is named: "valid@128/8" -> "MQAR valid 128/8";
 * induction heads by power of two: "test@L512" -> "Induction heads 2^9 (512)".
 */
export function settingLabel(task: string, split: string): string {
  const at = split.indexOf("@");
  if (at < 0) return `${taskLabel(task)} ${split}`;
  const name = split.slice(0, at);
  return `${taskLabel(task)} ${name === "test" ? "" : `${name} `}${settingName(task, split.slice(at + 1))}`;
}

/** An accuracy table's column heading: the setting label, without the task's name where the setting is a power of two. */
export function columnLabel(task: string, split: string): string {
  return POWER_OF_TWO_LENGTHS.has(task) && split.startsWith("test@") ? settingName(task, split.slice(5)) : settingLabel(task, split);
}

/** An na row of a checkpoint whose state grows with the length, at a setting past the bench's streaming threshold. */
const grewOut = (row: ResultRow) => row.status === "na" && /state grows with the length/.test(row.note);

/** What a cell without a usable value says: NA when never run (or marked na), FAIL (status) when it ran and failed. */
export function statusText(row: ResultRow | undefined): string {
  if (!row || row.status === "na") return "NA";
  return row.status === "ok" ? "—" : `FAIL (${row.status})`;
}

/** An ok row's finite value, else undefined. */
function okValue(row: ResultRow | undefined): number | undefined {
  return row?.status === "ok" ? finite(row.value) : undefined;
}

/** Accuracy as a percent with its 95% interval: "99.2% (98.9–99.4)". */
export function accuracyText(row: ResultRow, bold = false): string {
  const v = okValue(row);
  if (v === undefined) return statusText(row);
  const lo = finite(row.ci_low);
  const hi = finite(row.ci_high);
  const value = bold ? `**${percent(v)}**` : percent(v);
  return lo === undefined || hi === undefined ? value : `${value} (${(lo * 100).toFixed(1)}–${(hi * 100).toFixed(1)})`;
}

/**
 * The displayed best of a column: cells showing it are bold (so ties at display precision are all bold).
 * Nothing is bold unless at least two values compete.
 */
export function bestShown(values: (number | undefined)[], show: (x: number) => string, higherIsBetter: boolean): string | undefined {
  const xs = values.filter((x): x is number => x !== undefined);
  if (xs.length < 2) return undefined;
  return show(higherIsBetter ? Math.max(...xs) : Math.min(...xs));
}

/** First cell of a table row: the anchor, the model linked to its family page, and its card. */
function modelCell(model: string, anchor: string, card: ModelCard | undefined, docsDir: string, modelsDir: string): string {
  const id = `<a id="${anchor}"></a>`;
  if (!card) return `${id}${cell(model)} (no card)`;
  const cardLink = relLink(docsDir, path.join(modelsDir, model, "card.json"));
  return `${id}${link(model, `${familyPage(card.family)}#${slug(model)}`)} (${link("card", cardLink)})`;
}

/** What a quality metric is called in table headings. */
export const METRIC_LABELS: Record<QualityMetric, string> = { accuracy: "accuracy", bits_per_byte: "bits per byte", perplexity: "perplexity" };

/** A quality metric's value as shown: accuracy in %, bits per byte to 3 decimals, perplexity to 2. */
export function showMetric(metric: QualityMetric): (x: number) => string {
  if (metric === "accuracy") return percent;
  return metric === "bits_per_byte" ? (x) => x.toFixed(3) : (x) => x.toFixed(2);
}

/** A language-modelling value with its 95% interval: "1.234 (1.220–1.248)"; bold when best. */
export function lmText(row: ResultRow, bold = false): string {
  const v = okValue(row);
  if (v === undefined) return statusText(row);
  const show = showMetric(row.metric as QualityMetric);
  const lo = finite(row.ci_low);
  const hi = finite(row.ci_high);
  const value = bold ? `**${show(v)}**` : show(v);
  return lo === undefined || hi === undefined ? value : `${value} (${show(lo)}–${show(hi)})`;
}

// ---------- accuracy ----------

export interface AccuracyColumn {
  split: string;
  seqLen: number;
  label: string;
}
export interface AccuracyRow {
  model: string;
  anchor: string;
  card: ModelCard | undefined;
  /** One per column: the row shown, or undefined (NA). */
  cells: (ResultRow | undefined)[];
}
export interface AccuracyTable {
  task: string;
  /** accuracy, or a language-modelling task's bits per byte or perplexity (one table each) */
  metric: QualityMetric;
  columns: AccuracyColumn[];
  rows: AccuracyRow[];
}

/** Among rows of one (model, task, split) from several EPs or batches: an ok one first, then by EP, batch, length. */
const cellPreference = byFields<ResultRow>(
  (r) => (r.status === "ok" ? 0 : 1),
  (r) => r.ep,
  (r) => r.batch,
  (r) => r.seq_len,
);

/** A task's tables in this order: its main metric first (perplexity before the bits per byte beside it). */
const TABLE_ORDER: QualityMetric[] = ["accuracy", "perplexity", "bits_per_byte"];

/**
 * One table per task and quality metric that has rows, or per task with a card (an accuracy table, until it has
 * rows): columns are its settings (by length), rows its models (every card trained on the task, so an
 * unbenchmarked checkpoint shows as NA rather than vanishing). A task's first table anchors its models' rows
 * (anchorFor); a second one (subword-lm's bits per byte) suffixes the metric.
 */
export function accuracyTables(rows: readonly ResultRow[], cards: readonly ModelCard[]): AccuracyTable[] {
  const quality = rows.filter((r) => isQualityMetric(r.metric));
  const tasks = unique([...quality.map((r) => r.task), ...cards.map((c) => c.task.id)]).sort(cmp);
  return tasks.flatMap((task) => {
    const present = new Set(quality.filter((r) => r.task === task).map((r) => r.metric));
    const metrics = present.size ? TABLE_ORDER.filter((m) => present.has(m)) : (["accuracy"] as QualityMetric[]);
    return metrics.map((metric, mi) => {
      const mine = quality.filter((r) => r.task === task && r.metric === metric);
      const columns = unique(mine.map((r) => r.split))
        .map((split) => {
          const seqLen = Math.min(...mine.filter((r) => r.split === split).map((r) => r.seq_len));
          return { split, seqLen, label: columnLabel(task, split) };
        })
        .sort(byFields((c) => c.seqLen, (c) => c.split));
      const models = unique([...mine.map((r) => r.model), ...cards.filter((c) => c.task.id === task).map((c) => c.id)]).sort(cmp);
      return {
        task,
        metric,
        columns,
        rows: models.map((model) => ({
          model,
          anchor: mi === 0 ? anchorFor(model, task) : slug(`${anchorFor(model, task)}-${metric}`),
          card: cards.find((c) => c.id === model),
          cells: columns.map((col) => mine.filter((r) => r.model === model && r.split === col.split).sort(cellPreference)[0]),
        })),
      };
    });
  });
}

/**
 * A checkpoint's headline accuracy, for the awesome list: the setting it was trained at when that ran ok,
 * else its first ok setting, else the trained (or first) setting's failure; undefined when not benchmarked.
 */
export function headline(card: ModelCard, tables: readonly AccuracyTable[]): { row: ResultRow; label: string } | undefined {
  const t = tables.find((x) => x.task === card.task.id);
  const r = t?.rows.find((x) => x.model === card.id);
  if (!t || !r) return undefined;
  const picks = t.columns.map((col, i) => ({ row: r.cells[i], label: settingLabel(t.task, col.split) }));
  // bench notes the trained setting's rows ("..., trained setting"); older rows are matched by length
  const trained =
    picks.find((p) => p.row?.note.includes("trained setting")) ?? picks.find((p) => p.row && p.row.seq_len === card.task.params.seq_len);
  const ok = (p: (typeof picks)[number] | undefined) => p?.row?.status === "ok";
  const pick = ok(trained) ? trained : (picks.find(ok) ?? trained ?? picks.find((p) => p.row));
  return pick?.row ? { row: pick.row, label: pick.label } : undefined;
}

/**
 * The task x family overview: for each family and task, the best headline value (the trained setting's, see
 * headline) among the family's checkpoints on the task, linked to its row in the task's table; "—" where the family
 * has no benchmarked checkpoint on the task. Each task's main table (accuracy, or perplexity before bits per byte).
 */
export function renderOverview(all: readonly AccuracyTable[], cards: readonly ModelCard[]): string[] {
  const mains = all.filter((t, i) => all.findIndex((u) => u.task === t.task) === i);
  if (mains.length === 0) return [];
  const families = unique(cards.map((c) => c.family)).sort(cmp);
  const body = families.map((family) => [
    link(family, familyPage(family)),
    ...mains.map((t) => {
      const picks = cards
        .filter((c) => c.family === family && c.task.id === t.task)
        .map((c) => ({ card: c, pick: headline(c, [t]) }))
        .filter((x) => x.pick && okValue(x.pick.row) !== undefined);
      if (picks.length === 0) return "—";
      const better = higherIsBetter(t.metric);
      const best = picks.sort(byFields((x) => (better ? -1 : 1) * okValue(x.pick!.row)!))[0]!;
      return link(showMetric(t.metric)(okValue(best.pick!.row)!), `#${anchorFor(best.card.id, t.task)}`);
    }),
  ]);
  const header = ["family", ...mains.map((t) => `${taskLabel(t.task)} (${METRIC_LABELS[t.metric]})`)];
  return [
    "## Overview: tasks x families",
    "",
    "Each family's best checkpoint on each task, at the setting it was trained at (linked to its row below, where the " +
      "other settings, the intervals, the training budget and the published figures beside ours are). Accuracy: higher " +
      "is better; bits per byte and perplexity: lower. `—`: no benchmarked checkpoint of the family on the task yet.",
    "",
    table(header, body, ["l", ...mains.map(() => "r" as const)]),
    "",
  ];
}

function renderAccuracy(all: AccuracyTable[], docsDir: string, modelsDir: string, cards: readonly ModelCard[]): string[] {
  const tables = all.filter((t) => t.metric === "accuracy");
  const lm = all.some((t) => t.metric !== "accuracy") ? ["", ...renderLanguageModelling(all, docsDir, modelsDir, cards)] : [];
  if (tables.length === 0) return lm;
  const out: string[] = [
    "## Accuracy",
    "",
    "Accuracy on held-out test examples, in % of scored positions, with its 95% Wilson interval; columns are the " +
      "task's evaluation settings (for MQAR: sequence length / key-value pairs). **Bold**: best in its column (when more than one ran). " +
      "`FAIL (status)`: ran and failed (nan, oom, timeout or error); `NA`: not run.",
  ];
  for (const t of tables) {
    out.push("", `### ${taskLabel(t.task)}`, "");
    const header = ["model", "family", "params", ...(t.columns.length ? t.columns.map((c) => c.label) : ["results"])];
    const best = t.columns.map((_, i) => bestShown(t.rows.map((r) => okValue(r.cells[i])), percent, true));
    const body = t.rows.map((r) => [
      modelCell(r.model, r.anchor, r.card, docsDir, modelsDir),
      r.card ? cell(r.card.family) : "—",
      r.card ? grouped(r.card.params) : "—",
      ...(t.columns.length
        ? r.cells.map((c, i) => (c ? accuracyText(c, okValue(c) !== undefined && percent(okValue(c)!) === best[i]) : "NA"))
        : ["NA"]),
    ]);
    const theirs = publishedByLength(t);
    out.push(table(header, [...body, ...theirs.rows], ["l", "l", "r"]));
    out.push(...accuracyNotes(t, theirs.rows.length > 0));
    out.push(...renderWidthTable(t, cards));
    out.push(...renderPublished(t.task, cards, theirs.figures));
  }
  out.push(...lm);
  return out;
}

/**
 * A published figure by test length (Mamba's Table 11) as rows of the task's accuracy table: each published model
 * in italics, its figure under our column of the same length ("58.6%", "perfect", "OOM" as printed), "—" under our
 * columns the figure has no length for. None when no column of ours has a length the figure reports.
 */
function publishedByLength(t: AccuracyTable): { rows: string[][]; figures: Set<PublishedFigure> } {
  const pub = published[t.task];
  const rows: string[][] = [];
  const figures = new Set<PublishedFigure>();
  if (!pub || t.metric !== "accuracy") return { rows, figures };
  for (const f of pub.figures ?? []) {
    const lengths = f.lengths;
    if (!lengths || !t.columns.some((c) => lengths.includes(c.seqLen))) continue;
    figures.add(f);
    for (const r of f.rows) {
      const cells = t.columns.map((c) => {
        const v = r[lengths.indexOf(c.seqLen)];
        return lengths.includes(c.seqLen) && v !== undefined ? cell(/^\d+(\.\d+)?$/.test(v) ? `${v}%` : v) : "—";
      });
      rows.push([`*${cell(pub.theirs)}: ${cell(r[0] ?? "")}*`, "published", cell(r[1] ?? "—"), ...cells]);
    }
  }
  return { rows, figures };
}

/** "a", "a and b", "a, b and c". */
const andList = (xs: readonly string[]) => (xs.length < 2 ? (xs[0] ?? "") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`);

/** What an accuracy table's own cells need said: published rows set into it, NA for growing states, streamed settings. */
function accuracyNotes(t: AccuracyTable, withPublished: boolean): string[] {
  const notes: string[] = [];
  const pub = published[t.task];
  if (withPublished && pub) {
    notes.push(
      `Rows in italics: ${pub.source} as printed, under the columns of the same test length (\`perfect\`: 100%; ` +
        "`OOM`: out of GPU memory; `—`: no figure for that length in the table copied here); their models and training differ from ours (settings below).",
    );
  }
  const cells = t.rows.flatMap((r) => r.cells).filter((c): c is ResultRow => c !== undefined);
  const grew = t.rows.filter((r) => r.cells.some((c) => c && grewOut(c)));
  if (grew.length) {
    const columns = t.columns.filter((_, i) => grew.some((r) => r.cells[i] && grewOut(r.cells[i]!))).map((c) => c.label);
    notes.push(
      `\`NA\` at ${andList(columns)} for ${andList(grew.map((r) => cell(r.model)))}: not run, because the checkpoint's state grows ` +
        "with the length (attention's key-value cache, Hyena's filter history) and settings past 65,536 tokens are streamed " +
        "through `step.onnx` for constant-size states only. (In the paper, attention runs out of GPU memory there: OOM.)",
    );
  }
  if (cells.some((c) => c.status === "ok" && c.note.includes("streamed through step.onnx"))) {
    notes.push(
      "Settings past 65,536 tokens were streamed through `step.onnx`: all of a setting's examples stepped together, token by " +
        "token; long settings evaluate fewer examples (at most 2^21 tokens of examples, at least 16), hence wider intervals.",
    );
  }
  return notes.length ? ["", ...notes.flatMap((n, i) => (i ? ["", n] : [n]))] : [];
}

/** The published settings (and figures) beside ours, under a task's (last) table; `shown`: figures already set into it. */
function renderPublished(task: string, cards: readonly ModelCard[], shown: ReadonlySet<PublishedFigure> = new Set()): string[] {
  const pub = published[task];
  if (!pub) return [];
  const ours = cards.filter((c) => c.task.id === task);
  const out = ["", `#### Published: ${pub.source}, ${link(`arXiv ${pub.arxiv}`, arxivUrl(pub.arxiv))}`, "", pub.summary, ""];
  for (const f of pub.figures ?? []) if (!shown.has(f)) out.push(`${f.caption}:`, "", table(f.header, f.rows.map((r) => r.map(cell))), "");
  out.push(
    table(
      ["setting", pub.theirs, ...ours.map((c) => cell(c.id))],
      pub.rows.map((row) => [row.label, cell(row.theirs), ...ours.map((c) => cell(row.ours(c)))]),
    ),
  );
  return out;
}

/** Bits per byte and perplexity tables (lower is better), one per language-modelling task and metric. */
function renderLanguageModelling(all: AccuracyTable[], docsDir: string, modelsDir: string, cards: readonly ModelCard[]): string[] {
  const tables = all.filter((t) => t.metric !== "accuracy");
  const out: string[] = [
    "## Language modelling",
    "",
    "Held-out test text cut into consecutive windows, every position scored. Bits per byte: the mean -log2 p of the " +
      "next token over the bytes of text the tokens stand for; perplexity: 2 to the mean bits per token. Lower is " +
      "better; in brackets the 95% interval over windows (delta method). **Bold**: best in its column (when more than " +
      "one ran). `FAIL (status)`: ran and failed; `NA`: not run.",
  ];
  tables.forEach((t, i) => {
    out.push("", `### ${taskLabel(t.task)}: ${METRIC_LABELS[t.metric]}`, "");
    const show = showMetric(t.metric);
    const best = t.columns.map((_, ci) => bestShown(t.rows.map((r) => okValue(r.cells[ci])), show, higherIsBetter(t.metric)));
    const body = t.rows.map((r) => [
      modelCell(r.model, r.anchor, r.card, docsDir, modelsDir),
      r.card ? cell(r.card.family) : "—",
      r.card ? grouped(r.card.params) : "—",
      ...r.cells.map((c, ci) => (c ? lmText(c, okValue(c) !== undefined && show(okValue(c)!) === best[ci]) : "NA")),
    ]);
    out.push(table(["model", "family", "params", ...t.columns.map((c) => c.label)], body, ["l", "l", "r"]));
    if (tables[i + 1]?.task !== t.task) out.push(...renderPublished(t.task, cards));
  });
  return out;
}

/**
 * Zoology's picture: accuracy at the trained setting against model width (d_model), one row per family, when
 * the task has checkpoints of several widths or families. Each cell links to the checkpoint's row above.
 */
function renderWidthTable(t: AccuracyTable, cards: readonly ModelCard[]): string[] {
  const mine = cards.filter((c) => c.task.id === t.task && typeof c.config.d_model === "number");
  const widths = unique(mine.map((c) => c.config.d_model as number)).sort((a, b) => a - b);
  const families = unique(mine.map((c) => c.family)).sort(cmp);
  if (widths.length < 2 && families.length < 2) return [];
  const pick = (family: string, width: number) =>
    mine
      .filter((c) => c.family === family && c.config.d_model === width)
      .map((c) => ({ card: c, head: headline(c, [t]) }))
      .sort(byFields((x) => -(okValue(x.head?.row) ?? -1), (x) => x.card.id))[0];
  const grid = families.map((f) => widths.map((w) => pick(f, w)));
  const best = widths.map((_, i) => bestShown(grid.map((r) => okValue(r[i]?.head?.row)), percent, true));
  const body = families.map((f, fi) => [
    cell(f),
    ...grid[fi]!.map((x, i) => {
      if (!x) return "—";
      const v = okValue(x.head?.row);
      const text = v === undefined ? statusText(x.head?.row) : percent(v) === best[i] ? `**${percent(v)}**` : percent(v);
      return link(text, `#${anchorFor(x.card.id, t.task)}`);
    }),
  ]);
  const cellAt = (family: string, wi: number) => grid[families.indexOf(family)]?.[wi];
  return [
    "",
    `#### ${taskLabel(t.task)}: accuracy against model width`,
    "",
    "Accuracy at the setting each checkpoint was trained at, by family (rows) and d_model (columns), as Zoology plots it; " +
      "`—`: no checkpoint of that width. Each checkpoint's training budget is in its card.",
    "",
    table(["family", ...widths.map((w) => `d_model ${w}`)], body, ["l", ...widths.map(() => "r" as const)]),
    ...(t.task === "mqar" ? zoologyFinding(mine, widths, cellAt) : []),
  ];
}

/**
 * Zoology's classes of sequence mixer (Arora et al., arXiv 2312.04927): attention, and gated convolutions whose
 * long filters or decays do not depend on the input (H3, Hyena, RWKV-4, RetNet); input-dependent recurrences
 * (Mamba, RWKV-6) are the kind that later closes the gap. Families not named here are left out of the check.
 */
function zoologyClass(card: ModelCard): "attention" | "gated convolution" | "input-dependent" | undefined {
  if (card.family === "transformer") return "attention";
  if (["hyena", "h3", "retnet"].includes(card.family) || (card.family === "rwkv" && /rwkv-4/i.test(card.variant))) return "gated convolution";
  if (["mamba", "mamba2", "rwkv", "gla", "hgrn"].includes(card.family)) return "input-dependent";
  return undefined;
}

/** Zoology's finding (attention solves MQAR at small width, gated convolutions need more), checked on our numbers. */
function zoologyFinding(
  cards: readonly ModelCard[],
  widths: number[],
  cellAt: (family: string, wi: number) => { head?: { row?: ResultRow } } | undefined,
): string[] {
  const valueAt = (f: string, wi: number) => okValue(cellAt(f, wi)?.head?.row);
  const familiesOf = (k: string) => unique(cards.filter((c) => zoologyClass(c) === k).map((c) => c.family)).sort(cmp);
  const [attention, gated, inputDependent] = [familiesOf("attention"), familiesOf("gated convolution"), familiesOf("input-dependent")];
  if (attention.length === 0 || gated.length === 0 || widths.length < 2) return [];
  const [first, last] = [0, widths.length - 1];
  const at = (f: string, wi: number) => {
    const v = valueAt(f, wi);
    if (v !== undefined) return percent(v);
    return cellAt(f, wi) ? "NA" : "—"; // a checkpoint without a usable row, or none of that width
  };
  const curve = (f: string) => `${f} ${widths.map((_, wi) => at(f, wi)).join(" → ")}`;
  const att = attention.map((f) => valueAt(f, first));
  const attentionSolves = att.every((v) => v !== undefined && v >= 0.9);
  const gatedBehind = gated.every((f) => { const v = valueAt(f, first); return v !== undefined && att.every((a) => a! - v >= 0.2); });
  const gatedGain = gated.every((f) => (valueAt(f, last) ?? -1) > (valueAt(f, first) ?? 2));
  const verdict = attentionSolves && gatedBehind && gatedGain
    ? "**Reproduced here**: attention is at 90% or more at the smallest width, every gated convolution is at least 20 points below it there, and each gains with width."
    : `**Not fully reproduced here**: ${[
        attentionSolves ? "" : "attention is below 90% at the smallest width",
        gatedBehind ? "" : "not every gated convolution is 20 points or more below attention at the smallest width",
        gatedGain ? "" : "not every gated convolution gains with width",
      ].filter(Boolean).join("; ")}.`;
  return [
    "",
    `Zoology's finding, checked (d_model ${widths.join(" → ")}): attention solves MQAR at small width while gated convolutions, ` +
      "whose filters or decays do not depend on the input, need more width. Attention: " + attention.map(curve).join("; ") +
      ". Gated convolutions: " + gated.map(curve).join("; ") + "." +
      (inputDependent.length ? ` Input-dependent recurrences, for comparison: ${inputDependent.map(curve).join("; ")}.` : ""),
    "",
    `${verdict} Each family had its own training budget (steps, learning-rate sweep: the settings table below), so a gap ` +
      "can also reflect training that was too short for that family.",
  ];
}

// ---------- speed ----------

/** Speed metrics in column order; the p90 of decode is folded into the decode cell. */
const speedMetrics: { metric: Metric; title: string; higherIsBetter: boolean; show: (x: number) => string; alwaysLength: boolean }[] = [
  { metric: "prefill_tokens_per_s", title: "prefill tok/s", higherIsBetter: true, show: tokensPerS, alwaysLength: true },
  { metric: "decode_ms_per_token", title: "decode ms/token, median (p90)", higherIsBetter: false, show: ms, alwaysLength: false },
  { metric: "state_bytes", title: "state", higherIsBetter: false, show: bytes, alwaysLength: false },
  { metric: "peak_rss_mb", title: "peak RSS MB", higherIsBetter: false, show: megabytes, alwaysLength: false },
];

function renderSpeed(rows: readonly ResultRow[], cards: readonly ModelCard[], docsDir: string, modelsDir: string): string[] {
  // The speed suite's rows (split prefill/decode) have their own page, docs/speed.md.
  const speed = rows.filter((r) => !isQualityMetric(r.metric) && !isSuiteRow(r));
  if (speed.length === 0) return [];
  const out: string[] = [
    "## Speed",
    "",
    "Per execution provider (EP). Medians over repeated runs after a warm-up. Prefill: tokens/s for one sequence " +
      "of the given length (higher is better). Decode: ms per token through `step.onnx`, median and p90 (lower is " +
      "better). State: recurrent state per sequence. Peak RSS: resident memory of the process. **Bold**: best in its " +
      "column. `FAIL (status)`: ran and failed; `NA`: not run. Absolute figures hold only for the machine named on the row.",
  ];
  for (const ep of unique(speed.map((r) => r.ep)).sort(cmp)) {
    const mine = speed.filter((r) => r.ep === ep);
    const find = (model: string, batch: number, metric: Metric, len: number) =>
      mine.find((r) => r.model === model && r.batch === batch && r.metric === metric && r.seq_len === len);
    // Columns: one per (metric, length); the length is named when it varies (always for prefill).
    const columns = speedMetrics.flatMap((m) => {
      const lens = unique(
        mine.filter((r) => r.metric === m.metric || (m.metric === "decode_ms_per_token" && r.metric === "decode_ms_per_token_p90")).map((r) => r.seq_len),
      ).sort(cmp);
      const named = m.alwaysLength || lens.length > 1;
      return lens.map((len) => ({ ...m, len, label: named ? `${m.title} @${grouped(len)}` : m.title }));
    });
    const keys = unique(mine.map((r) => JSON.stringify([r.model, r.batch])))
      .map((k) => JSON.parse(k) as [string, number])
      .sort(byFields((k) => k[0], (k) => k[1]));
    const best = columns.map((c) =>
      bestShown(keys.map(([model, batch]) => okValue(find(model, batch, c.metric, c.len))), c.show, c.higherIsBetter),
    );
    const body = keys.map(([model, batch]) => {
      const card = cards.find((c) => c.id === model);
      const label = modelCell(model, speedAnchor(model, ep, batch), card, docsDir, modelsDir) + (batch === 1 ? "" : ` batch ${batch}`);
      const cells = columns.map((c, i) => {
        const row = find(model, batch, c.metric, c.len);
        const v = okValue(row);
        let text = v === undefined ? statusText(row) : c.show(v) === best[i] ? `**${c.show(v)}**` : c.show(v);
        if (c.metric === "decode_ms_per_token") {
          const p90 = okValue(find(model, batch, "decode_ms_per_token_p90", c.len));
          if (p90 !== undefined) text += ` (${ms(p90)})`;
        }
        return text;
      });
      const own = mine.filter((r) => r.model === model && r.batch === batch);
      const machine = unique(own.map((r) => `${r.host} (${r.cpu}, ${r.cores} cores)`)).sort(cmp).join("; ");
      const runtime = unique(own.map((r) => `${r.runtime} ${r.runtime_version}`)).sort(cmp).join("; ");
      return [label, ...cells, cell(machine), cell(runtime)];
    });
    out.push("", `### ${ep}`, "");
    out.push(table(["model", ...columns.map((c) => c.label), "machine", "runtime"], body, ["l", ...columns.map(() => "r" as const)]));
    out.push(...renderRatios(mine, cards, ep));
  }
  return out;
}

/** The family every speed claim of the field is made against. */
export const ATTENTION_FAMILY = "transformer";

/**
 * Speed-ups over attention: each checkpoint against the attention checkpoint of the same task and width, using
 * only rows of the same run and EP (timings from different runs or machines are never divided).
 * Prefill: tokens/s ratio; decode: ms/token ratio (attention / model), so > 1 means faster than attention.
 */
function renderRatios(mine: readonly ResultRow[], cards: readonly ModelCard[], ep: string): string[] {
  const baselineOf = (card: ModelCard) =>
    cards.find((c) => c.family === ATTENTION_FAMILY && c.task.id === card.task.id && c.config.d_model === card.config.d_model);
  const one = (model: string, run: string, metric: Metric, len: number) =>
    okValue(mine.find((r) => r.model === model && r.run_id === run && r.batch === 1 && r.metric === metric && r.seq_len === len));
  const lens = unique(mine.filter((r) => r.metric === "prefill_tokens_per_s").map((r) => r.seq_len)).sort(cmp);
  const decodeLens = unique(mine.filter((r) => r.metric === "decode_ms_per_token").map((r) => r.seq_len)).sort(cmp);
  const body: string[][] = [];
  for (const card of [...cards].sort(byFields((c) => c.id))) {
    const base = baselineOf(card);
    if (!base || card.family === ATTENTION_FAMILY) continue;
    for (const run of unique(mine.filter((r) => r.model === card.id).map((r) => r.run_id)).sort(cmp)) {
      const ratio = (metric: Metric, len: number, invert: boolean) => {
        const a = one(card.id, run, metric, len);
        const b = one(base.id, run, metric, len);
        return a === undefined || b === undefined ? "—" : `${(invert ? b / a : a / b).toFixed(2)}x`;
      };
      const cells = [...lens.map((L) => ratio("prefill_tokens_per_s", L, false)), ...decodeLens.map((L) => ratio("decode_ms_per_token", L, true))];
      if (cells.every((c) => c === "—")) continue;
      body.push([cell(card.id), cell(base.id), `\`${cell(run)}\``, ...cells]);
    }
  }
  if (body.length === 0) return [];
  return [
    "",
    `#### ${ep}: speed against attention`,
    "",
    "Each checkpoint against the attention baseline of the same task and width, from rows of the same run on this EP: " +
      "prefill tokens/s ratio, and decode speed-up (attention ms/token over the model's). Above 1x: faster than attention.",
    "",
    table(
      ["model", "attention baseline", "run", ...lens.map((L) => `prefill @${grouped(L)}`), ...decodeLens.map((L) => `decode @${grouped(L)}`)],
      body,
      ["l", "l", "l", ...lens.map(() => "r" as const), ...decodeLens.map(() => "r" as const)],
    ),
  ];
}

// ---------- provenance ----------

function renderProvenance(rows: readonly ResultRow[]): string[] {
  if (rows.length === 0) return [];
  const runs = unique(rows.map((r) => r.run_id)).sort(cmp);
  const body = runs.map((run) => {
    const own = rows.filter((r) => r.run_id === run);
    const dates = unique(own.map((r) => r.timestamp.slice(0, 10))).sort(cmp);
    const list = (f: (r: ResultRow) => string) => cell(unique(own.map(f)).sort(cmp).join("; "));
    return [
      `\`${cell(run)}\``,
      dates.length > 1 ? `${dates[0]} .. ${dates[dates.length - 1]}` : (dates[0] ?? ""),
      list((r) => (r.git_sha ? `\`${r.git_sha.slice(0, 10)}\`` : "—")),
      list((r) => `${r.host} (${r.cpu}, ${r.cores} cores)`),
      list((r) => `${r.runtime} ${r.runtime_version}`),
      list((r) => r.ep),
      String(own.length),
    ];
  });
  const out = [
    "## Provenance",
    "",
    "The runs behind every figure above: for each model, task, setting, EP, length, batch and metric the latest " +
      "ok row, or the latest failure when none ran ok (the merge is `results/leaderboard.csv`).",
    "",
    table(["run", "date", "git sha", "machine", "runtime", "EP", "rows"], body, ["l", "l", "l", "l", "l", "l", "r"]),
  ];
  const notOk = rows.filter((r) => r.status !== "ok");
  if (notOk.length > 0) {
    out.push("", "### Rows not ok", "");
    for (const r of notOk) {
      const what =
        r.metric === "accuracy" ? settingLabel(r.task, r.split) : isQualityMetric(r.metric) ? `${settingLabel(r.task, r.split)} ${METRIC_LABELS[r.metric]}` : `${r.metric} @${grouped(r.seq_len)}`;
      const note = r.note ? `: ${cell(r.note)}` : "";
      out.push(`- ${cell(r.model)}, ${cell(what)}, ${cell(r.ep)}: ${statusText(r)}${note} (run \`${cell(r.run_id)}\`)`);
    }
  }
  return out;
}

// ---------- the page ----------

export interface LeaderboardInput {
  /** Merged rows (see mergeLeaderboard). */
  rows: readonly ResultRow[];
  cards: readonly ModelCard[];
  docsDir: string;
  modelsDir: string;
}

/** The generated body of docs/leaderboard.md (between the markers). */
export function renderLeaderboard({ rows, cards, docsDir, modelsDir }: LeaderboardInput): string {
  if (rows.length === 0 && cards.length === 0) return "No results yet: train a model, run `pnpm bench`, then `pnpm report`.";
  const tables = accuracyTables(rows, cards);
  return [
    ...renderOverview(tables, cards),
    ...renderAccuracy(tables, docsDir, modelsDir, cards),
    "",
    ...renderSpeed(rows, cards, docsDir, modelsDir),
    "",
    ...renderProvenance(rows),
  ]
    .join("\n")
    .replace(/\n{3,}/g, "\n\n");
}
