// Family manifest of RetNet: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "retnet",
  title: "RetNet (multi-scale retention)",
  paper: { title: "Retentive Network: A Successor to Transformer for Large Language Models", arxiv: "2307.08621" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>). */
  stateKinds: ["retention"],
  stateGrowsWithLength: false,
  block:
    "LayerNorm -> multi-scale retention (q, k, v; xPos-free rotation of q, k; fixed decay gamma_h = 1 - 2^(-5-h) per head; " +
    "chunkwise prefill, recurrent step) -> GroupNorm per head -> * swish(W_G x) -> W_O, residual; LayerNorm -> FFN (GELU), residual",
} as const;
