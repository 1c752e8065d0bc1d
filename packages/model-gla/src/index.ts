// Family manifest of GLA: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "gla",
  title: "GLA (gated linear attention)",
  paper: { title: "Gated Linear Attention Transformers with Hardware-Efficient Training", arxiv: "2312.06635" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>). */
  stateKinds: ["kv"],
  stateGrowsWithLength: false,
  block:
    "RMSNorm -> gated linear attention (q, k, v; forget gate alpha = sigmoid(x W1 W2 + b)^(1/16) per key channel; matrix state " +
    "S = diag(alpha) S + k^T v per head; chunkwise prefill, recurrent step) -> RMSNorm per head -> * Swish(x W_r + b_r) -> W_O, residual; " +
    "RMSNorm -> SwiGLU, residual",
} as const;
