// docs/speed.md and docs/speed/*.svg from the rows of `pnpm bench --suite speed` (task "speed", split "prefill",
// "decode" (step.onnx per token) or "generate" (greedy through generate.onnx)). The latest run on each set of checkpoints and EPs is shown, each on its own, so every ratio divides two rows
// measured in the same run, on the same machine; the issue's targets and the papers' claims are checked against each.
import type { ModelCard, Metric, ResultRow } from "@ssmbench/core";
import { arxivUrl, bytes, byFields, cell, cmp, finite, grouped, link, megabytes, ms, table, tokensPerS, unique } from "./format.ts";
import { ATTENTION_FAMILY, statusText } from "./leaderboard.ts";
import { logLogChart, type Series } from "./svg.ts";

/** The ep column of the PyTorch eager baseline's rows (bench --suite speed writes them). */
export const TORCH_EP = "eager-cpu";

export const isSuiteRow = (r: ResultRow) => r.task === "speed" && (r.split === "prefill" || r.split === "decode" || r.split === "generate");

export interface SpeedPage {
  body: string;
  /** SVG files by path under docs/ */
  charts: Map<string, string>;
}

interface Ctx {
  rows: ResultRow[];
  cards: readonly ModelCard[];
  models: string[];
  eps: string[];
}

/**
 * A runtime's label: "onnxruntime-node cpu", "onnxruntime-web wasm" (in Node), and for a browser's rows (runtime
 * "onnxruntime-web (chromium)", ep "chromium-wasm") "onnxruntime-web (chromium) wasm", the browser named once.
 */
const epLabel = (ep: string, rows: readonly ResultRow[]) => {
  if (ep === TORCH_EP) return "PyTorch eager (cpu)";
  const runtime = rows.find((x) => x.ep === ep)?.runtime ?? "onnxruntime";
  const browser = /\((\w+)\)$/.exec(runtime)?.[1];
  return `${runtime} ${browser && ep.startsWith(`${browser}-`) ? ep.slice(browser.length + 1) : ep}`;
};

function find(c: Ctx, model: string, ep: string, split: string, metric: Metric, len: number, batch = 1): ResultRow | undefined {
  return c.rows.find((r) => r.model === model && r.ep === ep && r.split === split && r.metric === metric && r.seq_len === len && r.batch === batch);
}
const ok = (r: ResultRow | undefined) => (r?.status === "ok" ? finite(r.value) : undefined);
/** ms per prefill of one batch at length L (from tokens/s). */
const prefillMs = (c: Ctx, model: string, ep: string, L: number, batch = 1) => {
  const v = ok(find(c, model, ep, "prefill", "prefill_tokens_per_s", L, batch));
  return v === undefined ? undefined : (batch * L * 1000) / v;
};
/** ms per token after a context of C tokens: one step.onnx call per token (decode), or greedy decoding through generate.onnx (generate; PyTorch: its greedy loop). */
type Decoding = "decode" | "generate";
const latencyMs = (c: Ctx, split: Decoding, model: string, ep: string, C: number) => ok(find(c, model, ep, split, "decode_ms_per_token", C));
const decodeMs = (c: Ctx, model: string, ep: string, C: number) => latencyMs(c, "decode", model, ep, C);
const generateMs = (c: Ctx, model: string, ep: string, C: number) => latencyMs(c, "generate", model, ep, C);
const familyOf = (c: Ctx, model: string) => c.cards.find((k) => k.id === model)?.family ?? model;
const attentionOf = (c: Ctx) => c.models.find((m) => familyOf(c, m) === ATTENTION_FAMILY);
/** O(1) state: no state tensor grows with the context (no past_seq axis in the card). */
const constantState = (c: Ctx, model: string) => {
  const card = c.cards.find((k) => k.id === model);
  return !!card && card.states.every((s) => !s.shape.includes("past_seq"));
};
const x = (v: number | undefined, digits = 2) => (v === undefined ? "—" : `${v.toFixed(digits)}x`);

/** Least-squares slope of log(time) against log(length): 1 is linear, 2 quadratic. */
export function scalingExponent(points: [number, number][]): number | undefined {
  const p = points.filter(([L, t]) => L > 0 && t > 0).map(([L, t]) => [Math.log(L), Math.log(t)] as const);
  if (p.length < 2) return undefined;
  const mx = p.reduce((s, q) => s + q[0], 0) / p.length;
  const my = p.reduce((s, q) => s + q[1], 0) / p.length;
  const sxx = p.reduce((s, q) => s + (q[0] - mx) ** 2, 0);
  return sxx === 0 ? undefined : p.reduce((s, q) => s + (q[0] - mx) * (q[1] - my), 0) / sxx;
}

/** The exponent over lengths >= 4K (where fixed per-call costs no longer dominate). */
function exponentOf(c: Ctx, model: string, ep: string, lengths: number[]): number | undefined {
  return scalingExponent(lengths.filter((L) => L >= 4096).map((L) => [L, prefillMs(c, model, ep, L) ?? Number.NaN]));
}

/** Checkpoints whose onnxruntime rows in `rows` were measured on another prefill.onnx than the card's (re-exported since). */
export function reexported(rows: readonly ResultRow[], cards: readonly ModelCard[]): string[] {
  const current = new Map(cards.map((k) => [k.id, k.files.find((f) => f.path === "prefill.onnx")?.sha256]));
  return unique(rows.filter((r) => r.ep !== TORCH_EP && r.checkpoint_sha256 && current.has(r.model) && current.get(r.model) !== r.checkpoint_sha256).map((r) => r.model)).sort(cmp);
}

/**
 * The speed runs the page shows, newest first: the latest run of each set of checkpoint tasks and execution
 * providers (one run on the d_model 128 MQAR checkpoints, another on every family's induction-heads checkpoint on
 * cpu, a third on the same checkpoints in the browser, ...), so a newer run on other checkpoints or other EPs does
 * not hide an older one. Each is rendered on its own: ratios never mix runs.
 */
export function speedRuns(rows: readonly ResultRow[], cards: readonly ModelCard[]): { run: string; tasks: string[]; eps: string[] }[] {
  const tasksOf = new Map<string, Set<string>>();
  const epsOf = new Map<string, Set<string>>();
  const newest = new Map<string, string>();
  for (const r of rows.filter(isSuiteRow)) {
    const tasks = tasksOf.get(r.run_id) ?? new Set<string>();
    tasks.add(cards.find((k) => k.id === r.model)?.task.id ?? "?");
    tasksOf.set(r.run_id, tasks);
    const eps = epsOf.get(r.run_id) ?? new Set<string>();
    if (r.ep !== TORCH_EP) eps.add(r.ep); // PyTorch eager is every run's baseline, not what tells runs apart
    epsOf.set(r.run_id, eps);
    if (!(r.timestamp <= (newest.get(r.run_id) ?? ""))) newest.set(r.run_id, r.timestamp);
  }
  const latest = new Map<string, { run: string; tasks: string[]; eps: string[] }>(); // by task set and EP set
  for (const [run, set] of tasksOf) {
    const tasks = [...set].sort(cmp);
    const eps = [...epsOf.get(run)!].sort(cmp);
    const key = `${tasks.join(",")}|${eps.join(",")}`;
    const cur = latest.get(key);
    if (!cur || newest.get(run)! > newest.get(cur.run)!) latest.set(key, { run, tasks, eps });
  }
  return [...latest.values()].sort(byFields((x) => newest.get(x.run)!)).reverse();
}

export function renderSpeedPage(allRows: readonly ResultRow[], cards: readonly ModelCard[]): SpeedPage {
  const runs = speedRuns(allRows, cards);
  if (runs.length === 0) return { body: "No speed-suite rows yet: run `pnpm bench --suite speed --model all`, then `pnpm report`.\n", charts: new Map() };
  if (runs.length === 1) return renderRun(runs[0]!.run, allRows, cards);
  const out = [
    `${runs.length} runs, newest first: the latest run on each set of checkpoints (\`pnpm bench --suite speed --task <task>\`) and execution providers (\`--ep\`). ` +
      "Each section is one run; its ratios divide rows of that run only.",
  ];
  const charts = new Map<string, string>();
  for (const { run, tasks, eps } of runs) {
    const page = renderRun(run, allRows, cards);
    const prefix = `speed/${run.replace(/[^a-zA-Z0-9-]/g, "-")}-`;
    const body = page.body
      .replaceAll("](speed/", `](${prefix}`)
      .split("\n")
      .map((l) => (l.startsWith("#") ? `#${l}` : l))
      .join("\n");
    out.push("", `## Checkpoints trained on ${tasks.join(", ")}, on ${eps.join(", ") || TORCH_EP}: run \`${run}\``, "", body.trimEnd());
    for (const [rel, svg] of page.charts) charts.set(rel.replace("speed/", prefix), svg);
  }
  return { body: out.join("\n") + "\n", charts };
}

/** One speed run's sections (targets, claims, prefill, decode, ratios, memory) and its charts under speed/. */
function renderRun(run: string, allRows: readonly ResultRow[], cards: readonly ModelCard[]): SpeedPage {
  const charts = new Map<string, string>();
  const rows = allRows.filter((r) => r.run_id === run && isSuiteRow(r));
  const models = unique(rows.map((r) => r.model)).sort(byFields((m) => (cards.find((k) => k.id === m)?.family === ATTENTION_FAMILY ? 1 : 0), (m) => m));
  const epOrder = (ep: string) => (ep === TORCH_EP ? "~" : ep);
  const eps = unique(rows.map((r) => r.ep)).sort((a, b) => cmp(epOrder(a), epOrder(b)));
  const c: Ctx = { rows, cards, models, eps };
  const lengths = unique(rows.filter((r) => r.split === "prefill").map((r) => r.seq_len)).sort(cmp);
  const contexts = unique(rows.filter((r) => r.split === "decode").map((r) => r.seq_len)).sort(cmp);
  const batches = unique(rows.filter((r) => r.split === "prefill" && r.batch > 1).map((r) => r.batch)).sort(cmp);
  const ortCpu = eps.includes("cpu") ? "cpu" : eps.find((e) => e !== TORCH_EP);
  const hasTorch = eps.includes(TORCH_EP);
  const out: string[] = [];

  const machine = unique(rows.map((r) => `${r.host} (${r.cpu}, ${r.cores} cores)`)).join("; ");
  const runtimes = unique(rows.map((r) => `${r.runtime} ${r.runtime_version}`)).sort(cmp).join(", ");
  const cardsOf = models.map((m) => cards.find((k) => k.id === m)).filter((k): k is ModelCard => !!k);
  const widths = unique(cardsOf.map((k) => `d_model ${String(k.config.d_model)}, ${String(k.config.n_layers)} layers, vocab ${grouped(k.vocab)}`)).join("; ");
  const tasks = unique(cardsOf.map((k) => k.task.id)).sort(cmp).join(", ");
  const bigVocab = cardsOf.some((k) => k.vocab >= 1024);
  out.push(
    `Run \`${run}\` (\`pnpm bench --suite speed\`) on ${cell(machine)}, with ${runtimes}. One checkpoint per family, the widest ` +
      `trained on ${tasks} (${widths})` +
      (bigVocab
        ? ": at this size the vocabulary's output layer is a large share of each token's work, so the differences between mixers show most at long contexts. "
        : ": with so small a vocabulary, each token's work is the sequence mixer's and the MLPs', which is what these tables compare. ") +
      "Every cell ran in its own process (its peak RSS is " +
      "its own) after a warm-up, repeated to at least 5 samples and 2 s (at least 3 when one sample is long), median " +
      "shown; each row's note in results/ has its sample count, interval and the machine's load average. PyTorch eager " +
      "runs the reference `model.py` of the family on the same weights (`weights.safetensors`) with the same thread count. " +
      "Ratios divide rows of this run only.",
  );

  const stale = reexported(rows, cards);
  if (stale.length)
    out.push(
      "",
      `Re-exported since this run: ${stale.map((m) => `\`${m}\``).join(", ")}. Its onnxruntime rows below were measured on the earlier ` +
        "export (the row's `checkpoint_sha256` is not the card's `prefill.onnx`); its card says what changed (e.g. `export.precision`).",
    );
  out.push(
    "",
    "## Targets",
    "",
    ...(eps.includes("cpu")
      ? renderTargets(c, lengths, contexts, ortCpu, hasTorch)
      : ["The targets are stated for onnxruntime-node on this CPU: they are checked in the runs with the cpu EP, not in this one."]),
  );
  out.push("", "## Published speed claims beside ours", "", ...renderClaims(c, lengths, contexts, ortCpu));

  // ---- prefill
  out.push("", "## Prefill", "", "![prefill time against length, log-log](speed/prefill.svg)", "");
  out.push(
    "Tokens/s for one sequence (higher is better), and the scaling exponent: the slope of log(time) against " +
      "log(length) from 4K up (1: linear, 2: quadratic). `NA`: not run (the note says why); `FAIL (oom)`: ran out of memory.",
    "",
  );
  const prefillRows: string[][] = [];
  for (const m of models)
    for (const ep of eps) {
      const cells = lengths.map((L) => {
        const r = find(c, m, ep, "prefill", "prefill_tokens_per_s", L);
        const v = ok(r);
        return v === undefined ? statusText(r) : tokensPerS(v);
      });
      const e = exponentOf(c, m, ep, lengths);
      prefillRows.push([m, epLabel(ep, rows), ...cells, e === undefined ? "—" : e.toFixed(2)]);
    }
  out.push(table(["model", "runtime", ...lengths.map((L) => `@${grouped(L)}`), "exponent"], prefillRows, ["l", "l", ...lengths.map(() => "r" as const), "r"]));
  for (const B of batches) {
    out.push("", `### Batch ${B}`, "", `Tokens/s over all ${B} sequences.`, "");
    const body = models.flatMap((m) =>
      eps.map((ep) => [m, epLabel(ep, rows), ...lengths.map((L) => {
        const r = find(c, m, ep, "prefill", "prefill_tokens_per_s", L, B);
        const v = ok(r);
        return v === undefined ? statusText(r) : tokensPerS(v);
      })]),
    );
    out.push(table(["model", "runtime", ...lengths.map((L) => `@${grouped(L)}`)], body, ["l", "l", ...lengths.map(() => "r" as const)]));
  }

  // ---- decode
  out.push("", "## Decode", "", "![decode latency against context, log-log](speed/decode.svg)", "");
  const growth = contexts.length > 1; // latency at the longest context over the shortest: nothing to say with one
  out.push(`ms per token through the step graph after a context of the given length, median (p90).${growth ? ` Last column: latency at ${grouped(contexts[contexts.length - 1]!)} over latency at ${grouped(contexts[0]!)}.` : ""}`, "");
  out.push(latencyTable(c, "decode", models, contexts));
  const synthetic = rows.filter((r) => r.metric === "decode_ms_per_token" && r.note.includes("N(0,1) state"));
  if (synthetic.length)
    out.push("", `Where the prefill that builds a context ran out of memory (${synthetic.map((r) => `${r.model} ${r.ep} @${grouped(r.seq_len)}`).join(", ")}), the step was timed from a state of the same shapes filled with N(0, 1) values: step time depends on the shapes, not the values.`);

  // ---- greedy generation through generate.onnx
  const generated = rows.filter((r) => r.split === "generate");
  const genContexts = unique(generated.map((r) => r.seq_len)).sort(cmp);
  const genModels = models.filter((m) => generated.some((r) => r.model === m));
  if (genModels.length) {
    const chunk = /greedy calls of (\d+) tokens/.exec(generated.find((r) => r.status === "ok")?.note ?? "")?.[1];
    out.push(
      "",
      "## Greedy generation",
      "",
      "![greedy decoding latency against context, log-log](speed/generate.svg)",
      "",
      `ms per token of greedy decoding (argmax fed back), median (p90): onnxruntime runs \`generate.onnx\`, the checkpoint's step graph inside an ONNX Loop, ${chunk ? `${chunk} tokens` : "many tokens"} per call, so the state stays inside onnxruntime between tokens; PyTorch eager runs the same greedy loop in Python (step, argmax, feed back). ` +
        "Each call starts from the named context's state. Same tokens as the step graph one call per token (checked for every such checkpoint in the tests).",
      "",
    );
    out.push(latencyTable(c, "generate", genModels, genContexts));
    if (ortCpu)
      out.push("", `Greedy generation against one step.onnx call per token on ${ortCpu} (the decode table's rows; above 1x: generate.onnx is faster):`, "", table(
        ["model", ...genContexts.map((C) => `@${grouped(C)}`)],
        genModels.map((m) => [m, ...genContexts.map((C) => ratio(decodeMs(c, m, ortCpu, C), generateMs(c, m, ortCpu, C)))]),
        ["l", ...genContexts.map(() => "r" as const)],
      ));
  }

  // ---- ratios
  if (hasTorch && ortCpu) {
    out.push("", "## onnxruntime against PyTorch eager", "", `Same weights, same thread count, same run: ${ortCpu} tokens/s over PyTorch's for prefill, PyTorch's ms/token over ${ortCpu}'s for decode (above 1x: onnxruntime is faster).`, "");
    const body = models.map((m) => [
      m,
      ...lengths.map((L) => ratio(prefillMs(c, m, TORCH_EP, L), prefillMs(c, m, ortCpu, L))),
      ...contexts.map((C) => ratio(decodeMs(c, m, TORCH_EP, C), decodeMs(c, m, ortCpu, C))),
      ...genContexts.map((C) => ratio(generateMs(c, m, TORCH_EP, C), generateMs(c, m, ortCpu, C))),
    ]);
    const heads = [...lengths.map((L) => `prefill @${grouped(L)}`), ...contexts.map((C) => `decode @${grouped(C)}`), ...genContexts.map((C) => `greedy @${grouped(C)}`)];
    if (genContexts.length) out.push("`greedy`: generate.onnx against PyTorch's greedy loop (the section above).", "");
    out.push(table(["model", ...heads], body, ["l", ...heads.map(() => "r" as const)]));
  }
  const att = attentionOf(c);
  if (att) {
    out.push("", "## Against attention", "", `Each family over the attention baseline (\`${att}\`) on the same runtime in this run: prefill time ratio (attention's over the model's) and decode latency ratio; above 1x: faster than attention. \`attention OOM\`: attention ran out of memory where the model did not.`, "");
    const body = models
      .filter((m) => m !== att)
      .flatMap((m) =>
        eps.map((ep) => [
          m,
          epLabel(ep, rows),
          ...lengths.map((L) => vsAttention(prefillMs(c, att, ep, L), prefillMs(c, m, ep, L), find(c, att, ep, "prefill", "prefill_tokens_per_s", L))),
          ...contexts.map((C) => vsAttention(decodeMs(c, att, ep, C), decodeMs(c, m, ep, C), find(c, att, ep, "decode", "decode_ms_per_token", C))),
        ]),
      );
    out.push(table(["model", "runtime", ...lengths.map((L) => `prefill @${grouped(L)}`), ...contexts.map((C) => `decode @${grouped(C)}`)], body, ["l", "l", ...lengths.map(() => "r" as const), ...contexts.map(() => "r" as const)]));
  }

  // ---- memory
  out.push("", "## Memory", "", "![state bytes per sequence against context](speed/state.svg) ![peak RSS against prefill length](speed/rss.svg)", "");
  out.push(
    "State: bytes of all recurrent state tensors per sequence after the context (a KV cache grows with it; an SSM's state does not). Peak RSS: resident memory of the cell's own process for one prefill of batch 1" +
      (eps.some((e) => e.startsWith("chromium-")) ? " (in Chromium, each cell's own browser: the peak of its renderer process that ran the page; the row's note adds all the browser's processes)." : "."),
    "",
  );
  const memEp = ortCpu ?? eps[0]!;
  const stateRows = models.map((m) => [m, ...contexts.map((C) => { const v = ok(find(c, m, memEp, "decode", "state_bytes", C)); return v === undefined ? "—" : bytes(v); })]);
  out.push(table(["state per sequence", ...contexts.map((C) => `context ${grouped(C)}`)], stateRows, ["l", ...contexts.map(() => "r" as const)]), "");
  const rssRows = models.flatMap((m) =>
    eps.map((ep) => [m, epLabel(ep, rows), ...lengths.map((L) => {
      const v = ok(find(c, m, ep, "prefill", "peak_rss_mb", L));
      return v === undefined ? statusText(find(c, m, ep, "prefill", "prefill_tokens_per_s", L)) : megabytes(v);
    })]),
  );
  out.push(table(["peak RSS (MB)", "runtime", ...lengths.map((L) => `prefill @${grouped(L)}`)], rssRows, ["l", "l", ...lengths.map(() => "r" as const)]));

  // ---- charts
  const name = (m: string) => familyOf(c, m);
  const series = (ep: string, dashed: boolean, pts: (m: string) => [number, number][]) =>
    models.map((m): Series => ({ name: `${name(m)}${ep === TORCH_EP ? " (PyTorch)" : ""}`, group: m, dashed, points: pts(m) }));
  const chartEps = [ortCpu, hasTorch ? TORCH_EP : undefined].filter((e): e is string => !!e);
  const fmtLen = (L: number) => (L >= 1024 ? `${L / 1024}K` : String(L));
  charts.set("speed/prefill.svg", logLogChart({
    title: `Prefill time, batch 1 (${chartEps.map((e) => epLabel(e, rows)).join("; dashed: ")})`,
    xLabel: "sequence length (tokens)", yLabel: "ms per prefill", formatX: fmtLen, formatY: axisNumber,
    series: chartEps.flatMap((ep) => series(ep, ep === TORCH_EP, (m) => lengths.map((L) => [L, prefillMs(c, m, ep, L) ?? 0]))),
  }));
  charts.set("speed/decode.svg", logLogChart({
    title: `Decode latency (${chartEps.map((e) => epLabel(e, rows)).join("; dashed: ")})`,
    xLabel: "context (tokens)", yLabel: "ms per token", formatX: fmtLen, formatY: axisNumber,
    series: chartEps.flatMap((ep) => series(ep, ep === TORCH_EP, (m) => contexts.map((C) => [C, decodeMs(c, m, ep, C) ?? 0]))),
  }));
  if (genModels.length)
    charts.set("speed/generate.svg", logLogChart({
      title: `Greedy decoding latency, generate.onnx (${chartEps.map((e) => epLabel(e, rows)).join("; dashed: ")})`,
      xLabel: "context (tokens)", yLabel: "ms per token", formatX: fmtLen, formatY: axisNumber,
      series: chartEps.flatMap((ep) => series(ep, ep === TORCH_EP, (m) => genContexts.map((C) => [C, generateMs(c, m, ep, C) ?? 0]))),
    }));
  charts.set("speed/state.svg", logLogChart({
    title: "Recurrent state per sequence", xLabel: "context (tokens)", yLabel: "bytes", formatX: fmtLen, formatY: axisBytes,
    series: series(memEp, false, (m) => contexts.map((C) => [C, ok(find(c, m, memEp, "decode", "state_bytes", C)) ?? 0])),
  }));
  charts.set("speed/rss.svg", logLogChart({
    title: `Peak RSS of one prefill (${chartEps.map((e) => epLabel(e, rows)).join("; dashed: ")})`,
    xLabel: "sequence length (tokens)", yLabel: "MB", formatX: fmtLen, formatY: axisNumber,
    series: chartEps.flatMap((ep) => series(ep, ep === TORCH_EP, (m) => lengths.map((L) => [L, ok(find(c, m, ep, "prefill", "peak_rss_mb", L)) ?? 0]))),
  }));
  return { body: out.join("\n") + "\n", charts };
}

const ratio = (num: number | undefined, den: number | undefined) => (num === undefined || den === undefined ? "—" : x(num / den));

/**
 * ms per token of one split at each context, median (p90), per model and runtime; with more than one context, a last
 * column of the latency at the longest context over that at the shortest.
 */
function latencyTable(c: Ctx, split: Decoding, models: string[], contexts: number[]): string {
  const growth = contexts.length > 1;
  const body = models.flatMap((m) =>
    c.eps.map((ep) => [
      m,
      epLabel(ep, c.rows),
      ...contexts.map((C) => {
        const r = find(c, m, ep, split, "decode_ms_per_token", C);
        const v = ok(r);
        const p90 = ok(find(c, m, ep, split, "decode_ms_per_token_p90", C));
        return v === undefined ? statusText(r) : `${ms(v)}${p90 === undefined ? "" : ` (${ms(p90)})`}`;
      }),
      ...(growth ? [ratio(latencyMs(c, split, m, ep, contexts[contexts.length - 1]!), latencyMs(c, split, m, ep, contexts[0]!))] : []),
    ]),
  );
  return table(["model", "runtime", ...contexts.map((C) => `@${grouped(C)}`), ...(growth ? ["growth"] : [])], body, ["l", "l", ...contexts.map(() => "r" as const), ...(growth ? (["r"] as const) : [])]);
}

function vsAttention(attention: number | undefined, model: number | undefined, attentionRow: ResultRow | undefined): string {
  if (model !== undefined && attention === undefined && attentionRow && attentionRow.status !== "ok") return `attention ${attentionRow.status.toUpperCase()}`;
  return ratio(attention, model);
}

const axisNumber = (v: number) => (v >= 1 ? grouped(v) : String(Number(v.toPrecision(1))));
const axisBytes = (v: number) => (v >= 2 ** 20 ? `${grouped(v / 2 ** 20)} MiB` : v >= 1024 ? `${grouped(v / 1024)} KiB` : `${grouped(v)} B`);

function renderTargets(c: Ctx, lengths: number[], contexts: number[], ortCpu: string | undefined, hasTorch: boolean): string[] {
  const body: string[][] = [];
  const verdict = (met: boolean | undefined, missedBy: string) => (met === undefined ? "not measured" : met ? "met" : `missed ${missedBy}`);
  const ssms = c.models.filter((m) => familyOf(c, m) !== ATTENTION_FAMILY);
  if (ortCpu && hasTorch) {
    // PyTorch's ms/token over onnxruntime's at each context, for one split: the slowest of them is the verdict's.
    const speedups = (split: Decoding, m: string) =>
      contexts.map((C) => { const a = latencyMs(c, split, m, TORCH_EP, C); const b = latencyMs(c, split, m, ortCpu, C); return a && b ? a / b : undefined; }).filter((v): v is number => v !== undefined);
    for (const m of c.models) {
      const ratios = speedups("decode", m);
      const worst = ratios.length ? Math.min(...ratios) : undefined;
      body.push([`decode >= 5x faster than PyTorch eager`, m, worst === undefined ? "—" : `${x(worst)} (slowest of ${ratios.length} contexts)`, verdict(worst === undefined ? undefined : worst >= 5, `by ${x(worst === undefined ? 0 : 5 / worst)}`)]);
    }
    // The same target for greedy decoding, where the run has generate rows: generate.onnx against PyTorch's greedy loop.
    for (const m of c.models) {
      const ratios = speedups("generate", m);
      if (!ratios.length) continue;
      const worst = Math.min(...ratios);
      body.push([`greedy decode (generate.onnx) >= 5x faster than PyTorch eager's greedy loop`, m, `${x(worst)} (slowest of ${ratios.length} contexts)`, verdict(worst >= 5, `by ${x(5 / worst)}`)]);
    }
    const L16 = lengths.includes(16384) ? 16384 : lengths[lengths.length - 1]!;
    for (const m of c.models) {
      const a = prefillMs(c, m, TORCH_EP, L16);
      const b = prefillMs(c, m, ortCpu, L16);
      const r = a && b ? a / b : undefined;
      body.push([`prefill @${grouped(L16)} >= 2x faster than PyTorch eager`, m, x(r), verdict(r === undefined ? undefined : r >= 2, `by ${x(r === undefined ? 0 : 2 / r)}`)]);
    }
  }
  if (ortCpu) {
    for (const m of c.models) {
      const e = exponentOf(c, m, ortCpu, lengths);
      const isSsm = ssms.includes(m);
      body.push([isSsm ? "prefill scaling exponent in 0.9 .. 1.15 (4K up)" : "prefill scaling exponent (attention, for comparison)", m, e === undefined ? "—" : e.toFixed(2), isSsm ? verdict(e === undefined ? undefined : e >= 0.9 && e <= 1.15, e === undefined ? "" : e > 1.15 ? `by ${(e - 1.15).toFixed(2)}` : `by ${(0.9 - e).toFixed(2)}`) : "reference"]);
    }
    const [first, last] = [contexts[0]!, contexts[contexts.length - 1]!];
    for (const m of contexts.length > 1 ? c.models : []) {
      const a = decodeMs(c, m, ortCpu, first);
      const b = decodeMs(c, m, ortCpu, last);
      const g = a && b ? b / a : undefined;
      const o1 = constantState(c, m);
      body.push([o1 ? `decode @${grouped(last)} within 1.2x of @${grouped(first)} (constant state)` : `decode growth @${grouped(first)} to @${grouped(last)} (state grows with context)`, m, x(g), o1 ? verdict(g === undefined ? undefined : g <= 1.2, `by ${x(g === undefined ? 0 : g / 1.2)}`) : "reference"]);
    }
  }
  return [
    `Measured on the ${ortCpu ?? "—"} execution provider. "missed by" is the factor still to gain.`,
    "",
    table(["target", "model", "measured", "verdict"], body.map((r) => r.map(cell)), ["l", "l", "r", "l"]),
  ];
}

function renderClaims(c: Ctx, lengths: number[], contexts: number[], ep: string | undefined): string[] {
  const att = attentionOf(c);
  const byFamily = (f: string) => c.models.find((m) => familyOf(c, m) === f);
  if (!att || !ep) return ["No attention baseline in this run."];
  const mamba = byFamily("mamba");
  const retnet = byFamily("retnet");
  const hyena = byFamily("hyena");
  const long = contexts.filter((C) => C >= 8192);
  const decodeVs = (m: string | undefined, C: number) => (m ? ratio(decodeMs(c, att, ep, C), decodeMs(c, m, ep, C)) : "—");
  const stateLess = (m: string | undefined, C: number) => {
    const a = ok(find(c, att, ep, "decode", "state_bytes", C));
    const b = m ? ok(find(c, m, ep, "decode", "state_bytes", C)) : undefined;
    return a && b ? `${(100 * (1 - b / a)).toFixed(1)}% less state` : "—";
  };
  const prefillVs = (m: string | undefined, L: number) => (m ? vsAttention(prefillMs(c, att, ep, L), prefillMs(c, m, ep, L), find(c, att, ep, "prefill", "prefill_tokens_per_s", L)) : "—");
  const at = (L: number) => (lengths.includes(L) ? L : undefined);
  const attCard = c.cards.find((k) => k.id === att);
  const attWidth = attCard ? `${String(attCard.config.n_layers)}-layer d_model ${String(attCard.config.d_model)}` : "see above";
  const rowsOut: string[][] = [
    [link("Mamba", arxivUrl("2312.00752")), "4-5x higher inference (generation) throughput than a Transformer of similar size (A100, 1.4B)", mamba ? [...long.map((C) => `${decodeVs(mamba, C)} decode @${grouped(C)}`), ...long.filter((C) => generateMs(c, mamba, ep, C) !== undefined).map((C) => `${ratio(generateMs(c, att, ep, C), generateMs(c, mamba, ep, C))} greedy generation @${grouped(C)}`)].join(", ") || "—" : "no checkpoint"],
    [link("RetNet", arxivUrl("2307.08621")), "8.4x faster decoding and 70% less memory than a Transformer at 8K (6.7B, A100)", retnet && contexts.includes(8192) ? `${decodeVs(retnet, 8192)} decode @8,192, ${stateLess(retnet, 8192)}` : "—"],
    [link("Hyena", arxivUrl("2302.10866")), "2x faster than optimised attention at 8K, 100x at 64K (operator, A100)", hyena ? [8192, 16384, 65536].filter((L) => at(L)).map((L) => `${prefillVs(hyena, L)} prefill @${grouped(L)}`).join(", ") || "—" : "no checkpoint"],
  ];
  return [
    `Claims from ../shared/anchors.md as their papers state them, on GPUs at scales far above ours; ours: the checkpoints of this run (${attWidth}) on this machine's ${ep} execution provider, against our attention baseline of the same width (\`${att}\`). Ratios above 1x: faster than attention.`,
    "",
    table(["paper", "claim (their setting)", "ours (this run)"], rowsOut, ["l", "l", "l"]),
  ];
}

