// Parity of a checkpoint against its golden file (models/<id>/golden.json, written by export from PyTorch):
// prefill logits at the chosen positions and vocabulary entries, and stepping through step.onnx against prefill.
// Browser-safe: the in-browser runner, the site's tests and the checkpoint parity test call the same function.
import type { RecurrentDriver } from "./driver.ts";

export interface Golden {
  input_ids: number[][];
  positions: number[];
  vocab_index: number[];
  logits: number[][][];
  argmax: number[][];
  tolerance: number;
}

export interface GoldenCheck {
  /** max |prefill logits - PyTorch's| over the golden positions and vocabulary entries */
  prefillVsGolden: number;
  /** max |stepped logits - prefill logits| over every position and vocabulary entry */
  stepVsPrefill: number;
  /** positions whose prefill argmax differs from PyTorch's */
  argmaxMismatches: number;
  positions: number;
  tolerance: number;
  ok: boolean;
}

export async function checkGolden(driver: RecurrentDriver, golden: Golden): Promise<GoldenCheck> {
  const V = driver.spec.vocab;
  const [batch, seq] = [golden.input_ids.length, golden.input_ids[0]!.length];
  const ids = BigInt64Array.from(golden.input_ids.flat().map(BigInt));
  const pre = await driver.prefill(ids, batch, seq);
  const logits = pre.logits.slice(); // the driver may reuse buffers
  let prefillVsGolden = 0;
  golden.positions.forEach((t, pi) => {
    for (let b = 0; b < batch; b++) {
      golden.vocab_index.forEach((v, vi) => {
        prefillVsGolden = Math.max(prefillVsGolden, Math.abs(logits[(b * seq + t) * V + v]! - golden.logits[b]![pi]![vi]!));
      });
    }
  });
  let argmaxMismatches = 0;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seq; t++) {
      if (argmax(logits, (b * seq + t) * V, V) !== golden.argmax[b]![t]) argmaxMismatches++;
    }
  }
  const stepped = await driver.stepThrough(ids, batch, seq);
  let stepVsPrefill = 0;
  for (let i = 0; i < stepped.logits.length; i++) stepVsPrefill = Math.max(stepVsPrefill, Math.abs(stepped.logits[i]! - logits[i]!));
  const tolerance = golden.tolerance;
  return {
    prefillVsGolden,
    stepVsPrefill,
    argmaxMismatches,
    positions: batch * seq,
    tolerance,
    ok: prefillVsGolden < tolerance && stepVsPrefill < tolerance && argmaxMismatches === 0,
  };
}

/** Index of the largest of logits[offset .. offset + n) (the first on ties, as the scorers do). */
export function argmax(logits: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  let bestValue = logits[offset]!;
  for (let v = 1; v < n; v++) {
    const x = logits[offset + v]!;
    if (x > bestValue) {
      bestValue = x;
      best = v;
    }
  }
  return best;
}
