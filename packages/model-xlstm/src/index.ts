// Family manifest of xLSTM: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "xlstm",
  title: "xLSTM (mLSTM blocks)",
  paper: { title: "xLSTM: Extended Long Short-Term Memory", arxiv: "2405.04517" },
  /**
   * State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>): an mLSTM layer has conv, mem (the matrix memory C), n, m;
   * an sLSTM layer (config slstm_at, none by default) conv, slstm_h, slstm_c, slstm_n, slstm_m.
   */
  stateKinds: ["conv", "mem", "n", "m", "slstm_h", "slstm_c", "slstm_n", "slstm_m"],
  stateGrowsWithLength: false,
  block:
    "LayerNorm -> mLSTM block (up-projection x2 to (x, z); causal conv4 + SiLU; block-diagonal q, k, v; mLSTM cell: matrix " +
    "memory C = f C + i v k^T, normaliser n, exponential input gate stabilised by m; chunked prefill, recurrent step; " +
    "multi-head LayerNorm + learnable skip; * SiLU(z); down-projection), residual. Optional sLSTM blocks (config slstm_at): " +
    "LayerNorm -> sLSTM (scalar memory, recurrent R per head, exponential gating; prefill as a Scan over time) -> GroupNorm, " +
    "residual; LayerNorm -> gated FFN (GELU, 4/3), residual",
} as const;
