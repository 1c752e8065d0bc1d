// Family manifest of S5: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "s5",
  title: "S5 (simplified state space layer: MIMO, diagonal, parallel scan)",
  paper: { title: "Simplified State Space Layers for Sequence Modeling", arxiv: "2208.04933" },
  /**
   * State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>): ssm.<l> [batch, d_state/2, 2],
   * the shared diagonal complex state (one of each conjugate pair) as (re, im) pairs.
   */
  stateKinds: ["ssm"],
  stateGrowsWithLength: false,
  block:
    "LayerNorm -> one MIMO SSM over all channels: diagonal complex Lambda (HiPPO-N init, conjugate symmetry), B~ (P x H), " +
    "C~ (H x P), per-state learned timescale, ZOH; y = 2 Re(C~ x) + D u (chunked parallel scan prefill, recurrent step) " +
    "-> GELU -> GLU, residual",
} as const;
