// `pnpm bench --verify`: re-measure the committed leaderboard's accuracy rows (and the bits per byte and perplexity
// rows of language-modelling tasks) and fail on any difference. Accuracy is a count of argmax hits on examples
// generated from (task version, setting, seed, count), so on the same checkpoint (same sha256) a rerun must reproduce
// it exactly, to the last scored position; bits per byte and perplexity are sums over the same logits, so they too.
// The count is read off the row's note (bench draws examplesFor(length, --examples), a function of the setting), and
// a row streamed through step.onnx is re-measured by streaming.
import { readFileSync } from "node:fs";
import { UserError, isQualityMetric } from "@ssmbench/core";
import { openModel } from "@ssmbench/runtime";
import { parseResultsCsv } from "@ssmbench/report";
import { TEST_SEED, taskOf } from "./bench.ts";
import type { Checkpoint } from "./discover.ts";
import { evaluateSetting, measured, parseExamplesNote, testSplit, wasStreamed, type Accuracy } from "./evaluate.ts";

export class VerificationFailed extends Error {
  override name = "VerificationFailed";
}

export interface VerifyOptions {
  /** The leaderboard (or any result CSV) whose accuracy rows are re-measured. */
  file: string;
  checkpoints: Checkpoint[];
  eps: string[];
  threads?: number;
  log?: (line: string) => void;
}

export interface VerifyOutcome {
  checked: number;
  mismatches: string[];
}

/** Re-evaluates every ok accuracy row of `file` for the given checkpoints and EPs; throws VerificationFailed on a difference. */
export async function verifyResults(o: VerifyOptions): Promise<VerifyOutcome> {
  const log = o.log ?? ((s: string) => console.error(s));
  let text: string;
  try {
    text = readFileSync(o.file, "utf8");
  } catch (e) {
    throw new UserError(`cannot read ${o.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, "run pnpm report to write results/leaderboard.csv");
  }
  const byId = new Map(o.checkpoints.map((c) => [c.card.id, c]));
  const rows = parseResultsCsv(text, o.file).filter((r) => isQualityMetric(r.metric) && r.status === "ok" && byId.has(r.model) && o.eps.includes(r.ep) && r.split.startsWith("test@"));
  if (rows.length === 0) throw new UserError(`${o.file} has no accuracy rows for ${[...byId.keys()].join(", ")} on ${o.eps.join(", ")}`, "pick models and EPs that the leaderboard holds (pnpm list)");
  const mismatches: string[] = [];
  const drivers = new Map<string, Awaited<ReturnType<typeof openModel>>>();
  // one evaluation per (checkpoint, EP, setting, examples): subword-lm's perplexity and bits per byte rows share it
  const evaluated = new Map<string, Accuracy>();
  try {
    for (const row of rows) {
      const ckpt = byId.get(row.model)!;
      const what = `${row.model} ${row.ep} ${row.split}`;
      const sha = ckpt.card.files.find((f) => f.path === "prefill.onnx")?.sha256;
      if (sha !== row.checkpoint_sha256) {
        mismatches.push(`${what}: measured on prefill.onnx ${row.checkpoint_sha256.slice(0, 12)}, models/ holds ${sha?.slice(0, 12)}`);
        continue;
      }
      const task = taskOf(row.task);
      if (task.version !== row.task_version) {
        mismatches.push(`${what}: measured with ${row.task} ${row.task_version}, the generator is now ${task.version}`);
        continue;
      }
      const setting = task.settings(task.parseParams(ckpt.card.task.params)).find((s) => testSplit(s.name) === row.split);
      const recorded = parseExamplesNote(row.note);
      if (!setting || !recorded) {
        mismatches.push(`${what}: cannot tell which examples it was measured on (split or note not understood)`);
        continue;
      }
      const key = `${row.model}\u0000${row.ep}`;
      if (!drivers.has(key)) drivers.set(key, await openModel(ckpt.dir, ckpt.card, { ep: row.ep, threads: o.threads }));
      // measured as the row was: streamed through step.onnx when its note says so, else by batched prefill
      const streamed = wasStreamed(row.note);
      const evalKey = `${key}\u0000${row.split}\u0000${recorded.examples}\u0000${recorded.seed}\u0000${streamed}`;
      if (!evaluated.has(evalKey)) {
        const examples = task.generate(setting.params, "test", recorded.examples, recorded.seed);
        evaluated.set(evalKey, await evaluateSetting(drivers.get(key)!, ckpt.card, examples, { score: task.scoreExample, streamAbove: streamed ? 0 : Number.POSITIVE_INFINITY }));
      }
      const acc = evaluated.get(evalKey)!;
      if (row.metric !== "accuracy" && !acc.likelihood) {
        mismatches.push(`${what}: a ${row.metric} row, but ${row.task} ${task.version} scores accuracy`);
        continue;
      }
      const now = measured(acc, row.metric as Parameters<typeof measured>[1]);
      const same = now.n === row.n && now.value === row.value;
      const shown = row.metric === "accuracy" ? `${acc.correct}/${acc.total}` : `${row.metric} ${now.value} over ${now.n}`;
      log(`  ${what}${row.metric === "accuracy" ? "" : ` ${row.metric}`}: ${same ? "same" : "DIFFERENT"} (${shown} now, ${row.value} of ${row.n} recorded)`);
      if (!same) mismatches.push(`${what}${row.metric === "accuracy" ? "" : ` ${row.metric}`}: ${shown} = ${now.value} now, ${row.value} (n ${row.n}) recorded on ${row.timestamp}`);
    }
  } finally {
    for (const d of drivers.values()) await d.release();
  }
  if (mismatches.length) {
    throw new VerificationFailed(`${mismatches.length} of ${rows.length} accuracy rows of ${o.file} did not reproduce:\n  ${mismatches.join("\n  ")}`);
  }
  return { checked: rows.length, mismatches };
}
