// One cell of the speed suite on onnxruntime (node cpu/webgpu/cuda, or web wasm), run in its own process so that
// its peak RSS is its own and an out-of-memory crash costs one row, not the run. The PyTorch eager baseline has the
// same shape in Python (packages/trainer/ssmbench_trainer/speed.py); both print one JSON line (CellResult).
import { availableParallelism } from "node:os";
import type { RowStatus } from "@ssmbench/core";
import { openModel } from "@ssmbench/runtime";
import { loadCheckpoint } from "./discover.ts";
import { oneLine, statusOf } from "./cell.ts";
import { normalFill, prefillTiming, randomIds, stateBytes, stepTiming } from "./speed.ts";
import type { TimingOptions } from "./timing.ts";

export interface CellSpec {
  dir: string;
  ep: string;
  kind: "prefill" | "decode";
  /** prefill length, or decode context */
  seqLen: number;
  batch: number;
  threads: number;
  timing: TimingOptions;
  steps: number;
  warmupSteps: number;
}

export interface CellResult {
  status: RowStatus;
  samples_ms?: number[];
  state_bytes?: number;
  peak_rss_mb?: number;
  note: string;
}

export async function runCell(c: CellSpec): Promise<CellResult> {
  const { card } = loadCheckpoint(c.dir);
  const driver = await openModel(c.dir, card, { ep: c.ep, threads: c.threads });
  try {
    let note = `${c.threads} intra-op thread(s)`;
    if (c.kind === "prefill") {
      const t = await prefillTiming(driver, card.vocab, c.seqLen, c.batch, c.timing);
      return { status: "ok", samples_ms: t.samplesMs, state_bytes: stateBytes(driver.state!, c.batch), peak_rss_mb: peakRssMb(), note };
    }
    try {
      await driver.prefill(randomIds(c.seqLen, card.vocab, 7), 1, c.seqLen);
    } catch (e) {
      if (statusOf(e) !== "oom") throw e;
      // Step time depends on the state's shapes, not its values: time it from a state of the right size.
      driver.useState(driver.filledState(1, c.seqLen, normalFill(0)), 1);
      note += `; the ${c.seqLen}-token prefill ran out of memory, so the context is a N(0,1) state of its shape`;
    }
    const t = await stepTiming(driver, card.vocab, c.steps, c.warmupSteps, MIN_STEPS, c.timing.minTimeMs);
    return { status: "ok", samples_ms: t.samplesMs, state_bytes: stateBytes(driver.state!, 1), peak_rss_mb: peakRssMb(), note };
  } finally {
    await driver.release();
  }
}

/** Decode: at least this many timed steps (and the timing's minimum time), at most CellSpec.steps. */
export const MIN_STEPS = 32;

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

// As a script: `tsx speed-cell.ts '<CellSpec JSON>'` prints one CellResult line.
if (import.meta.filename === process.argv[1]) {
  const spec = JSON.parse(process.argv[2]!) as CellSpec;
  spec.threads ||= availableParallelism();
  runCell(spec)
    .catch((e): CellResult => ({ status: statusOf(e), note: oneLine(e) }))
    .then((r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    });
}
