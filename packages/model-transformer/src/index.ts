// Family manifest of the Transformer: what the harness and the report show about this family. The package is found
// by the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "transformer",
  title: "Transformer (pre-norm, RoPE, SwiGLU)",
  paper: { title: "Attention Is All You Need", arxiv: "1706.03762" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>.key / .value). */
  stateKinds: ["key_values"],
  stateGrowsWithLength: true,
  block:
    "RMSNorm -> causal multi-head self-attention (RoPE on q, k; KV cache) -> residual; RMSNorm -> SwiGLU MLP (8/3 d) -> residual",
} as const;
