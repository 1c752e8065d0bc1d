// Family manifest of Mamba: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "mamba",
  title: "Mamba (S6 selective state space)",
  paper: { title: "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", arxiv: "2312.00752" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>). */
  stateKinds: ["conv", "ssm"],
  stateGrowsWithLength: false,
  block: "RMSNorm -> in_proj (x, z) -> causal depthwise conv1d (4) -> SiLU -> selective scan (dt, B, C from x) -> y * SiLU(z) -> out_proj, residual",
} as const;
