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
}

const cfg = (card: ModelCard, key: string) => (card.config[key] === undefined ? "—" : String(card.config[key]));

/** Our learning rate, and the sweep it was kept from when there was one. */
function lrWithSweep(card: ModelCard): string {
  const { lr, sweep } = card.training;
  if (sweep.length === 0) return `${sci(lr)} (no sweep)`;
  const rates = [...new Set(sweep.map((s) => s.lr))].sort((a, b) => a - b);
  return `${sci(lr)}, best of a ${sweep.length}-run sweep over ${rates.map(sci).join(", ")}`;
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
};
