// Family manifest of S4: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "s4",
  title: "S4 (structured state space model, diagonal plus low-rank)",
  paper: { title: "Efficiently Modeling Long Sequences with Structured State Spaces", arxiv: "2111.00396" },
  /**
   * State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>): ssm.<l> [batch, d_model,
   * d_state/2, 2], each channel's state in the diagonal basis of A's normal part, the d_state/2 kept modes as
   * (re, im) pairs (the other half are their conjugates). Constant size.
   */
  stateKinds: ["ssm"],
  stateGrowsWithLength: false,
  block:
    "LayerNorm -> per channel an SSM with A = Lambda - P P^* (HiPPO-LegS NPLR init, bilinear with learned log dt, C complex) " +
    "+ D skip (prefill: S4's Cauchy + Woodbury kernel at the roots of unity, iFFT, FFT convolution; step: the DPLR recurrence) " +
    "-> GELU -> Linear(H, 2H) -> GLU, residual",
} as const;
