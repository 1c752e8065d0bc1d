// docs/models/<family>.md: every checkpoint of a family, from its card, with its results.
import path from "node:path";
import { isQualityMetric, type ModelCard, type ResultRow } from "@ssmbench/core";
import { arxivUrl, byFields, bytes, cell, duration, grouped, link, megabytes, ms, relLink, sci, table, tokensPerS } from "./format.ts";
import { accuracyText, anchorFor, lmText, METRIC_LABELS, settingLabel, slug, speedAnchor, statusText } from "./leaderboard.ts";

/** A result's value in its unit. */
function valueText(r: ResultRow): string {
  if (r.metric === "accuracy") return accuracyText(r);
  if (r.metric === "bits_per_byte" || r.metric === "perplexity") return lmText(r);
  if (r.status !== "ok" || r.value === null || !Number.isFinite(r.value)) return statusText(r);
  switch (r.metric) {
    case "prefill_tokens_per_s":
      return `${tokensPerS(r.value)} tok/s`;
    case "decode_ms_per_token":
    case "decode_ms_per_token_p90":
      return `${ms(r.value)} ms`;
    case "state_bytes":
      return `${bytes(r.value)} (${grouped(r.value)} B)`;
    case "peak_rss_mb":
      return `${megabytes(r.value)} MB`;
  }
}

/** {seq_len: 128, num_kv_pairs: 8} -> "seq_len 128, num_kv_pairs 8" (in the card's order). */
function paramsText(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k} ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`)
    .join(", ");
}

function renderCard(card: ModelCard, rows: readonly ResultRow[], docsDir: string, modelsDir: string): string[] {
  const pageDir = path.join(docsDir, "models");
  const modelDir = path.join(modelsDir, card.id);
  const t = card.training;
  const out: string[] = [
    `## <a id="${slug(card.id)}"></a>${card.id}`,
    "",
    `${link(card.paper.title, arxivUrl(card.paper.arxiv))} (arXiv ${card.paper.arxiv}), variant \`${cell(card.variant)}\`, ` +
      `trained on \`${card.task.id}\` v${card.task.version} (${cell(paramsText(card.task.params))}), vocabulary ${grouped(card.vocab)}. ` +
      `Card: ${link(`models/${card.id}/card.json`, relLink(pageDir, path.join(modelDir, "card.json")))}; ` +
      `leaderboard: ${link(anchorFor(card.id, card.task.id), `../leaderboard.md#${anchorFor(card.id, card.task.id)}`)}.`,
    "",
    "### Configuration",
    "",
    table(
      ["key", "value"],
      [
        ...Object.entries(card.config)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, v]) => [`\`${cell(k)}\``, cell(String(v))]),
        ["parameters", grouped(card.params)],
        [
          "state per sequence",
          `${bytes(card.stateBytesPerSequence)} (${grouped(card.stateBytesPerSequence)} B${card.stateBytesAt ? ` at ${grouped(card.stateBytesAt)} tokens` : ""})`,
        ],
      ],
    ),
    "",
    table(
      ["state tensor", "shape", "dtype", "initial value"],
      card.states.map((s) => [`\`past_${cell(s.name)}\``, `[${s.shape.join(", ")}]`, s.dtype, s.init]),
    ),
    "",
    "### Training",
    "",
    `Seed ${t.seed}, ${grouped(t.steps)} steps of batch ${t.batch}, learning rate ${sci(t.lr)}, on ${cell(t.device)} in ${duration(t.wall_s)}. ` +
      `Final: ${Object.entries(t.final)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${cell(k)} ${Number(v.toPrecision(4))}`)
        .join(", ") || "—"}.`,
  ];
  if (t.sweep.length > 0) {
    out.push(
      "",
      "Learning-rate sweep (recurrent models recall only within a narrow learning-rate window, so the rate is swept and the best kept, in **bold**):",
      "",
      table(
        ["lr", "steps", "metric", "wall time"],
        t.sweep.map((s) => {
          const row = [sci(s.lr), grouped(s.steps), String(Number(s.metric.toPrecision(4))), duration(s.wall_s)];
          return s.lr === t.lr ? row.map((x) => `**${x}**`) : row;
        }),
        ["r", "r", "r", "r"],
      ),
    );
  }
  out.push(
    "",
    "### Export and parity",
    "",
    `Exported with torch ${cell(card.export.torch)}, ${cell(card.export.exporter)} exporter, ONNX opset ${card.export.opset} ` +
      `(onnx ${cell(card.export.onnx)}). Max |difference| of logits: prefill vs PyTorch ${sci(card.parity.prefill_vs_torch)}, ` +
      `stepping vs prefill ${sci(card.parity.step_vs_prefill)} (the contract asks for 1e-4 or less` +
      ((card.parity.tolerance ?? 1e-4) > 1e-4 ? `; this checkpoint was exported with a tolerance of ${sci(card.parity.tolerance!)}` : "") +
      ")" +
      (card.parity.torch_float32_vs_float64 === undefined
        ? "."
        : `; for scale, PyTorch float32 vs float64 of the same weights differ by ${sci(card.parity.torch_float32_vs_float64)}.`),
    ...(card.export.contrib_ops?.length
      ? ["", `The graphs use onnxruntime's fused ${card.export.contrib_ops.map((op) => `\`${op}\``).join(", ")} ([speed](../speed.md)): they run on onnxruntime (node, web, the browser), not on other ONNX runtimes.`]
      : []),
    "",
    table(
      ["file", "bytes", "sha256"],
      card.files.map((f) => [`\`${cell(f.path)}\``, grouped(f.bytes), `\`${f.sha256}\``]),
      ["l", "r", "l"],
    ),
    "",
    "### Results",
    "",
  );
  const mine = rows
    .filter((r) => r.model === card.id)
    .sort(byFields((r) => (isQualityMetric(r.metric) ? 0 : 1), (r) => r.ep, (r) => r.metric, (r) => r.seq_len, (r) => r.split, (r) => r.batch));
  if (mine.length === 0) {
    out.push("Not benchmarked yet (NA): run `pnpm bench`, then `pnpm report`.");
  } else {
    out.push(
      table(
        ["EP", "what", "batch", "value", "n", "run", "date"],
        mine.map((r) => [
          link(r.ep, `../leaderboard.md#${isQualityMetric(r.metric) ? anchorFor(r.model, r.task) : speedAnchor(r.model, r.ep, r.batch)}`),
          cell(isQualityMetric(r.metric) ? `${METRIC_LABELS[r.metric]} ${settingLabel(r.task, r.split)}` : `${r.metric} @${grouped(r.seq_len)}`),
          String(r.batch),
          valueText(r),
          grouped(r.n),
          `\`${cell(r.run_id)}\``,
          r.timestamp.slice(0, 10),
        ]),
        ["l", "l", "r", "l", "r"],
      ),
    );
  }
  return out;
}

/** The generated body of docs/models/<family>.md: its checkpoints in id order. */
export function renderFamily(family: string, cards: readonly ModelCard[], rows: readonly ResultRow[], docsDir: string, modelsDir: string): string {
  const mine = cards.filter((c) => c.family === family);
  const papers = [...new Map(mine.map((c) => [c.paper.arxiv, c.paper.title])).entries()];
  return [
    `Paper: ${papers.map(([id, title]) => link(title, arxivUrl(id))).join("; ")}. ` +
      `${mine.length} checkpoint${mine.length === 1 ? "" : "s"}: ${mine.map((c) => link(c.id, `#${slug(c.id)}`)).join(", ")}.`,
    "",
    ...mine.flatMap((c) => [...renderCard(c, rows, docsDir, modelsDir), ""]),
  ]
    .join("\n")
    .trim();
}
