// The in-browser runner: a checkpoint's test examples (same generator, split and seed as `pnpm bench`), scored by
// the runner's own accuracy(), a parity check against the golden file, timing as `bench --quick`; rows as CSV.
import type { ResultRow } from "@ssmbench/core";
import { formatResultsCsv } from "@ssmbench/report/results";
import { accuracy, decodeTiming, prefillTiming, quickTiming, stateBytes, testSplit } from "@ssmbench/runner/browser";
import { scoreArgmax, tasks, type Example, type TaskDef } from "@ssmbench/tasks";
import { checkGolden, type Golden } from "@ssmbench/runtime/browser";
import { accuracyRow, browserRunId, failedRow, speedRows, type BrowserRun } from "../lib/rows.ts";
import { $, browserEnv, configureOrt, errorText, grouped, loadSiteData, offerWebgpu, openCheckpoint, paint } from "./common.ts";

const form = $<HTMLFormElement>("run-form");
const pick = $<HTMLSelectElement>("checkpoint");
const settingPick = $<HTMLSelectElement>("setting");
const examplesInput = $<HTMLInputElement>("examples");
const epPick = $<HTMLSelectElement>("ep");
const speedBox = $<HTMLInputElement>("speed");
const runButton = $<HTMLButtonElement>("run");
const progress = $<HTMLProgressElement>("progress");
const status = $("status");
const result = $("result");
const download = $<HTMLButtonElement>("download");

const taskOf = (id: string) => (tasks as Record<string, TaskDef<any>>)[id];
const setStatus = (state: string, text: string) => {
  status.dataset.state = state;
  status.textContent = text;
};
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

let rows: ResultRow[] = [];
let runId = "";

async function main(): Promise<void> {
  const threads = configureOrt();
  const data = await loadSiteData();
  const runnable = data.checkpoints.filter((c) => taskOf(c.card.task.id));
  for (const c of runnable) pick.add(new Option(`${c.card.id} (${c.card.family}, ${c.card.task.id}, ${grouped(c.card.params)} params)`, c.card.id));
  const wanted = new URLSearchParams(location.search);
  if (wanted.get("checkpoint")) pick.value = wanted.get("checkpoint")!;
  const ckpt = () => runnable.find((c) => c.card.id === pick.value)!;
  const settingsOf = () => {
    const task = taskOf(ckpt().card.task.id)!;
    return { task, settings: task.settings(task.parseParams(ckpt().card.task.params)) };
  };
  const fillSettings = () => {
    settingPick.replaceChildren(...settingsOf().settings.map((s, i) => new Option(`${s.name}${i === 0 ? " (trained)" : ""}`, String(i))));
  };
  pick.addEventListener("change", fillSettings);
  fillSettings();
  if (wanted.get("examples")) examplesInput.value = wanted.get("examples")!;
  if (wanted.get("speed") === "0") speedBox.checked = false;
  const gpu = await offerWebgpu(epPick);
  $("env").textContent = `onnxruntime-web ${data.ortVersion}; ${threads} wasm thread${threads === 1 ? "" : "s"}${globalThis.crossOriginIsolated ? "" : " (the page is not cross-origin isolated)"}. ${gpu}`;
  runButton.disabled = runnable.length === 0;
  setStatus("ready", runnable.length ? "Ready." : "No checkpoint in this site.");

  download.addEventListener("click", () => {
    const blob = new Blob([formatResultsCsv(rows)], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${runId}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  });

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void run(data, ckpt(), settingsOf(), threads);
  });
}

async function run(
  data: Awaited<ReturnType<typeof loadSiteData>>,
  ckpt: Awaited<ReturnType<typeof loadSiteData>>["checkpoints"][number],
  { task, settings }: { task: TaskDef<any>; settings: { name: string; params: any }[] },
  threads: number,
): Promise<void> {
  const { card } = ckpt;
  const setting = settings[Number(settingPick.value)]!;
  const n = Math.max(1, Math.floor(Number(examplesInput.value) || 1));
  const ep = epPick.value as "wasm" | "webgpu";
  runButton.disabled = true;
  download.disabled = true;
  rows = [];
  runId = browserRunId();
  result.replaceChildren();
  delete result.dataset.correct;
  const info: BrowserRun = { runId, gitSha: data.gitSha, ep, env: browserEnv(ep === "wasm" ? threads : 1), card };
  const seqLen = task.seqLen(setting.params);
  const at = { task: task.id, version: task.version, split: testSplit(setting.name), seqLen };
  let phase: "accuracy" | "parity" | "speed" = "accuracy";
  try {
    setStatus("loading", `Loading ${card.id} on ${ep}…`);
    await paint();
    const driver = await openCheckpoint(ckpt, ep);

    setStatus("running", `Generating ${n} test examples (seed ${data.testSeed})…`);
    await paint();
    const examples: Example[] = task.generate(setting.params, "test", n, data.testSeed);
    const live = { correct: 0, total: 0, tokens: 0 };
    const base = task.scoreExample ?? scoreArgmax;
    const score: typeof scoreArgmax = (e, logits, vocab, offset) => {
      const s = base(e, logits, vocab, offset);
      live.correct += s.correct;
      live.total += s.total;
      live.tokens += e.input_ids.length;
      return s;
    };
    progress.max = n;
    progress.value = 0;
    const t0 = performance.now();
    const acc = await accuracy(driver, card.vocab, examples, (done) => {
      progress.value = done;
      const s = (performance.now() - t0) / 1000;
      setStatus("running", `${done}/${n} examples · accuracy ${pct(live.correct / Math.max(1, live.total))} (${live.correct}/${live.total}) · ${grouped(live.tokens / s)} tokens/s`);
    }, score);
    const evalS = (performance.now() - t0) / 1000;
    const accRow = accuracyRow(info, { task: task.id, version: task.version, setting: setting.name, seqLen, trained: setting === settings[0], examples: n, seed: data.testSeed, exactMatch: task.scoreExample !== undefined }, acc);
    rows.push(accRow);
    Object.assign(result.dataset, { correct: String(acc.correct), total: String(acc.total), examples: String(n), accuracy: String(acc.value) });
    show([
      ["accuracy", `${pct(acc.value)} (${acc.correct}/${acc.total}${task.scoreExample ? " examples exactly right" : " scored positions"}), 95% interval ${pct(acc.ci[0])}–${pct(acc.ci[1])}`],
      ["throughput during evaluation", `${grouped((n * seqLen) / evalS)} tokens/s (${n} examples of ${seqLen} tokens in ${evalS.toFixed(1)} s, batches of ${acc.batch})`],
    ]);

    phase = "parity";
    setStatus("running", "Checking the logits against the PyTorch golden file…");
    await paint();
    const golden = (await (await fetch(new URL("golden.json", new URL(ckpt.dir, document.baseURI)))).json()) as Golden;
    const g = await checkGolden(driver, golden);
    Object.assign(result.dataset, { goldenPrefill: String(g.prefillVsGolden), goldenStep: String(g.stepVsPrefill), goldenArgmax: String(g.argmaxMismatches), goldenTolerance: String(g.tolerance) });
    show([[
      "parity with PyTorch (golden.json)",
      `<span class="${g.ok ? "pass" : "fail"}">${g.ok ? "pass" : "FAIL"}</span>: prefill vs PyTorch max |diff| ${g.prefillVsGolden.toExponential(2)}, stepping vs prefill ${g.stepVsPrefill.toExponential(2)} (tolerance ${g.tolerance}); argmax differs at ${g.argmaxMismatches} of ${g.positions} positions`,
    ]], true);

    if (speedBox.checked) {
      phase = "speed";
      setStatus("running", `Timing prefill of ${seqLen} tokens…`);
      await paint();
      const pre = await prefillTiming(driver, card.vocab, seqLen, 1, quickTiming);
      const bytes = stateBytes(driver.state!, 1);
      setStatus("running", "Timing decode through step.onnx…");
      await paint();
      const dec = await decodeTiming(driver, card.vocab, seqLen, 64, 8);
      rows.push(...speedRows(info, seqLen, pre, dec, bytes));
      show([
        ["prefill", `${grouped((seqLen * 1000) / pre.median)} tokens/s (median of ${pre.n}, ${pre.median.toFixed(1)} ms for ${seqLen} tokens)`],
        ["decode", `${dec.median.toFixed(3)} ms/token median, ${dec.p90.toFixed(3)} p90 (${dec.n} steps, ${grouped(1000 / dec.median)} tokens/s)`],
        ["state", `${grouped(bytes)} bytes per sequence`],
      ]);
    }
    setStatus("done", `Done: ${card.id} on ${ep}, ${pct(acc.value)} on ${n} examples of ${setting.name}; ${rows.length} rows ready to download.`);
  } catch (e) {
    // A failure becomes a row where it stands for a measurement (accuracy or speed); parity is shown, not a row.
    if (phase === "accuracy") rows.push(failedRow(info, at, "accuracy", e));
    if (phase === "speed") rows.push(failedRow(info, { task: "speed", version: "-", split: "-", seqLen }, "prefill_tokens_per_s", e));
    setStatus("error", `Failed: ${errorText(e)}`);
  } finally {
    progress.value = progress.max;
    runButton.disabled = false;
    download.disabled = rows.length === 0;
  }
}

function show(items: [string, string][], html = false): void {
  let dl = result.querySelector("dl");
  if (!dl) dl = result.appendChild(document.createElement("dl"));
  for (const [k, v] of items) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    if (html) dd.innerHTML = v;
    else dd.textContent = v;
    dl.append(dt, dd);
  }
}

main().catch((e) => setStatus("error", `Failed to start: ${errorText(e)}`));
