// Family manifest of HGRN: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "hgrn",
  title: "HGRN (hierarchically gated recurrent network)",
  paper: { title: "Hierarchically Gated Recurrent Neural Network for Sequence Modeling", arxiv: "2311.04823" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>). */
  stateKinds: ["hidden"],
  stateGrowsWithLength: false,
  block:
    "RMSNorm -> HGRU (complex element-wise recurrence h = lambda e^(i theta) h + (1 - lambda) c, forget gate lambda " +
    "lower-bounded per layer by cumsum(softmax(Gamma)) over layers; chunked scan prefill) -> LayerNorm(g * [Re h, Im h]) " +
    "-> W_o, residual; RMSNorm -> GLU (SiLU), residual",
} as const;
