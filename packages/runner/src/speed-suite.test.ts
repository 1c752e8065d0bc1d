// `pnpm bench --suite speed` end to end on committed checkpoints, with short lengths: the rows it writes, the cells it
// refuses to run and why, the PyTorch eager baseline on the same weights, and the errors before any row.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseResultsCsv } from "@ssmbench/report";
import { discoverCheckpoints } from "./discover.ts";
import { TORCH_EP, widestPerFamily } from "./speed-suite.ts";
import { root, ssmbench, tmp } from "./test-cli.ts";

const rowsOf = (dir: string, run: string) => parseResultsCsv(readFileSync(join(dir, `${run}.csv`), "utf8"), `${run}.csv`);

describe("bench --suite speed", () => {
  it("times prefill per length and batch and decode per context, each cell with its state bytes and own peak RSS", () => {
    const out = tmp();
    const r = ssmbench(["bench", "--suite", "speed", "--model", "transformer-mqar-d128", "--quick", "--seq-len", "64,128", "--batch", "1,8", "--contexts", "64", "--ep", "cpu", "--max-logits-gb", "0.02", "--out", out, "--run-id", "s"]);
    expect(r.code, r.err).toBe(0);
    const rows = rowsOf(out, "s");
    expect(rows.every((x) => x.task === "speed" && (x.split === "prefill" || x.split === "decode"))).toBe(true);
    for (const ep of ["cpu", TORCH_EP]) {
      const prefill = rows.filter((x) => x.ep === ep && x.metric === "prefill_tokens_per_s" && x.status === "ok");
      expect(prefill.map((x) => [x.seq_len, x.batch])).toEqual([[64, 1], [64, 8], [128, 1]]);
      // batch 8 x 128 x vocab 8192 floats is 32 MiB of logits, over the 0.02 GiB budget: not run, and said why
      const skipped = rows.find((x) => x.ep === ep && x.seq_len === 128 && x.batch === 8)!;
      expect(skipped.status).toBe("na");
      expect(skipped.note).toContain("--max-logits-gb");
      const decode = rows.filter((x) => x.ep === ep && x.split === "decode");
      expect(decode.map((x) => x.metric).sort()).toEqual(["decode_ms_per_token", "decode_ms_per_token_p90", "peak_rss_mb", "state_bytes"]);
      // the KV cache after 64 tokens of context plus the warm-up and timed steps: 2 layers x (key, value) x 128 floats per token
      const state = decode.find((x) => x.metric === "state_bytes")!.value!;
      expect(state % (2 * 2 * 128 * 4)).toBe(0);
      expect(state / (2 * 2 * 128 * 4)).toBeGreaterThan(64);
      expect(rows.find((x) => x.ep === ep && x.split === "prefill" && x.metric === "peak_rss_mb" && x.seq_len === 64 && x.batch === 1)!.value).toBeGreaterThan(10);
    }
    const torch = rows.find((x) => x.ep === TORCH_EP)!;
    expect(torch.runtime).toBe("pytorch");
    expect(torch.checkpoint_sha256).toMatch(/^[0-9a-f]{64}$/); // the sha256 of weights.safetensors
    expect(torch.note).toContain("eager");
  });

  it("refuses a checkpoint without PyTorch weights before writing any row, and says how to add them or skip", () => {
    const out = tmp();
    const r = ssmbench(["bench", "--suite", "speed", "--model", "transformer-mqar", "--quick", "--ep", "cpu", "--out", out, "--run-id", "w"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("weights.safetensors");
    expect(r.err).toContain("--no-torch");
  });

  it("rejects a malformed list of lengths", () => {
    const r = ssmbench(["bench", "--suite", "speed", "--model", "transformer-mqar-d128", "--batch", "1,x"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--batch");
  });

  it("times one checkpoint per family, the widest, so families compare at one width", () => {
    const chosen = widestPerFamily(discoverCheckpoints(join(root, "models")).filter((c) => c.card.task.id === "mqar"));
    expect(new Set(chosen.map((c) => c.card.family)).size).toBe(chosen.length);
    for (const c of chosen) expect(c.card.config.d_model).toBe(128);
  });
});
