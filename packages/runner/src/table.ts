// The table `bench` prints at the end: one line per row written in this run.
import type { ResultRow } from "@ssmbench/core";
import { fmtValue } from "./bench.ts";

export function formatTable(rows: readonly ResultRow[]): string {
  const head = ["model", "ep", "metric", "split", "seq_len", "value", "95% CI", "status"];
  const body = rows.map((r) => [
    r.model,
    r.ep,
    r.metric,
    r.split,
    String(r.seq_len),
    r.status === "ok" ? fmtValue(r.metric, r.value) : "-",
    r.ci_low !== null && r.ci_high !== null && !Number.isNaN(r.ci_low) ? `${fmtValue(r.metric, r.ci_low)} .. ${fmtValue(r.metric, r.ci_high)}` : "",
    r.status === "ok" ? "ok" : `${r.status.toUpperCase()}: ${r.note}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}
