// Result files: read and validate the per-run CSVs, merge them into the leaderboard, write it back.
// results/<run-id>.csv is append-only (one per bench run); results/leaderboard.csv is derived from them.
import fs from "node:fs";
import path from "node:path";
import Papa from "papaparse";
import { ResultRow, UserError, resultColumns } from "@ssmbench/core";
import { byFields, cmp } from "./format.ts";

export const LEADERBOARD_CSV = "leaderboard.csv";

// Which columns hold numbers, and which of those may be empty (null): probed on the schema itself,
// so a new numeric column in core needs no edit here (a few probes, as a column may be bounded).
const numericColumns = new Set(resultColumns.filter((c) => [0, 1, -1, 0.5].some((x) => ResultRow.shape[c].safeParse(x).success)));
const nullableColumns = new Set(resultColumns.filter((c) => ResultRow.shape[c].safeParse(null).success));
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** CSV text -> typed value. What cannot be converted stays a string, so that zod names the problem. */
function typed(column: string, text: string): unknown {
  if (!numericColumns.has(column as keyof ResultRow)) return text;
  const t = text.trim();
  if (t === "" && nullableColumns.has(column as keyof ResultRow)) return null;
  if (t === "NaN") return Number.NaN;
  return NUMBER.test(t) ? Number(t) : text;
}

/**
 * Parse one result CSV. `file` is only used in messages. Throws a UserError naming the file and the
 * 1-based line of the first bad row (a quoted note may span lines, so lines are counted, not rows).
 */
export function parseResultsCsv(csv: string, file: string): ResultRow[] {
  const text = csv.replace(/^\uFEFF/, ""); // a byte-order mark would glue itself to the first column name
  const hint = `result files are written by \`pnpm bench\`; fix or remove the row (or the file) and rerun`;
  // The header first (its first record, quoted or not): it must name exactly the result columns.
  // The delimiter is always ",": papaparse's guess picks ";" for a one-row file whose note holds semicolons.
  const fields = (Papa.parse<string[]>(text, { preview: 1, delimiter: "," }).data[0] ?? []).map((f) => f.trim());
  const missing = resultColumns.filter((c) => !fields.includes(c));
  const unexpected = fields.filter((f) => !(resultColumns as string[]).includes(f));
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [missing.length ? `missing ${missing.join(", ")}` : "", unexpected.length ? `unexpected ${unexpected.join(", ")}` : ""];
    throw new UserError(`${file}:1: the header must be the result columns (${parts.filter(Boolean).join("; ")})`, hint);
  }
  const rows: ResultRow[] = [];
  let failure: UserError | undefined;
  // Offset just past the previous record and its line break (papaparse's cursor); the header is one line.
  let cursor = text.includes("\n") ? text.indexOf("\n") + 1 : text.length;
  const lineAt = (offset: number) => {
    let start = offset;
    while (text[start] === "\n" || text[start] === "\r") start++; // skipped blank lines
    return 1 + (text.slice(0, start).match(/\n/g)?.length ?? 0);
  };
  Papa.parse<Record<string, string>>(text, {
    delimiter: ",",
    header: true,
    skipEmptyLines: true,
    transformHeader: (h) => h.trim(),
    step(result, parser) {
      const line = lineAt(cursor);
      cursor = result.meta.cursor;
      const error = result.errors[0];
      if (error) {
        failure = new UserError(`${file}:${line}: malformed CSV row: ${error.message}`, hint);
        return parser.abort();
      }
      const raw = Object.fromEntries(Object.entries(result.data).map(([k, v]) => [k, typed(k, v)]));
      const row = ResultRow.safeParse(raw);
      if (!row.success) {
        const issues = row.error.issues.map((i) => `${i.path.join(".") || "row"}: ${i.message}`).join("; ");
        failure = new UserError(`${file}:${line}: invalid result row: ${issues}`, hint);
        return parser.abort();
      }
      rows.push(row.data);
    },
  });
  if (failure) throw failure;
  return rows;
}

/** Every run CSV under `resultsDir` (not leaderboard.csv), validated, files in name order. No directory: no rows. */
export function loadResults(resultsDir: string): ResultRow[] {
  if (!fs.existsSync(resultsDir)) return [];
  const files = fs
    .readdirSync(resultsDir)
    .filter((f) => f.endsWith(".csv") && f !== LEADERBOARD_CSV)
    .sort(cmp);
  return files.flatMap((f) => {
    const file = path.join(resultsDir, f);
    return parseResultsCsv(fs.readFileSync(file, "utf8"), file);
  });
}

/** What one leaderboard cell stands for: a row replaces an earlier one only when this key is equal. */
export function rowKey(r: Pick<ResultRow, "model" | "task" | "split" | "ep" | "seq_len" | "batch" | "metric">): string {
  return JSON.stringify([r.model, r.task, r.split, r.ep, r.seq_len, r.batch, r.metric]);
}

/** Leaderboard order: model, task, split, EP, length, batch, metric. */
export const leaderboardOrder = byFields<ResultRow>(
  (r) => r.model,
  (r) => r.task,
  (r) => r.split,
  (r) => r.ep,
  (r) => r.seq_len,
  (r) => r.batch,
  (r) => r.metric,
);

/** Is `a` a better pick than `b` for the same key? ok beats not-ok; then the later timestamp; then the later run id. */
function better(a: ResultRow, b: ResultRow): boolean {
  const okA = a.status === "ok";
  const okB = b.status === "ok";
  if (okA !== okB) return okA;
  const ta = Date.parse(a.timestamp);
  const tb = Date.parse(b.timestamp);
  if (ta !== tb) return ta > tb;
  if (a.run_id !== b.run_id) return a.run_id > b.run_id; // equal times: a deterministic tie-break
  // Same time and run (a file copied twice, shards merged from several folders): the row's content decides,
  // so that the merge never depends on the order the files were read in.
  return rowText(a) > rowText(b);
}

const rowText = (r: ResultRow) => JSON.stringify(resultColumns.map((c) => r[c]));

/**
 * One row per key: the latest ok row; when the key never ran ok, the latest of its nan / oom / timeout /
 * error / na rows, so a failure stays visible as FAIL and is never confused with NA (no row at all).
 * An older ok row therefore outlives a newer failure: the number it measured is still true of that checkpoint.
 */
export function mergeLeaderboard(rows: readonly ResultRow[]): ResultRow[] {
  const best = new Map<string, ResultRow>();
  for (const r of rows) {
    const k = rowKey(r);
    const current = best.get(k);
    if (!current || better(r, current)) best.set(k, r);
  }
  // An evaluation measured again on a re-exported checkpoint supersedes the rows of the earlier file whatever batch
  // they ran at (the batch is part of the key, so such a row would otherwise stay beside the new one).
  const latest = new Map<string, ResultRow>();
  const evalKey = (r: ResultRow) => JSON.stringify([r.model, r.task, r.split, r.ep, r.seq_len, r.metric]);
  const evaluations = [...best.values()].filter((r) => r.split.startsWith("test@") && r.status === "ok");
  for (const r of evaluations) {
    const cur = latest.get(evalKey(r));
    if (!cur || better(r, cur)) latest.set(evalKey(r), r);
  }
  const evaluated = new Set(evaluations);
  const superseded = (r: ResultRow) => evaluated.has(r) && latest.get(evalKey(r))!.checkpoint_sha256 !== r.checkpoint_sha256;
  return [...best.values()].filter((r) => !superseded(r)).sort(leaderboardOrder);
}

/** Rows as CSV with exactly the result columns, "\n" line ends and a final newline (null -> empty, NaN -> "NaN"). */
export function formatResultsCsv(rows: readonly ResultRow[]): string {
  const data = rows.map((r) => resultColumns.map((c) => r[c]));
  return `${Papa.unparse({ fields: resultColumns as string[], data }, { newline: "\n" })}\n`;
}

/** Merge every run CSV and write results/leaderboard.csv; returns the merged rows. */
export function writeLeaderboard(resultsDir: string): ResultRow[] {
  const merged = mergeLeaderboard(loadResults(resultsDir));
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, LEADERBOARD_CSV), formatResultsCsv(merged));
  return merged;
}
