// The Python side (training, export) runs through scripts/py.mjs, the one place that finds the project's venv
// (or $SSMBENCH_PYTHON, else python3) and puts packages/trainer on PYTHONPATH; see README "Train".
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { UserError } from "@ssmbench/core";

/** Runs `python -m <module> args` in packages/trainer, streaming its output; throws UserError on failure. */
export function runPython(root: string, module: string, args: string[]): void {
  const r = spawnSync(process.execPath, [join(root, "scripts", "py.mjs"), "-m", module, ...args], { cwd: join(root, "packages", "trainer"), stdio: "inherit" });
  if (r.status !== 0) throw new UserError(`${module} failed (exit ${r.status})`, "see its output above; set-up: bash scripts/setup-python.sh");
}
