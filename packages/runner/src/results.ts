// Result rows: one CSV per run (results/<run-id>.csv), rewritten atomically (temp file, then rename) after every
// row, so an interrupted run keeps each finished row and never leaves half a file. --resume skips finished keys.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { cpus, hostname } from "node:os";
import { join } from "node:path";
import { ResultRow, UserError } from "@ssmbench/core";
// One codec for result files, owned by the report (which reads them back): the key of a measurement, the CSV.
import { formatResultsCsv, parseResultsCsv, rowKey } from "@ssmbench/report";

export { rowKey };

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

export class ResultFile {
  readonly path: string;
  private rows: ResultRow[] = [];

  constructor(dir: string, runId: string, resume: boolean) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `${runId}.csv`);
    if (existsSync(this.path)) {
      if (!resume) throw new UserError(`${this.path} already exists`, "pass --resume to continue that run, or choose another --run-id");
      this.rows = parseResultsCsv(readFileSync(this.path, "utf8"), this.path);
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
    writeFileSync(tmp, formatResultsCsv(this.rows));
    renameSync(tmp, this.path);
  }
}
