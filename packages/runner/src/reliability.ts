// The faults and bad inputs the harness is tested against, in one table: reliability.test.ts provokes each case
// (a case without its test fails the suite), and `pnpm report` renders the same table as docs/reliability.md.

export type CaseGroup = "Bad input" | "Faults inside a run" | "Interruptions and concurrent runs" | "Reproducibility" | "Parsers under fuzzing";

export interface ReliabilityCase {
  /** The test's name in reliability.test.ts. */
  id: string;
  group: CaseGroup;
  /** What goes wrong, as the test provokes it. */
  fault: string;
  /** What the harness does about it. */
  outcome: string;
  /** Bad input only: the `pnpm bench` arguments (placeholders in <>) and the message the user must see. */
  args?: string[];
  message?: RegExp;
}

const REFUSED = "exit 2, the message below, nothing written";

export const reliabilityCases: ReliabilityCase[] = [
  { id: "unknown model", group: "Bad input", fault: "a model that does not exist", outcome: `${REFUSED}; the nearest name and every known one`, args: ["--model", "mambo"], message: /unknown model "mambo" \(did you mean "mamba"\?\).*families: .*mamba.*checkpoints: .*mamba-mqar/s },
  { id: "unknown task", group: "Bad input", fault: "a task that does not exist", outcome: `${REFUSED}; the known tasks`, args: ["--model", "mamba", "--task", "nope"], message: /unknown task "nope".*known tasks: mqar/s },
  { id: "misspelt task", group: "Bad input", fault: "a misspelt task", outcome: `${REFUSED}; the nearest name`, args: ["--model", "mamba", "--task", "mqr"], message: /unknown task "mqr" \(did you mean "mqar"\?\)/ },
  { id: "unavailable EP", group: "Bad input", fault: "an execution provider this machine lacks", outcome: `${REFUSED}; the EPs available here`, args: ["--model", "mamba", "--ep", "cuda"], message: /cuda.*available here: cpu, wasm/s },
  { id: "unknown EP", group: "Bad input", fault: "an execution provider that does not exist", outcome: REFUSED, args: ["--model", "mamba", "--ep", "tpu"], message: /unknown execution provider "tpu"/ },
  { id: "misspelt EP", group: "Bad input", fault: "a misspelt execution provider", outcome: `${REFUSED}; the nearest name`, args: ["--model", "mamba", "--ep", "wasn"], message: /unknown execution provider "wasn" \(did you mean "wasm"\?\)/ },
  { id: "non-numeric length", group: "Bad input", fault: "a --seq-len that is not a list of integers", outcome: REFUSED, args: ["--model", "mamba", "--seq-len", "10,abc"], message: /--seq-len: "10,abc" is not a list of positive integers/ },
  { id: "zero length", group: "Bad input", fault: "a zero --seq-len", outcome: REFUSED, args: ["--model", "mamba", "--seq-len", "0"], message: /--seq-len: "0" is not a list of positive integers/ },
  { id: "negative length", group: "Bad input", fault: "a negative --seq-len", outcome: REFUSED, args: ["--model", "mamba", "--seq-len=-5"], message: /--seq-len: "-5" is not a list of positive integers/ },
  { id: "length above the model's limit", group: "Bad input", fault: "a --seq-len above the length the checkpoint was exported for", outcome: REFUSED, args: ["--model", "mamba-mqar", "--seq-len", "1024,2000000"], message: /--seq-len 2000000 is above mamba-mqar's limit of 1048576 tokens/ },
  { id: "bad example count", group: "Bad input", fault: "--examples 0", outcome: REFUSED, args: ["--model", "mamba", "--examples", "0"], message: /--examples 0: must be a positive integer/ },
  { id: "shard out of range", group: "Bad input", fault: "--shard 3/2 (shards are numbered 1 to n)", outcome: `${REFUSED}; the shards that exist`, args: ["--model", "mamba", "--shard", "3/2"], message: /shard 3 is not between 1 and 2.*or raise n/s },
  { id: "shard not i/n", group: "Bad input", fault: "a --shard that is not i/n", outcome: REFUSED, args: ["--model", "mamba", "--shard", "half"], message: /--shard half: expected .* \(shard i of n\)/ },
  { id: "bad cell timeout", group: "Bad input", fault: "a negative --cell-timeout", outcome: REFUSED, args: ["--model", "mamba", "--cell-timeout=-1"], message: /--cell-timeout -1: must be a positive number of seconds/ },
  { id: "checkpoint file missing", group: "Bad input", fault: "a checkpoint without its step.onnx", outcome: `${REFUSED}; how to restore it`, args: ["--model", "mamba", "--models-dir", "<copy without step.onnx>"], message: /mamba-mqar: step\.onnx is missing.*re-export/s },
  { id: "checkpoint file truncated", group: "Bad input", fault: "a truncated prefill.onnx", outcome: `${REFUSED}; caught by its sha256 before anything runs`, args: ["--model", "mamba", "--models-dir", "<copy with half a prefill.onnx>"], message: /mamba-mqar: prefill\.onnx is corrupt.*re-export/s },
  { id: "checkpoint sha256 mismatch", group: "Bad input", fault: "one flipped byte in step.onnx", outcome: `${REFUSED}; caught by its sha256 before anything runs`, args: ["--model", "mamba", "--models-dir", "<copy with a flipped byte>"], message: /mamba-mqar: step\.onnx is corrupt.*re-export/s },
  { id: "card not JSON", group: "Bad input", fault: "a card.json that is not JSON", outcome: REFUSED, args: ["--model", "mamba", "--models-dir", "<copy with a broken card>"], message: /card\.json is not valid JSON/ },
  { id: "card fails its schema", group: "Bad input", fault: "a card.json with a negative vocab", outcome: `${REFUSED}; the field at fault`, args: ["--model", "mamba", "--models-dir", "<copy with vocab -1>"], message: /card\.json does not follow the card schema: vocab: /s },
  { id: "ONNX graph does not match the card", group: "Bad input", fault: "a card naming a state the ONNX graphs do not have", outcome: `${REFUSED}; the names expected and found`, args: ["--model", "mamba", "--models-dir", "<copy with a renamed state>"], message: /present_ssm\.renamed/ },
  { id: "--data missing", group: "Bad input", fault: "a --data file that does not exist", outcome: REFUSED, args: ["--model", "mamba", "--data", "/nonexistent/x.jsonl"], message: /cannot read --data \/nonexistent\/x\.jsonl/ },
  { id: "--data not JSONL", group: "Bad input", fault: "a --data line that is not JSON", outcome: `${REFUSED}; file and line number`, args: ["--model", "mamba-mqar", "--data", "<mine.jsonl>"], message: /mine\.jsonl:2: not valid JSON/ },
  { id: "--data lengths differ", group: "Bad input", fault: "a --data line whose targets and input_ids differ in length", outcome: `${REFUSED}; file and line number`, args: ["--model", "mamba-mqar", "--data", "<mine.jsonl>"], message: /mine\.jsonl:2: "targets" has 1 entries but "input_ids" has 2/ },
  { id: "--data out of vocabulary", group: "Bad input", fault: "a --data token id outside the vocabulary", outcome: `${REFUSED}; file, line and position`, args: ["--model", "mamba-mqar", "--data", "<mine.jsonl>"], message: /mine\.jsonl:2: input_ids\[1\] = 99999 is not a token id in \[0, 8192\)/ },
  { id: "--data nothing scored", group: "Bad input", fault: "a --data line with no scored position", outcome: `${REFUSED}; file and line number`, args: ["--model", "mamba-mqar", "--data", "<mine.jsonl>"], message: /mine\.jsonl:2: no scored position/ },
  { id: "malformed results row", group: "Bad input", fault: "a results CSV with a malformed row, read by --resume", outcome: `${REFUSED}; file and line number`, args: ["--model", "mamba-mqar", "--run-id", "r", "--resume"], message: /r\.csv:3: /s },

  { id: "NaN logits", group: "Faults inside a run", fault: "a checkpoint whose weights are NaN", outcome: "each cell becomes a row with status nan naming the tensor; the run goes on and exits 0" },
  { id: "cell timeout", group: "Faults inside a run", fault: "cells slower than --cell-timeout", outcome: "each such cell becomes a row with status timeout; the run goes on to the next cell" },
  { id: "out of memory", group: "Faults inside a run", fault: "onnxruntime failing to allocate a 2^20-token prefill (simulated: the session throws onnxruntime's allocation error, since whether a real one fails depends on the machine's memory)", outcome: "that cell becomes a row with status oom; the other cells of the run are measured" },
  { id: "throwing cell", group: "Faults inside a run", fault: "onnxruntime throwing in one cell", outcome: "the classification of errors: out-of-memory messages to oom, NaN to nan, budgets to timeout, anything else to error" },

  { id: "SIGKILL mid-run then --resume", group: "Interruptions and concurrent runs", fault: "a real bench process killed with SIGKILL after its first rows", outcome: "the CSV holds only whole rows and parses; --resume <run-id> measures only the missing cells and keeps the finished rows byte for byte" },
  { id: "two runs at once", group: "Interruptions and concurrent runs", fault: "two bench processes writing to results/ at the same time", outcome: "each writes its own results/<run-id>.csv, both valid; the leaderboard merge does not depend on file order" },
  { id: "same run id twice at once", group: "Interruptions and concurrent runs", fault: "a second process given the --run-id of a run in progress", outcome: "exit 2 naming the process that holds the run (a lock beside the CSV); a lock left by a killed run is taken over" },

  { id: "byte-identical datasets", group: "Reproducibility", fault: "generating a task split twice with the same seed", outcome: "byte-identical .npy files (and different ones for another seed)" },
  { id: "identical accuracy rows", group: "Reproducibility", fault: "evaluating a checkpoint twice on the cpu EP", outcome: "identical accuracy rows (value, interval, counts); every row records git sha, checkpoint sha256, task version, runtime and version, machine" },
  { id: "bench --verify", group: "Reproducibility", fault: "re-measuring the committed leaderboard's accuracy rows", outcome: "exit 0 when every row reproduces exactly; exit 1 listing each row that differs" },

  { id: "fuzzed --data JSONL", group: "Parsers under fuzzing", fault: "arbitrary text and mutated JSON lines as --data (fast-check)", outcome: "either examples or a UserError naming file and line; never another exception" },
  { id: "fuzzed results CSV", group: "Parsers under fuzzing", fault: "arbitrary text and mutated rows as a results CSV (fast-check)", outcome: "either rows that pass the schema or a UserError naming file and line; never another exception" },
  { id: "fuzzed model card", group: "Parsers under fuzzing", fault: "arbitrary JSON and mutated fields as card.json (fast-check)", outcome: "either a card that passes the schema or a UserError naming the field; never another exception" },
];

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** docs/reliability.md's body: one table per group, in the order above. */
export function renderReliability(cases: readonly ReliabilityCase[] = reliabilityCases): string {
  const out = [
    "Every line below is a test case of `packages/runner/src/reliability.test.ts`, which provokes the fault for real " +
      "(a corrupted file, a killed process, a model that returns NaN; only running out of memory is simulated) and checks what the harness does. This page is " +
      "generated from the same table the tests run (`packages/runner/src/reliability.ts`), so it lists nothing untested.",
  ];
  for (const group of [...new Set(cases.map((c) => c.group))]) {
    out.push("", `## ${group}`, "");
    const badInput = group === "Bad input";
    out.push(badInput ? "| fault | `pnpm bench` | what the harness does | message (pattern) |" : "| fault | what the harness does | test |");
    out.push(badInput ? "|---|---|---|---|" : "|---|---|---|");
    for (const c of cases.filter((x) => x.group === group)) {
      out.push(
        badInput
          ? `| ${cell(c.fault)} | \`${cell((c.args ?? []).join(" "))}\` | ${cell(c.outcome)} | \`${cell(String(c.message?.source ?? ""))}\` |`
          : `| ${cell(c.fault)} | ${cell(c.outcome)} | \`${cell(c.id)}\` |`,
      );
    }
  }
  return `${out.join("\n")}\n`;
}
