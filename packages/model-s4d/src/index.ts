// Family manifest of S4D: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "s4d",
  title: "S4D (diagonal state space model; DSS as a variant)",
  paper: { title: "On the Parameterization and Initialization of Diagonal State Space Models", arxiv: "2206.11893" },
  /**
   * State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>): ssm.<l> [batch, d_model,
   * d_state/2, 2], each channel's diagonal complex state as (re, im) pairs. The DSS variant (config
   * {"variant": "dss"} or "dss-exp", arXiv 2203.14343) has the same state.
   */
  stateKinds: ["ssm"],
  stateGrowsWithLength: false,
  block:
    "LayerNorm -> per channel a diagonal complex SSM (S4D-Lin init A_n = -1/2 + i pi n, ZOH with learned log dt, C complex) " +
    "+ D skip (chunked convolution prefill, recurrent step) -> GELU -> Linear(H, 2H) -> GLU, residual",
} as const;
