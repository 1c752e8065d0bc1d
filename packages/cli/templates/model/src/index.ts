// Family manifest of __NAME__: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "__NAME__",
  title: "__TITLE__",
  paper: { title: "__TITLE__", arxiv: "0000.00000" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>). */
  stateKinds: ["h"],
  stateGrowsWithLength: false,
  block: "RMSNorm -> mixer -> residual (describe the family's block here)",
} as const;
