#!/usr/bin/env node
// ssmbench command line: `pnpm bench|train|export|report|list` land here (see the root package.json).
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { UserError } from "@ssmbench/core";
import { findRepoRoot } from "@ssmbench/runner";
import { benchCommand, dataCommand, exportCommand, listCommand, newModelCommand, reportCommand, trainCommand } from "./commands.ts";
import { mergeCommand, refuseShardedSpeed } from "./shards.ts";
import { speedCommand } from "./speed.ts";

export async function main(argv: string[]): Promise<number> {
  const root = findRepoRoot();
  try {
    await yargs(argv)
      .scriptName("ssmbench")
      .strict()
      .command(
        "bench",
        "evaluate and time checkpoints: accuracy per task setting, prefill tokens/s, decode ms/token, state bytes",
        (y) =>
          y
            .option("model", { type: "string", demandOption: true, desc: "a family (every checkpoint of it), a checkpoint id, or all" })
            .option("task", { type: "string", desc: "only checkpoints trained on this task" })
            .option("ep", { type: "string", desc: "execution providers: cpu, wasm, cuda, webgpu (see pnpm list); --suite speed also chromium-wasm, chromium-webgpu (Debian's Chromium); default cpu,wasm (--verify: cpu)" })
            .option("seq-len", { type: "string", desc: "prefill lengths, comma-separated (default 1024,4096,16384; --quick 1024)" })
            .option("quick", { type: "boolean", default: false, desc: "trained setting only, 200 examples, one length: under a minute" })
            .option("examples", { type: "number", desc: "test examples per setting (default 1000, --quick 200)" })
            .option("stream-above", { type: "number", desc: "settings longer than this many tokens are streamed through step.onnx (constant-state checkpoints) or not run (growing state); default 65536. Raise it to prefill long settings one example at a time (faster, more memory)" })
            .option("settings", { type: "string", desc: "only the task settings of these sequence lengths, comma-separated (e.g. 1048576: induction heads at 2^20 alone)" })
            .option("out", { type: "string", default: "results", desc: "folder for results/<run-id>.csv" })
            .option("models-dir", { type: "string", default: "models" })
            .option("data", { type: "string", desc: 'your own JSONL: {"input_ids": [...], "targets": [...]} per line' })
            .option("run-id", { type: "string", desc: "name of the run (default: time and pid)" })
            .option("resume", { type: "string", desc: "continue a run, skipping its finished rows: --resume <run-id> (or --resume --run-id <run-id>)" })
            .option("threads", { type: "number", desc: "intra-op threads" })
            .option("cell-timeout", { type: "number", desc: "seconds one matrix cell may take; over it the cell is a timeout row and the run goes on" })
            .option("suite", { choices: ["default", "speed"] as const, default: "default" as const, desc: "speed: prefill vs length and batch, decode vs context (step.onnx per token, and greedy through generate.onnx), memory, on every EP and PyTorch eager (docs/speed.md)" })
            .option("batch", { type: "string", desc: "--suite speed: prefill batch sizes (default 1,8)" })
            .option("contexts", { type: "string", desc: "--suite speed: decode contexts (default 1024,8192,65536)" })
            .option("torch", { type: "boolean", default: true, desc: "--suite speed: time PyTorch eager on the same weights too (--no-torch to skip)" })
            .option("max-logits-gb", { type: "number", desc: "--suite speed: skip cells whose logits alone exceed this (default 2)" })
            .option("decode-threads", { type: "number", desc: "--suite speed: intra-op threads of decode steps, onnxruntime-node and PyTorch alike (default --threads)" })
            .option("redo", { type: "string", desc: "--suite speed with --resume: checkpoint ids measured again from scratch, their earlier rows in the run replaced (after a re-export or a model.py change)" })
            .option("redo-split", { type: "string", desc: "--suite speed with --redo: measure again only that split (prefill, decode or generate) of those checkpoints, keeping their other rows" })
            .option("generate-chunk", { type: "number", desc: "--suite speed: greedy tokens per generate.onnx call in the generate cells of checkpoints that have the file (default 64; 0: no generate cells)" })
            .option("max-batch-tokens", { type: "number", desc: "--suite speed: skip batched prefill cells of more tokens than this (batch x length; default no limit)" })
            .option("shard", { type: "string", desc: "run slice i of n of the checkpoint x EP matrix (i from 1); default: a Slurm array task's or Kubernetes JOB_COMPLETION_INDEX's slice, if any" })
            .option("verify", {
              type: "boolean",
              default: false,
              desc: "re-measure the accuracy rows of results/leaderboard.csv for --model (default EP cpu) and fail if any differs",
            }),
        (a) =>
          a.suite === "speed"
            ? (refuseShardedSpeed(a.shard), speedCommand(root, { ...a, seqLen: a["seq-len"], modelsDir: a["models-dir"], runId: a["run-id"], cellTimeout: a["cell-timeout"], maxLogitsGb: a["max-logits-gb"], maxBatchTokens: a["max-batch-tokens"], decodeThreads: a["decode-threads"], redoSplit: a["redo-split"], generateChunk: a["generate-chunk"] }))
            : benchCommand(root, { ...a, seqLen: a["seq-len"], modelsDir: a["models-dir"], runId: a["run-id"], cellTimeout: a["cell-timeout"], streamAbove: a["stream-above"] }),
      )
      .command(
        "train",
        "generate the task's data, train with a learning-rate sweep, export to models/<family>-<task>/",
        (y) =>
          y
            .option("model", { type: "string", demandOption: true, desc: "model family (packages/model-<family>)" })
            .option("task", { type: "string", default: "mqar" })
            .option("device", { type: "string", default: "cpu", desc: "cpu, or cuda where a GPU is present" })
            .option("lrs", { type: "string", default: "3e-3,1e-2", desc: "learning rates to sweep; the best is kept" })
            .option("steps", { type: "number", default: 3000 })
            .option("batch", { type: "number", default: 64 })
            .option("config", { type: "string", default: "{}", desc: "JSON overrides of the family's DEFAULT_CONFIG" })
            .option("params", { type: "string", default: "{}", desc: "JSON overrides of the task's trained setting" })
            .option("train-examples", { type: "number", default: 100_000 })
            .option("max-minutes", { type: "number", desc: "wall-clock budget per learning rate" })
            .option("target-acc", { type: "number", desc: "stop a learning rate early once validation accuracy reaches this (e.g. 0.99)" })
            .option("nproc", { type: "number", default: 1, desc: "processes under torchrun (DDP; one GPU each with --device cuda); same result as 1" })
            .option("id", { type: "string", desc: "checkpoint id (default <family>-<task>)" }),
        (a) => trainCommand(root, { ...a, trainExamples: a["train-examples"], maxMinutes: a["max-minutes"], targetAcc: a["target-acc"] }),
      )
      .command(
        "export",
        "export trained run folder(s) to the ONNX contract with golden file and card",
        (y) =>
          y
            .option("model", { type: "string", desc: "the family (with --run)" })
            .option("task", { type: "string", default: "mqar" })
            .option("run", { type: "string", array: true, desc: "run folder(s) from training, in order" })
            .option("from-checkpoint", { type: "string", desc: "re-export models/<id> from its weights.safetensors (keeps its card's task and training record)" })
            .option("precision", { choices: ["float32", "float64"] as const, default: "float32" as const, desc: "arithmetic inside the graphs (float64 where the model's own float32 round-off is near 1e-4)" })
            .option("params", { type: "string", default: "{}" })
            .option("id", { type: "string" }),
        (a) => exportCommand(root, { ...a, run: (a.run ?? []).map(String), fromCheckpoint: a["from-checkpoint"] }),
      )
      .command(
        "new-model <name>",
        "scaffold packages/model-<name>/ (model.py, tests, manifest); found by the harness with no other edit",
        (y) => y.positional("name", { type: "string", demandOption: true }).option("title", { type: "string", desc: "the family's full name" }),
        (a) => newModelCommand(root, { name: a.name!, title: a.title }),
      )
      .command("report", "regenerate docs/ from results/ and models/", (y) => y.option("check", { type: "boolean", default: false, desc: "fail if docs/ is stale" }), (a) => reportCommand(root, a.check))
      .command(
        "merge",
        "merge the shards' CSVs of a results folder into its leaderboard.csv and name the planned cells that have no rows (exit 1 if any)",
        (y) => y.option("results", { type: "string", default: "results", desc: "folder of the shards' CSVs and plans" }).option("run", { type: "string", desc: "check only this sharded run's plan" }),
        (a) => mergeCommand(root, a),
      )
      .command("list", "model families, checkpoints, tasks and execution providers", (y) => y.option("models-dir", { type: "string", default: "models" }), (a) => listCommand(root, a["models-dir"]))
      .command(
        "data",
        "write a task split as .npy files (what training reads)",
        (y) =>
          y
            .option("task", { type: "string", default: "mqar" })
            .option("split", { choices: ["train", "valid", "test"] as const, default: "test" as const })
            .option("n", { type: "number", default: 1000 })
            .option("seed", { type: "number", default: 0 })
            .option("params", { type: "string", default: "{}" })
            .option("out", { type: "string", demandOption: true }),
        (a) => dataCommand(root, a),
      )
      .demandCommand(1, "name a command: bench, train, export, new-model, report, merge, list, data")
      .fail((msg, err) => {
        throw err ?? new UserError(msg, "see --help");
      })
      .help()
      .parseAsync();
    return 0;
  } catch (e) {
    if (e instanceof UserError || (e as Error)?.name === "UserError" || (e as Error)?.name === "NonFiniteError") {
      console.error(`error: ${(e as Error).message}`);
      return 2;
    }
    if ((e as Error)?.name === "VerificationFailed") {
      console.error(`verification failed: ${(e as Error).message}`);
      return 1;
    }
    if ((e as Error)?.name === "IncompleteResults") {
      console.error(`incomplete: ${(e as Error).message}`);
      return 1;
    }
    if ((e as Error)?.name === "ZodError") {
      console.error(`error: ${(e as Error).message}`);
      return 2;
    }
    console.error(e);
    return 1;
  }
}

main(hideBin(process.argv)).then((code) => {
  process.exitCode = code;
});
