// Family manifest of Mamba-2: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "mamba2",
  title: "Mamba-2 (SSD, state space duality)",
  paper: {
    title: "Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured State Space Duality",
    arxiv: "2405.21060",
  },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>). */
  stateKinds: ["conv", "ssm"],
  stateGrowsWithLength: false,
  block:
    "RMSNorm -> in_proj (z, x, B, C, dt) -> causal depthwise conv1d (4) on x, B, C -> SiLU -> SSD (scalar decay exp(dt A) per head; " +
    "chunked matmul prefill with a log-depth scan across chunks, recurrent step) + D x -> RMSNorm(y * SiLU(z)) -> out_proj, residual",
} as const;
