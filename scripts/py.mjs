#!/usr/bin/env node
// Runs the project's Python (the .venv made by .ci/run or the README's set-up), falling back to python3.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const venv = join(root, ".venv", "bin", "python");
const python = process.env.SSMBENCH_PYTHON ?? (existsSync(venv) ? venv : "python3");
// Family tests import the shared contract checks (ssmbench_trainer.contract) from packages/trainer.
const PYTHONPATH = [join(root, "packages", "trainer"), process.env.PYTHONPATH].filter(Boolean).join(":");
const r = spawnSync(python, process.argv.slice(2), { stdio: "inherit", env: { ...process.env, PYTHONPATH } });
if (r.error) {
  console.error(`ssmbench: cannot run Python (${python}): ${r.error.message}. create the venv: bash scripts/setup-python.sh`);
  process.exit(2);
}
if (r.signal) {
  // Killed (the kernel's OOM killer sends SIGKILL): exit as a shell would, 128 + the signal's number (137), so the
  // caller can tell a kill from a failure.
  console.error(`ssmbench: Python was killed by ${r.signal}`);
  process.exit(128 + (constants.signals[r.signal] ?? 0));
}
process.exit(r.status ?? 1);
