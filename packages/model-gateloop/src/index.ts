// Family manifest of GateLoop: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "gateloop",
  title: "GateLoop (data-controlled complex linear recurrence)",
  paper: { title: "GateLoop: Fully Data-Controlled Linear Recurrence for Sequence Modeling", arxiv: "2311.01927" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>). */
  stateKinds: ["gateloop"],
  stateGrowsWithLength: false,
  block:
    "RMSNorm -> GateLoop (q, k, v; per-head complex transition a = sigmoid(x W_m) e^(i x W_theta); S = a S + k^T v, " +
    "y = Re(q S); chunked prefill, recurrent step) -> GroupNorm per head -> * SiLU(W_g x) -> W_o, residual; RMSNorm -> FFN (GELU), residual",
} as const;
