// One cell of the speed suite on onnxruntime (node cpu/webgpu/cuda, or web wasm), run in its own process so that
// its peak RSS is its own and an out-of-memory crash costs one row, not the run. The PyTorch eager baseline has the
// same shape in Python (packages/trainer/ssmbench_trainer/speed.py); both print one JSON line (CellResult). A
// browser page times its cells with the same timeCell (packages/web's Chromium runtime).
import { availableParallelism } from "node:os";
import { openModel } from "@ssmbench/runtime";
import { loadCheckpoint } from "./discover.ts";
import { oneLine, statusOf } from "./cell.ts";
import { timeCell, type CellResult, type CellSpec } from "./speed.ts";

export { MIN_STEPS, type CellResult, type CellSpec } from "./speed.ts";

export async function runCell(c: CellSpec): Promise<CellResult> {
  const { card } = loadCheckpoint(c.dir);
  const decoding = c.kind !== "prefill";
  const stepThreads = decoding ? c.stepThreads : undefined;
  const driver = await openModel(c.dir, card, { ep: c.ep, threads: c.threads, stepThreads, generate: c.kind === "generate" });
  try {
    const t = await timeCell(driver, card.vocab, c);
    // openModel gives the step session its own threads on onnxruntime-node only (onnxruntime-web has one pool).
    const split = stepThreads !== undefined && driver.stepSession.runtime === "onnxruntime-node";
    const threads = split ? `${c.threads} intra-op thread(s) for the context's prefill, ${stepThreads} for ${c.kind === "generate" ? "generate.onnx" : "the steps"}` : `${c.threads} intra-op thread(s)`;
    // Decode steps on onnxruntime-node call its native session synchronously (runtime LoadOptions.syncRun).
    const sync = !decoding || !driver.stepSession.syncRun ? "" : c.kind === "decode" ? "steps called synchronously (no setImmediate per step)" : "generate.onnx called synchronously";
    const note = [threads, sync, t.note].filter(Boolean).join("; ");
    return { status: "ok", samples_ms: t.samplesMs, state_bytes: t.stateBytes, peak_rss_mb: peakRssMb(), note };
  } finally {
    await driver.release();
  }
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

// As a script: `tsx speed-cell.ts '<CellSpec JSON>'` prints one CellResult line.
if (import.meta.filename === process.argv[1]) {
  const spec = JSON.parse(process.argv[2]!) as CellSpec;
  spec.threads ||= availableParallelism();
  runCell(spec)
    .catch((e): CellResult => ({ status: statusOf(e), note: oneLine(e) }))
    .then((r) => {
      // Exit once the line is flushed: on a pipe, stdout is asynchronous and an exit right after write() cuts a
      // long line (thousands of decode samples) at 64 KiB.
      process.stdout.write(`${JSON.stringify(r)}\n`, () => process.exit(0));
    });
}
