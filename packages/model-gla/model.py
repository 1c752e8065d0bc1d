"""Gated Linear Attention (GLA), plain PyTorch reference for ssmbench.

After Yang, Wang, Shen, Panda & Kim, "Gated Linear Attention Transformers with Hardware-Efficient Training",
arXiv 2312.06635 (the GLA layer and the GLA Transformer). A layer is two pre-norm residual sub-layers (RMSNorm), as the
paper's GLA Transformer: X <- X + GLA(RMSNorm(X)), X <- X + SwiGLU(RMSNorm(X)).

The GLA layer, H heads, key dim d_k = expand_k * d_model and value dim d_v = expand_v * d_model split over the heads:

    q_t = x_t W_Q,  k_t = x_t W_K,  v_t = x_t W_V
    alpha_t = sigmoid(x_t W_alpha1 W_alpha2 + b_alpha)^(1/tau)       W_alpha1: d x 16, W_alpha2: 16 x d_k, tau = 16
    per head:  S_t = diag(alpha_t) S_{t-1} + k_t^T v_t,   o_t = q_t S_t     (S_t: d_k/H x d_v/H; the recurrent form)
    r_t = Swish(x_t W_r + b_r)
    y_t = (r_t * Norm_head(o_t)) W_O

so log alpha_t = logsigmoid(x_t W_alpha1 W_alpha2 + b_alpha) / 16: a data-dependent forget gate per key channel,
close to 1 at init. With b_t = prod_{j<=t} alpha_j inside a chunk (B: the rows b_t) the chunkwise form is
    O = (((Q o B)(K / B)^T) o causal mask) V + (Q o B) S_in,      S_out = diag(b_Q) S_in + (K o b_Q / B)^T V
Prefill: this chunkwise form in ssmbench_trainer.linattn.chunked (shared by the
linear-attention families) with its "secondary-chunk-free" vector-decay path: inside a chunk the cumulative
log-gates are taken relative to mid-chunk so every factor stays finite, across chunks a log-depth scan; the length
is dynamic. Step: the recurrence above, O(1) state (`kv` [batch, H, d_k/H, d_v/H] per layer).

Deviations, each shared by every path (chunked, step, training), so they agree exactly:
  - each step's log-gate is clamped at >= -160/Q (linattn.vector_floor; -5 at Q = 32, alpha >= 0.0067), which keeps
    every exp() of the chunked form within float32. With tau = 16 it binds only where the gate's pre-activation is
    below -80: never at init, hardly ever after training.
  - log alpha is computed as min(x, 0) - log(1 + exp(-|x|)) (`log_sigmoid`), the same function as F.logsigmoid to
    float32 rounding, because the exported Log(Sigmoid(x)) is wrong in onnxruntime below x ~ -15.
  - q is scaled by (d_k/H)^-1/2 (as flash-linear-attention's GLA does; the paper leaves scaling implicit).
  - Norm_head is RMSNorm over each head's d_v/H channels with one weight shared by the heads (flash-linear-
    attention's fused gated norm); the paper writes LayerNorm per head.
The LM shell (embedding, residual sub-layers, tied head, prefill/step contract) is ssmbench_trainer.lm.CausalLM.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer import linattn
from ssmbench_trainer.lm import CausalLM, RMSNorm, Stateless, state
from ssmbench_trainer.numerics import log_sigmoid, silu

FAMILY = "gla"
VARIANT = "gla (gated linear attention, chunkwise)"
PAPER = {"title": "Gated Linear Attention Transformers with Hardware-Efficient Training", "arxiv": "2312.06635"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 2,        # head dims: d_k/H = 16, d_v/H = 32
    "expand_k": 0.5,     # d_k = 0.5 d_model (the paper's GLA Transformer)
    "expand_v": 1.0,     # d_v = d_model
    "gate_rank": 16,     # low rank of the forget gate (W_alpha1: d_model x 16)
    "gate_tau": 16.0,    # alpha = sigmoid(.)^(1/tau)
    "ffn_mult": 4,       # SwiGLU hidden = 2/3 * ffn_mult * d_model rounded up to 16 (LLaMA's sizing): 176 at d_model 64
    "chunk": 32,
    "scan_levels": 16,   # the exported prefill handles up to chunk * 2^16 tokens
}


def swiglu_hidden(d_model: int, mult: float) -> int:
    """LLaMA's sizing: 2/3 of a GELU MLP's mult * d_model (same parameter count), rounded up to a multiple of 16."""
    return math.ceil(math.ceil(2 * mult * d_model / 3) / 16) * 16


class SwiGLU(nn.Module):
    """W_down (SiLU(W_gate x) * W_up x), the GLA Transformer's FFN (LLaMA's)."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(d_model, hidden, bias=False)
        self.up_proj = nn.Linear(d_model, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x):
        return self.down_proj(silu(self.gate_proj(x)) * self.up_proj(x))


class GatedLinearAttention(nn.Module):
    """The GLA layer (module docstring). State: kv [B, H, d_k/H, d_v/H]."""

    def __init__(self, d_model: int, n_heads: int = 2, expand_k: float = 0.5, expand_v: float = 1.0,
                 gate_rank: int = 16, gate_tau: float = 16.0, chunk: int = 32, scan_levels: int = 16):
        super().__init__()
        self.key_dim, self.value_dim = int(d_model * expand_k), int(d_model * expand_v)
        assert self.key_dim % n_heads == 0 and self.value_dim % n_heads == 0, "key and value dims must split over the heads"
        self.n_heads = n_heads
        self.dk, self.dv = self.key_dim // n_heads, self.value_dim // n_heads
        self.gate_tau, self.chunk, self.scan_levels = gate_tau, chunk, scan_levels
        self.log_gate_floor = linattn.vector_floor(chunk)
        self.q_proj = nn.Linear(d_model, self.key_dim, bias=False)
        self.k_proj = nn.Linear(d_model, self.key_dim, bias=False)
        self.v_proj = nn.Linear(d_model, self.value_dim, bias=False)
        self.gk_down = nn.Linear(d_model, gate_rank, bias=False)        # W_alpha1
        self.gk_up = nn.Linear(gate_rank, self.key_dim, bias=True)      # W_alpha2, b_alpha
        self.g_proj = nn.Linear(d_model, self.value_dim, bias=True)     # W_r, b_r (output gate)
        self.g_norm = RMSNorm(self.dv)
        self.o_proj = nn.Linear(self.value_dim, d_model, bias=False)

    def state_spec(self, layer: int):
        return [state("kv", layer, self.n_heads, self.dk, self.dv)]

    # --- shared pieces -------------------------------------------------------------------------------------------
    def _heads(self, x, d):
        """[..., H * d] -> [..., H, d]."""
        return x.reshape(*x.shape[:-1], self.n_heads, d)

    def _project(self, u):
        """u [..., D] -> q, k, log alpha [..., H, d_k/H], v [..., H, d_v/H]."""
        q = self._heads(self.q_proj(u), self.dk) * self.dk ** -0.5
        k = self._heads(self.k_proj(u), self.dk)
        v = self._heads(self.v_proj(u), self.dv)
        log_alpha = log_sigmoid(self.gk_up(self.gk_down(u))) / self.gate_tau
        log_alpha = torch.clamp(self._heads(log_alpha, self.dk), min=self.log_gate_floor)
        return q, k, v, log_alpha

    def _out(self, u, o):
        """u [..., D], o [..., H, d_v/H] -> (Swish(u W_r + b_r) * Norm_head(o)) W_O."""
        return self.o_proj(silu(self.g_proj(u)) * self.g_norm(o).flatten(-2))

    # --- whole sequence (chunkwise) ------------------------------------------------------------------------------
    def forward(self, u):
        """u [B, T, D] -> (out [B, T, D], [kv [B, H, d_k/H, d_v/H]]) from the zero state."""
        q, k, v, g = (t.transpose(1, 2) for t in self._project(u))       # [B, H, T, d]
        o, S = linattn.chunked(q, k, v, g, chunk=self.chunk, levels=self.scan_levels)
        return self._out(u, o.transpose(1, 2)), [S]

    # --- one token (the recurrence) ------------------------------------------------------------------------------
    def step(self, u, states):
        """u [B, D], states [kv]: S <- diag(alpha) S + k^T v, o = q S."""
        q, k, v, g = self._project(u)
        o, S = linattn.step(states[0], q, k, v, g)
        return self._out(u, o), [S]


class Model(CausalLM):
    """GLA Transformer layers (GLA, then SwiGLU, each in an RMSNorm pre-norm residual) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d = c["d_model"]
        layers = [[GatedLinearAttention(d, c["n_heads"], c["expand_k"], c["expand_v"], c["gate_rank"], c["gate_tau"],
                                        c["chunk"], c["scan_levels"]),
                   Stateless(SwiGLU(d, swiglu_hidden(d, c["ffn_mult"])))] for _ in range(c["n_layers"])]
        super().__init__(vocab, d, layers)
        self.config = c
