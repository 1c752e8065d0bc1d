// Result rows: one CSV per run (results/<run-id>.csv), rewritten atomically (temp file, then rename) after every
// row, so an interrupted run keeps each finished row and never leaves half a file. --resume skips finished keys.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { cpus, hostname } from "node:os";
import { join } from "node:path";
import Papa from "papaparse";
import { ResultRow, UserError, resultColumns } from "@ssmbench/core";

export type Provenance = Pick<ResultRow, "run_id" | "git_sha" | "host" | "cpu" | "cores">;

export function gitSha(root: string): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return "unknown";
  }
}

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${process.pid}`;
}

export function provenance(root: string, runId: string): Provenance {
  const c = cpus();
  return { run_id: runId, git_sha: gitSha(root), host: hostname(), cpu: c[0]?.model.trim() ?? "unknown", cores: c.length };
}

/** Key of a measurement: what --resume compares. */
export const rowKey = (r: Pick<ResultRow, "model" | "task" | "split" | "ep" | "seq_len" | "batch" | "metric">) =>
  [r.model, r.task, r.split, r.ep, r.seq_len, r.batch, r.metric].join("|");

export function toCsv(rows: readonly ResultRow[]): string {
  return Papa.unparse({ fields: resultColumns as string[], data: rows.map((r) => resultColumns.map((c) => fmt(r[c]))) }, { newline: "\n" }) + "\n";
}

const fmt = (v: unknown) => (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v)) ? "" : v);

export function parseCsv(text: string, file: string): ResultRow[] {
  const parsed = Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true });
  if (parsed.errors.length) throw new UserError(`${file}: ${parsed.errors[0]!.message} (row ${parsed.errors[0]!.row})`, "fix or remove the file");
  return parsed.data.map((raw, i) => {
    const numeric = new Set(["seq_len", "batch", "n", "cores", "value", "ci_low", "ci_high"]);
    const obj: Record<string, unknown> = {};
    for (const c of resultColumns) obj[c] = numeric.has(c) ? (raw[c] === "" || raw[c] === undefined ? null : Number(raw[c])) : (raw[c] ?? "");
    const r = ResultRow.safeParse(obj);
    if (!r.success) throw new UserError(`${file}, line ${i + 2}: ${r.error.issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; ")}`, "fix or remove the row");
    return r.data;
  });
}

export class ResultFile {
  readonly path: string;
  private rows: ResultRow[] = [];

  constructor(dir: string, runId: string, resume: boolean) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `${runId}.csv`);
    if (existsSync(this.path)) {
      if (!resume) throw new UserError(`${this.path} already exists`, "pass --resume to continue that run, or choose another --run-id");
      this.rows = parseCsv(readFileSync(this.path, "utf8"), this.path);
    }
  }

  /** Finished measurements (status ok) of an earlier attempt of this run; failed ones are retried. */
  done(key: string): boolean {
    return this.rows.some((r) => r.status === "ok" && rowKey(r) === key);
  }

  get all(): readonly ResultRow[] {
    return this.rows;
  }

  append(row: ResultRow): void {
    const checked = ResultRow.parse(row);
    this.rows = this.rows.filter((r) => rowKey(r) !== rowKey(checked) || r.status === "ok");
    this.rows.push(checked);
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, toCsv(this.rows));
    renameSync(tmp, this.path);
  }
}
