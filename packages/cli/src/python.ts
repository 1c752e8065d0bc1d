// The Python side (training, export) runs in the project's venv; see README "Set-up".
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "@ssmbench/core";

export function pythonPath(root: string): string {
  const venv = join(root, ".venv", "bin", "python");
  return process.env.SSMBENCH_PYTHON ?? (existsSync(venv) ? venv : "python3");
}

/** Runs `python -m <module> args` in packages/trainer, streaming its output; throws UserError on failure. */
export function runPython(root: string, module: string, args: string[]): void {
  const py = pythonPath(root);
  const r = spawnSync(py, ["-m", module, ...args], { cwd: join(root, "packages", "trainer"), stdio: "inherit" });
  if (r.error) throw new UserError(`cannot run ${py}: ${r.error.message}`, "create the venv: python3 -m venv .venv && .venv/bin/pip install -r packages/trainer/requirements.txt");
  if (r.status !== 0) throw new UserError(`${module} failed (exit ${r.status})`, "see its output above");
}
