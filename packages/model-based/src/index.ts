// Family manifest of Based: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "based",
  title: "Based (Taylor linear attention + sliding-window attention)",
  paper: { title: "Simple linear attention language models balance the recall-throughput tradeoff", arxiv: "2402.18668" },
  /** State tensors of a layer, as named in the ONNX contract (past_<kind>.<layer>[.part]): a linear-attention layer
   * has kv and z; a sliding-window layer has window.<layer>.key / .value / .valid, a fixed-size shift buffer of the
   * last W (64) keys and values, so no state grows with the length. */
  stateKinds: ["kv", "z", "window"],
  stateGrowsWithLength: false,
  block:
    "layers alternate (config mixers, default linear,window): RMSNorm -> linear attention with the 2nd-order Taylor feature map " +
    "(q, k projected to 16 per head -> 153 features; states kv, z; chunked prefill) or sliding-window softmax attention " +
    "(last 64 tokens, rotary; constant-size shift-buffer state) -> out_proj, residual; RMSNorm -> MLP (GELU), residual",
} as const;
