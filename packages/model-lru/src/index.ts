// Family manifest of LRU: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "lru",
  title: "LRU (Linear Recurrent Unit)",
  paper: { title: "Resurrecting Recurrent Neural Networks for Long Sequences", arxiv: "2303.06349" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>): ssm.<l> [batch, d_state, 2], the complex hidden state as (re, im) pairs. */
  stateKinds: ["ssm"],
  stateGrowsWithLength: false,
  block:
    "LayerNorm -> LRU: h_t = Lambda h_{t-1} + gamma B u_t, Lambda = exp(-exp(nu) + i exp(theta)) (ring init), " +
    "gamma = sqrt(1 - |Lambda|^2) at init; y = Re(C h) + D u (chunked parallel scan prefill, recurrent step) -> GELU -> GLU, residual",
} as const;
