// Family manifest of Mega: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "mega",
  title: "Mega (moving average equipped gated attention, Mega-chunk)",
  paper: { title: "Mega: Moving Average Equipped Gated Attention", arxiv: "2209.10655" },
  /**
   * State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>). The step keeps the EMA state
   * [batch, d, h], the keys [batch, c, z] and values [batch, c, v] of the current chunk in a fixed buffer of c slots
   * (later slots zero), and chunk_len [batch, 1] (float32), the number of the chunk's tokens seen (0..c; at c the next
   * step starts a new chunk). Fixed size: attention never looks beyond the current chunk.
   */
  stateKinds: ["ema", "chunk_key", "chunk_value", "chunk_len"],
  stateGrowsWithLength: false,
  block:
    "LayerNorm -> multi-dimensional damped EMA (h dims per channel; chunked LTI scan) -> SiLU -> Z, Q, K, gates; " +
    "single-head softmax attention with a relative bias within chunks of c tokens (Mega-chunk) -> reset gate -> H^; " +
    "gated residual phi * H^ + (1 - phi) * x; LayerNorm -> FFN (GELU), residual",
} as const;
