// Running the real command line from tests (tsx on the sources, as `pnpm ssmbench` does).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findRepoRoot } from "./discover.ts";

export const root = findRepoRoot(import.meta.dirname);
const tsx = join(root, "node_modules", ".bin", "tsx");
const cliArgs = (args: string[]) => ["--conditions=@ssmbench/source", join(root, "packages/cli/src/main.ts"), ...args];

export function ssmbench(args: string[], env?: NodeJS.ProcessEnv) {
  const r = spawnSync(tsx, cliArgs(args), { cwd: root, encoding: "utf8", timeout: 230_000, env: env && { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The command line as a child process that the test can kill. */
export function ssmbenchAsync(args: string[]) {
  return spawn(tsx, cliArgs(args), { cwd: root, stdio: ["ignore", "pipe", "pipe"], detached: true });
}

export const tmp = () => mkdtempSync(join(tmpdir(), "ssmbench-"));
