// The text demo: greedy generation through step.onnx, token by token, with tokens/s. Token ids for the task
// checkpoints (no tokenizer); text through UTF-8 bytes for checkpoints of a byte-level LM task.
import { tasks, type TaskDef } from "@ssmbench/tasks";
import { GENERATE_CHUNK, decodeBytes, encodeBytes, generateGreedy, isByteLm, parseTokenIds } from "../lib/generate.ts";
import { $, configureOrt, errorText, grouped, loadSiteData, offerWebgpu, openCheckpoint, paint } from "./common.ts";

const form = $<HTMLFormElement>("gen-form");
const pick = $<HTMLSelectElement>("checkpoint");
const promptInput = $<HTMLInputElement>("prompt");
const countInput = $<HTMLInputElement>("count");
const epPick = $<HTMLSelectElement>("ep");
const button = $<HTMLButtonElement>("generate");
const mode = $("mode");
const status = $("status");
const output = $("output");

const setStatus = (state: string, text: string) => {
  status.dataset.state = state;
  status.textContent = text;
};

async function main(): Promise<void> {
  configureOrt();
  const data = await loadSiteData();
  for (const c of data.checkpoints) pick.add(new Option(`${c.card.id} (${c.card.family}, vocabulary ${grouped(c.card.vocab)})`, c.card.id));
  const wanted = new URLSearchParams(location.search);
  if (wanted.get("checkpoint")) pick.value = wanted.get("checkpoint")!;
  const ckpt = () => data.checkpoints.find((c) => c.card.id === pick.value)!;
  const describe = () => {
    const { card } = ckpt();
    if (isByteLm(card)) {
      mode.textContent = `${card.id} is a byte-level language model: the prompt is text, read as UTF-8 bytes.`;
      promptInput.value = "The state space model";
      return;
    }
    // A task checkpoint: the prompt is token ids; the default is the start of a test example of its task.
    const task = (tasks as Record<string, TaskDef<any>>)[card.task.id];
    const example = task?.generate(task.parseParams(card.task.params), "test", 1, data.testSeed)[0];
    const ids = example ? [...example.input_ids.slice(0, Math.min(32, example.input_ids.length))] : [0];
    promptInput.value = ids.join(" ");
    mode.textContent =
      `${card.id} is a ${card.task.id} checkpoint with a vocabulary of ${grouped(card.vocab)} token ids (no tokenizer): ` +
      `type ids from 0 to ${card.vocab - 1}, separated by spaces. The default prompt is the start of a test example of its task. ` +
      "Language-model checkpoints, which read and write text, come with the byte-LM task.";
  };
  pick.addEventListener("change", describe);
  describe();
  if (wanted.get("prompt")) promptInput.value = wanted.get("prompt")!;
  if (wanted.get("count")) countInput.value = wanted.get("count")!;
  await offerWebgpu(epPick);
  button.disabled = data.checkpoints.length === 0;
  setStatus("ready", "Ready.");

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void generate(ckpt());
  });
}

async function generate(ckpt: Awaited<ReturnType<typeof loadSiteData>>["checkpoints"][number]): Promise<void> {
  const { card } = ckpt;
  const byte = isByteLm(card);
  button.disabled = true;
  output.replaceChildren();
  output.dataset.tokens = "";
  output.dataset.count = "0";
  try {
    const prompt = byte ? encodeBytes(promptInput.value) : parseTokenIds(promptInput.value, card.vocab);
    const n = Math.max(1, Math.floor(Number(countInput.value) || 1));
    const ep = epPick.value as "wasm" | "webgpu";
    setStatus("loading", `Loading ${card.id} on ${ep}…`);
    await paint();
    const driver = await openCheckpoint(ckpt, ep);
    const shown = output.appendChild(document.createElement("span"));
    shown.className = "prompt";
    shown.textContent = byte ? decodeBytes(prompt) : prompt.join(" ");
    const produced: number[] = [];
    const startedAt = performance.now();
    let lastPaint = startedAt;
    const gen = await generateGreedy(driver, prompt, n, async ({ token }, i) => {
      produced.push(token);
      const span = output.appendChild(document.createElement("span"));
      span.className = "tok";
      span.textContent = byte ? decodeBytes([token]) : ` ${token}`;
      output.dataset.tokens = produced.join(" ");
      output.dataset.count = String(produced.length);
      const s = (performance.now() - startedAt) / 1000;
      setStatus("running", `${i + 1}/${n} tokens · ${grouped((i + 1) / s)} tokens/s`);
      if (performance.now() - lastPaint > 50) {
        lastPaint = performance.now();
        await paint(); // watch the tokens arrive
      }
    });
    output.dataset.tokensPerS = String(gen.tokensPerS);
    setStatus(
      "done",
      `Generated ${gen.tokens.length} tokens on ${ep}: prefill of ${prompt.length} tokens ${gen.prefillMs.toFixed(1)} ms, then ` +
        `${Number.isFinite(gen.tokensPerS) ? `${grouped(gen.tokensPerS)} tokens/s` : "no step"} through ${gen.via} (${gen.decodeMs.toFixed(1)} ms for ${gen.tokens.length - 1} tokens${gen.via === "generate.onnx" ? `, ${GENERATE_CHUNK} per call` : ""}, the time of painting them excluded).`,
    );
  } catch (e) {
    setStatus("error", `Failed: ${errorText(e)}`);
  } finally {
    button.disabled = false;
  }
}

main().catch((e) => setStatus("error", `Failed to start: ${errorText(e)}`));
