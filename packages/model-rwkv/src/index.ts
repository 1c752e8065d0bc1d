// Family manifest of RWKV: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "rwkv",
  title: "RWKV-6 Finch (matrix-valued states, data-dependent decay); RWKV-4 as config version 4",
  paper: { title: "Eagle and Finch: RWKV with Matrix-Valued States and Dynamic Recurrence", arxiv: "2404.05892" },
  /** State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>): shift.<l>.att, wkv.<l>,
   * shift.<l>.ffn (RWKV-4: wkv.<l>.num, wkv.<l>.den, wkv.<l>.max). */
  stateKinds: ["shift", "wkv"],
  stateGrowsWithLength: false,
  block:
    "LayerNorm -> time-mix (ddlerp token shift with LoRA -> r, k, v, gate, data-dependent decay w = exp(-exp(d)); per-head matrix state S = diag(w) S + k^T v, out r (diag(u) k^T v + S); GroupNorm per head, * SiLU(g), W_o), residual; LayerNorm -> channel-mix (token shift; sigmoid(W_r xr) * W_v relu(W_k xk)^2), residual",
} as const;
