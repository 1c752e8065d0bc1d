// Family manifest of linear attention: what the harness and the report show about this family. The package is
// found by the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "linear-attention",
  title: "Linear attention (Transformers are RNNs)",
  paper: { title: "Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention", arxiv: "2006.16236" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>). */
  stateKinds: ["kv", "z"],
  stateGrowsWithLength: false,
  block:
    "LayerNorm -> causal linear attention (phi = elu + 1 on q, k; states kv = sum phi(k) v^T and z = sum phi(k) per head; " +
    "output phi(q) kv / phi(q) z; chunked prefill, recurrent step) -> W_O, residual; LayerNorm -> FFN (GELU), residual",
} as const;
