// Family manifest of Hyena: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "hyena",
  title: "Hyena (implicit long convolutions, order 2)",
  paper: { title: "Hyena Hierarchy: Towards Larger Convolutional Language Models", arxiv: "2302.10866" },
  /**
   * State tensors of one layer, as named in the ONNX contract (past_<kind>.<layer>): short.<l>, the growing
   * hist.<l>.h1 / hist.<l>.h2 (the long convolutions' inputs) and taps.<l> (the filters at the lags aligned with
   * them, so a step evaluates the filter at one new lag only; checkpoints exported before it have no taps, and their
   * cards list their own states). The Laughing Hyena variant (config "modes" > 0, arXiv 2310.18780, made by
   * distill.py) keeps short.<l> and fixed-size modal.<l>.h1 / modal.<l>.h2 instead of hist and taps.
   */
  stateKinds: ["short", "hist", "taps", "modal"],
  /** Decoding keeps the inputs of both long convolutions and the filter taps: hist.* and taps.* grow by one position per token (not in the modal variant). */
  stateGrowsWithLength: true,
  block:
    "RMSNorm -> in_proj (v, x1, x2) -> causal depthwise conv (3) -> z = x1 * (h1 * v + D1 v) -> z = x2 * (h2 * z + D2 z) -> out_proj, residual; " +
    "RMSNorm -> MLP (GELU), residual. h1, h2: implicit filters FFN(PE(t)) * exp(-alpha t), applied by FFT convolution",
} as const;
