// Result rows: one CSV per run (results/<run-id>.csv), rewritten atomically (temp file, then rename) after every
// row, so an interrupted run keeps each finished row and never leaves half a file. --resume skips finished keys.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
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

  private readonly lock: string;

  /** Opens results/<run-id>.csv for this process alone: a lock file beside it holds the writer's pid. */
  constructor(dir: string, runId: string, resume: boolean) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `${runId}.csv`);
    this.lock = `${this.path}.lock`;
    takeLock(this.lock, runId);
    try {
      if (existsSync(this.path)) {
        if (!resume) throw new UserError(`${this.path} already exists`, "pass --resume to continue that run, or choose another --run-id");
        this.rows = parseResultsCsv(readFileSync(this.path, "utf8"), this.path);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Releases the run (a run killed before this leaves a stale lock, which the next writer takes over). */
  close(): void {
    rmSync(this.lock, { force: true });
  }

  /** Finished measurements (status ok) of an earlier attempt of this run; failed ones are retried. */
  done(key: string): boolean {
    return this.rows.some((r) => r.status === "ok" && rowKey(r) === key);
  }

  /** Removes the rows that `drop` selects (a checkpoint measured again: its old rows must not stand beside the new). */
  forget(drop: (r: ResultRow) => boolean): number {
    const before = this.rows.length;
    this.rows = this.rows.filter((r) => !drop(r));
    if (this.rows.length !== before) this.write();
    return before - this.rows.length;
  }

  get all(): readonly ResultRow[] {
    return this.rows;
  }

  append(row: ResultRow): void {
    const checked = ResultRow.parse(row);
    this.rows = this.rows.filter((r) => rowKey(r) !== rowKey(checked) || r.status === "ok");
    this.rows.push(checked);
    this.write();
  }

  private write(): void {
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, formatResultsCsv(this.rows));
    renameSync(tmp, this.path);
  }
}

/** Creates `lock` holding our pid; a lock whose process is gone (killed run) is taken over, a live one refused. */
function takeLock(lock: string, runId: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: "wx" });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const pid = Number.parseInt(readFileSync(lock, "utf8"), 10);
    if (Number.isInteger(pid) && pid !== process.pid && processRunning(pid)) {
      throw new UserError(`run ${runId} is being written by process ${pid} (${lock})`, "wait for that run to finish, or choose another --run-id");
    }
    rmSync(lock, { force: true }); // stale: its writer was killed
  }
  throw new UserError(`cannot lock ${lock}: another process keeps taking it`, "choose another --run-id");
}

/** Is process `pid` still running? A zombie (killed, not yet reaped) is not. */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  // A killed writer can linger as a zombie (in containers whose init does not reap): signal 0 still reaches it.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.charAt(stat.lastIndexOf(")") + 2);
    return state !== "Z" && state !== "X";
  } catch {
    return true; // no /proc: trust the signal
  }
}
