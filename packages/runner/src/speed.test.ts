// timeCell: the one timing of a speed-suite cell, shared by the Node cell process and the Chromium page.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openModel, type RecurrentDriver } from "@ssmbench/runtime";
import { loadCheckpoint } from "./discover.ts";
import { MIN_STEPS, timeCell } from "./speed.ts";
import { root } from "./test-cli.ts";

describe("timeCell", () => {
  // the smallest committed graphs; its KV cache takes 1 KiB per token (2 layers x key, value x 2 heads x 32 floats)
  const { dir, card } = loadCheckpoint(join(root, "models", "transformer-induction-heads"));
  let driver: RecurrentDriver;
  beforeAll(async () => {
    driver = await openModel(dir, card, { ep: "cpu", threads: 1 });
  });
  afterAll(() => driver?.release());
  const timing = { warmup: 1, minSamples: 3, minTimeMs: 0, maxTimeMs: 5000 };

  it("times prefills after a warm-up, until the minimum count, and reads the state after them", async () => {
    const t = await timeCell(driver, card.vocab, { kind: "prefill", seqLen: 16, batch: 2, timing, steps: 8, warmupSteps: 2 });
    expect(t.samplesMs).toHaveLength(3);
    expect(t.samplesMs.every((ms) => Number.isFinite(ms) && ms > 0)).toBe(true);
    expect(t.stateBytes).toBe(16 * 1024);
    expect(t.note).toBeUndefined();
  });

  it("times single steps after the context: warm-up steps untimed, at most `steps` timed", async () => {
    const t = await timeCell(driver, card.vocab, { kind: "decode", seqLen: 16, batch: 1, timing, steps: 8, warmupSteps: 2 });
    expect(MIN_STEPS).toBeGreaterThan(8); // so all 8 are timed
    expect(t.samplesMs).toHaveLength(8);
    expect(t.stateBytes).toBe((16 + 2 + 8) * 1024);
  });

  it("steps from a state of the context's shape where the context's prefill runs out of memory, and says so", async () => {
    const oom = new Proxy(driver, {
      get(d, p) {
        if (p === "prefill") return () => Promise.reject(new Error("Failed to allocate memory for requested buffer"));
        const v = Reflect.get(d, p, d);
        return typeof v === "function" ? v.bind(d) : v;
      },
    });
    const t = await timeCell(oom, card.vocab, { kind: "decode", seqLen: 16, batch: 1, timing, steps: 4, warmupSteps: 0 });
    expect(t.note).toBe("the 16-token prefill ran out of memory, so the context is a N(0,1) state of its shape");
    expect(t.samplesMs).toHaveLength(4);
    expect(t.stateBytes).toBe((16 + 4) * 1024);
  });
});
