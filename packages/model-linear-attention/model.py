"""Linear attention ("Transformers are RNNs"), plain PyTorch reference for ssmbench.

After Katharopoulos, Vyas, Pappas & Fleuret, "Transformers are RNNs: Fast Autoregressive Transformers with Linear
Attention", arXiv 2006.16236 (Section 3: linearized attention, causal masking, transformers as RNNs). A layer is two pre-norm residual sub-layers (LayerNorm):
X <- X + LinAttn(LN(X)), X <- X + FFN(LN(X)) with FFN(x) = W_2 GELU(W_1 x).

Causal linear attention, H heads of d_model/H, with the feature map phi(x) = elu(x) + 1:

    V'_i = phi(Q_i)^T sum_{j<=i} phi(K_j) V_j^T / (phi(Q_i)^T sum_{j<=i} phi(K_j))        (causal masking)

and its recurrent form, the transformer as an RNN with two states per head:

    s_i = s_{i-1} + phi(K_i) V_i^T        (`kv`: [H, d/H, d/H])
    z_i = z_{i-1} + phi(K_i)              (`z`:  [H, d/H], the normaliser)
    V'_i = phi(Q_i)^T s_i / (phi(Q_i)^T z_i + eps)

then the output projection W_O. Prefill: chunked (ssmbench_trainer.linattn.chunked_normalized, the kernel shared
by the linear-attention families): inside a chunk the masked quadratic form, across chunks a cumulative sum of the
chunk states; the normaliser is the same computation with an extra value column of ones. No loop over time: the
ONNX prefill takes any length. Step: the recurrence above, O(1) state.

Deviations: eps = 1e-6 in the denominator (the paper's code uses one too; phi > 0 makes the denominator positive);
pre-norm instead of the original post-norm layers; a tied embedding and no positional encoding other than causality
(the paper's autoregressive experiments add none to the linear layers either).
The LM shell (embedding, residual sub-layers, tied head, prefill/step contract) is ssmbench_trainer.lm.CausalLM.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ssmbench_trainer import linattn
from ssmbench_trainer.lm import CausalLM, GeluMLP, Stateless, state

FAMILY = "linear-attention"
VARIANT = "linear attention (elu + 1 feature map)"
PAPER = {"title": "Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention", "arxiv": "2006.16236"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 2,        # head dim 32: states kv [2, 32, 32] and z [2, 32] per layer
    "ffn_factor": 4,     # FFN hidden = 4 d_model (the Transformer's)
    "eps": 1e-6,
    "chunk": 32,
    "norm": "layer",
}


def elu_feature_map(x):
    """phi(x) = elu(x) + 1 > 0 (eq. 7)."""
    return F.elu(x) + 1


class LinearAttention(nn.Module):
    """Causal linear attention (module docstring). States: kv [B, H, d_h, d_h], z [B, H, d_h]."""

    def __init__(self, d_model: int, n_heads: int = 2, eps: float = 1e-6, chunk: int = 32):
        super().__init__()
        assert d_model % n_heads == 0, "d_model must split over the heads"
        self.n_heads, self.dh, self.eps, self.chunk = n_heads, d_model // n_heads, eps, chunk
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.o_proj = nn.Linear(d_model, d_model)

    def state_spec(self, layer: int):
        return [state("kv", layer, self.n_heads, self.dh, self.dh), state("z", layer, self.n_heads, self.dh)]

    def _project(self, u):
        """u [..., D] -> phi(q), phi(k), v [..., H, d_h]."""
        heads = lambda x: x.reshape(*x.shape[:-1], self.n_heads, self.dh)  # noqa: E731
        return elu_feature_map(heads(self.q_proj(u))), elu_feature_map(heads(self.k_proj(u))), heads(self.v_proj(u))

    def forward(self, u):
        """u [B, T, D] -> (out [B, T, D], [kv, z]) from the zero state (chunked, no loop over time)."""
        q, k, v = (t.transpose(1, 2) for t in self._project(u))           # [B, H, T, d_h]
        o, S, z = linattn.chunked_normalized(q, k, v, eps=self.eps, chunk=self.chunk)
        return self.o_proj(o.transpose(1, 2).flatten(-2)), [S, z]

    def step(self, u, states):
        """u [B, D], states [kv, z]: s += phi(k) v^T, z += phi(k), V' = phi(q) s / (phi(q) . z + eps)."""
        q, k, v = self._project(u)
        o, S, z = linattn.step_normalized(states[0], states[1], q, k, v, eps=self.eps)
        return self.o_proj(o.flatten(-2)), [S, z]


class Model(CausalLM):
    """Linear-attention Transformer layers (attention, then FFN, each pre-norm residual) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d = c["d_model"]
        layers = [[LinearAttention(d, c["n_heads"], c["eps"], c["chunk"]), Stateless(GeluMLP(d, c["ffn_factor"] * d))]
                  for _ in range(c["n_layers"])]
        super().__init__(vocab, d, layers, norm=c["norm"])
        self.config = c
