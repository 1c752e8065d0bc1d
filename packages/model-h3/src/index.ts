// Family manifest of H3: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "h3",
  title: "H3 (Hungry Hungry Hippos)",
  paper: { title: "Hungry Hungry Hippos: Towards Language Modeling with State Space Models", arxiv: "2212.14052" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>). */
  stateKinds: ["shift", "ssm"],
  stateGrowsWithLength: false,
  block:
    "LayerNorm -> H3 (Q, K, V; shift SSM on K (a shift register of N_s keys); per head the outer product K~^T V through a " +
    "diagonal S4D SSM (chunked prefill); O = Q KV~) -> W_O, residual; LayerNorm -> MLP (GELU), residual",
} as const;
