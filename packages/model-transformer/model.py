"""Transformer (decoder-only, causal), plain PyTorch reference for ssmbench: the attention baseline.

After Vaswani et al., "Attention Is All You Need", arXiv 1706.03762, in today's common variant:
pre-norm (RMSNorm) residual blocks, rotary position embedding (Su et al., RoFormer, arXiv 2104.09864) in place of
the sinusoidal input encoding, and a SwiGLU MLP (Shazeer, arXiv 2002.05202) in place of the ReLU one. One layer:

    h = h + Attn(RMSNorm(h))          causal multi-head self-attention, RoPE on q and k
    h = h + SwiGLU(RMSNorm(h))        W_down (SiLU(W_gate x) * W_up x)

Attention (1706.03762 eq. 1, per head, head_dim d_h):
    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_h) + M) V,   M[t, s] = 0 if s <= t else -inf   (causal mask)

RoPE (2104.09864 eqs. 13-16): the pair (x_{2i}, x_{2i+1}) of a query or key at position m is rotated by the angle
m * theta_i, theta_i = base^(-2i / d_h), i = 0 .. d_h/2 - 1:
    x'_{2i}   = x_{2i} cos(m theta_i) - x_{2i+1} sin(m theta_i)
    x'_{2i+1} = x_{2i} sin(m theta_i) + x_{2i+1} cos(m theta_i)
so <R_m q, R_n k> = <q, R_{n-m} k> depends on the positions only through n - m (eq. 16).

State: a KV cache per layer, two growing tensors, each [batch, n_heads, past_seq, head_dim]; state_spec entries are
    {"name": "key_values.<layer>.key", "kind": "key_values", "shape": ["batch", H, "past_seq", d_h], ...}
and ".value" the same. Keys are cached after RoPE. The initial state is empty (past_seq = 0); each step appends one
position, and a step's RoPE position is the past length, read from the cache's shape (no position input).

Attention is written as plain matmul + softmax with the causal mask built from arange (no loop over time, the
length stays dynamic in the export); the scale 1/sqrt(d_h) multiplies q (T x d_h) rather than the T x T scores.
F.scaled_dot_product_attention exports as well (to the same MatMul/Softmax ops plus a Trilu mask) and is faster in
eager PyTorch, but not in onnxruntime; the explicit form is kept as the reference.

The LM shell (embedding, residual blocks, tied head, prefill/step contract) is ssmbench_trainer.lm.CausalLM.
"""
from __future__ import annotations

import torch
from torch import nn

from ssmbench_trainer.lm import CausalLM, Stateless, SwiGLU, state, swiglu_hidden

FAMILY = "transformer"
VARIANT = "pre-norm, RoPE, SwiGLU"
PAPER = {"title": "Attention Is All You Need", "arxiv": "1706.03762"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 2,            # head_dim = d_model / n_heads = 32
    "mlp_ratio": 8 / 3,      # SwiGLU hidden = mlp_ratio * d_model rounded up to a multiple of mlp_multiple (176)
    "mlp_multiple": 16,
    "rope_base": 10000.0,
}


def rope_angles(pos, inv_freq):
    """pos [T] (float) -> cos, sin [T, d_h/2] of the angles pos * theta_i. Prefill and step use this same op, so
    a position gets the same rotation (to the bit) either way."""
    ang = pos.unsqueeze(-1) * inv_freq
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    """Rotate adjacent pairs (x_{2i}, x_{2i+1}) of x [..., T, d_h] by cos, sin [T, d_h/2] (2104.09864 eq. 34)."""
    pairs = x.reshape(*x.shape[:-1], x.shape[-1] // 2, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).reshape(x.shape)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with RoPE and a KV cache (key after RoPE, value) as its state."""

    def __init__(self, d_model: int, n_heads: int, rope_base: float = 10000.0):
        super().__init__()
        assert d_model % n_heads == 0 and (d_model // n_heads) % 2 == 0, "head_dim must be an even divisor of d_model"
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)
        inv_freq = rope_base ** (-torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)  # a constant: not in checkpoints

    def state_spec(self, layer: int):
        H, dh = self.n_heads, self.head_dim
        return [state("key_values", layer, H, "past_seq", dh, part="key"),
                state("key_values", layer, H, "past_seq", dh, part="value")]

    def _heads(self, u):
        """u [B, T, D] -> q, k, v [B, H, T, d_h]."""
        B, T, _ = u.shape
        q, k, v = self.qkv(u).view(B, T, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        return q, k, v

    def _merge(self, o):
        """o [B, H, T, d_h] -> [B, T, D]."""
        B, H, T, dh = o.shape
        return self.out(o.transpose(1, 2).reshape(B, T, H * dh))

    def forward(self, u):
        """u [B, T, D] -> (out [B, T, D], [key, value [B, H, T, d_h]]): all positions at once, mask from arange."""
        T = u.shape[1]
        q, k, v = self._heads(u)
        pos = torch.arange(T, device=u.device)
        cos, sin = rope_angles(pos.to(u.dtype), self.inv_freq)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        scores = (q * self.scale) @ k.transpose(-1, -2)                          # [B, H, T, T]
        causal = pos.unsqueeze(1) >= pos.unsqueeze(0)                            # [t, s]: s <= t
        scores = torch.where(causal, scores, torch.full((), float("-inf"), dtype=scores.dtype))
        o = torch.softmax(scores, dim=-1) @ v
        return self._merge(o), [k, v]

    def step(self, u, states):
        """u [B, D]; states [key, value [B, H, P, d_h]] -> (out [B, D], [key, value [B, H, P+1, d_h]]).

        The new token's position is P = past_k.shape[2]; it attends to all P cached positions and itself."""
        past_k, past_v = states
        q, k, v = self._heads(u.unsqueeze(1))                                    # [B, H, 1, d_h]
        P = past_k.shape[2]
        pos = torch.arange(P, P + 1, device=u.device)
        cos, sin = rope_angles(pos.to(u.dtype), self.inv_freq)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        scores = (q * self.scale) @ k.transpose(-1, -2)                          # [B, H, 1, P+1]
        o = torch.softmax(scores, dim=-1) @ v
        return self._merge(o).squeeze(1), [k, v]


class Model(CausalLM):
    """Pre-norm Transformer layers (attention, then SwiGLU MLP) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        hidden = swiglu_hidden(c["d_model"], c["mlp_ratio"], c["mlp_multiple"])
        layers = [[CausalSelfAttention(c["d_model"], c["n_heads"], c["rope_base"]),
                   Stateless(SwiGLU(c["d_model"], hidden))] for _ in range(c["n_layers"])]
        super().__init__(vocab, c["d_model"], layers)
        self.config = c
