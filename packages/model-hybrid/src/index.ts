// Family manifest of the hybrid: what the harness and the report show about this family. The package is found by
// the "ssmbench": {"kind": "model"} key of its package.json; model.py is the PyTorch reference.
export const manifest = {
  family: "hybrid",
  title: "Hybrid (other families' layers stacked by config: Jamba-like, MoE-Mamba-like)",
  paper: { title: "Jamba: A Hybrid Transformer-Mamba Language Model", arxiv: "2403.19887" },
  /** None of its own: each layer keeps its family's state kinds at the hybrid's layer index (past_<kind>.<layer>);
   * the default stack has conv.0-2 and ssm.0-2 (Mamba-2) and key_values.3.key / .value (attention). */
  stateKinds: [],
  /** For the default stack (its attention layer's KV cache); a stack without growing-state families keeps O(1) state. */
  stateGrowsWithLength: true,
  block:
    "config stack (default mamba2,mamba2,mamba2,transformer, repeated to n_layers): each layer is that family's own layer " +
    "(its sub-layers and pre-norms); an item <family>+mlp or <family>+moe replaces the family's MLP with (or adds after its mixer) " +
    "a pre-norm SwiGLU or a mixture of SwiGLU experts (top-k softmax routing, all experts computed, weights zero off the top k)",
} as const;
