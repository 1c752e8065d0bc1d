"""Mamba-2 (SSD, state space duality), plain PyTorch reference for ssmbench.

After Dao & Gu, "Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured State Space
Duality", arXiv 2405.21060: the SSD layer (a selective SSM whose A is a scalar times the identity), its chunked
algorithm, and the Mamba-2 block (parallel projections, extra normalisation). One block in a pre-norm residual
(RMSNorm), no MLP (as the paper's LMs):

    z, xBC, dt = in_proj(u)                      (z, x: d_inner = expand * d_model; B, C: d_state; dt: one per head)
    x, B, C    = split(SiLU(causal depthwise conv1d_4(xBC)))             (x, B and C all pass the short conv)
    dt_t       = softplus(dt_t + dt_bias)         A_h = -exp(A_log_h)    (a scalar per head)
    per head h (x_t split into H heads of headdim P), the selective SSM with scalar-times-identity A:
        h_t = exp(dt_t A_h) h_{t-1} + B_t^T (dt_t x_t)          h_t in R^{N x P}
        y_t = C_t h_t + D_h x_t
    out = out_proj( RMSNorm( y * SiLU(z) ) )      (the block's extra normalisation: gated RMSNorm, after the gate)

The matrix ("dual", masked-attention) form of the same layer: y = M (dt x) with M_ts = L_ts C_t . B_s and the
1-semiseparable mask L_ts = exp(sum_{s<j<=t} dt_j A) for s <= t, 0 otherwise.
Prefill: the chunked SSD algorithm (the paper's minimal SSD code), written with matmuls in
ssmbench_trainer.linattn.chunked (the kernel shared by the linear-attention families): inside each chunk of Q the
masked form (L o C B^T)(dt x), with L from the segment sum (a masked cumsum: exact, no cancellation); the
chunk states B^T diag(decay to chunk end)(dt x); states passed across chunks by a log-depth scan; the state
entering each chunk read out by C_t exp(cumulative decay). The segment sum is exact (no decay floor). The number of
chunks stays symbolic (the ONNX prefill takes any length). Step: the recurrence above, O(1) state.

States per layer: `conv` [batch, d_inner + 2 d_state, d_conv - 1] (the last inputs of the short conv) and `ssm`
[batch, H, d_state, headdim] (h_t above; mamba_ssm stores the transpose, [H, headdim, d_state]).

Deviations: one group of B and C (ngroups = 1, as the paper's default); chunk 32 instead of 256 (CPU-sized; the
result does not depend on it); no dt clamping (mamba_ssm's default dt_limit (0, inf) does none either).
Parameter names follow mamba_ssm's Mamba2 (in_proj, conv1d, dt_bias, A_log, D, norm, out_proj).

The LM shell (embedding, residual blocks, tied head, prefill/step contract) is ssmbench_trainer.lm.CausalLM.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer import linattn
from ssmbench_trainer.lm import CausalLM, RMSNorm, state
from ssmbench_trainer.numerics import silu, softplus

FAMILY = "mamba2"
VARIANT = "mamba-2 (SSD)"
PAPER = {"title": "Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured State Space Duality",
         "arxiv": "2405.21060"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "d_state": 32,       # N
    "d_conv": 4,
    "expand": 2,         # d_inner = 128
    "headdim": 32,       # P: d_inner / headdim = 4 heads
    "chunk": 32,         # Q of the chunked SSD prefill
    "scan_levels": 16,   # the exported prefill handles up to chunk * 2^16 tokens
}


def short_conv(x, weight, bias=None):
    """Causal depthwise convolution over time from the zero state: x [B, T, D], weight [D, 1, K] (nn.Conv1d's, groups
    = D), bias [D] or None -> (y [B, T, D], state [B, D, K-1]: the last K-1 inputs, zeros before the sequence)."""
    K = weight.shape[-1]
    xp = F.pad(x.transpose(1, 2), (K - 1, 0))
    y = F.conv1d(xp, weight, bias, groups=x.shape[-1]).transpose(1, 2)
    return y, xp[:, :, -(K - 1):]


def short_conv_step(x, state, weight, bias=None):
    """One token of `short_conv`: x [B, D], state [B, D, K-1] -> (y [B, D], state')."""
    window = torch.cat([state, x.unsqueeze(-1)], dim=-1)                  # [B, D, K]
    y = (window * weight.squeeze(1)).sum(-1)
    return (y if bias is None else y + bias), window[:, :, 1:]


class Mamba2Mixer(nn.Module):
    """The Mamba-2 mixer (module docstring)."""

    def __init__(self, d_model: int, d_state: int = 32, d_conv: int = 4, expand: int = 2, headdim: int = 32,
                 chunk: int = 32, scan_levels: int = 16, A_init=(1.0, 16.0), dt_min: float = 1e-3, dt_max: float = 0.1,
                 dt_floor: float = 1e-4):
        super().__init__()
        d_inner = expand * d_model
        assert d_inner % headdim == 0, "expand * d_model must be a multiple of headdim"
        self.d_inner, self.d_state, self.d_conv, self.headdim = d_inner, d_state, d_conv, headdim
        self.n_heads = d_inner // headdim
        self.chunk, self.scan_levels = chunk, scan_levels
        self.conv_dim = d_inner + 2 * d_state
        self.in_proj = nn.Linear(d_model, 2 * d_inner + 2 * d_state + self.n_heads, bias=False)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, d_conv, groups=self.conv_dim, padding=d_conv - 1, bias=True)
        # mamba_ssm's init: dt log-uniform in [dt_min, dt_max] through dt_bias = softplus^-1(dt); A_h ~ U[1, 16].
        dt = torch.exp(torch.rand(self.n_heads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=dt_floor)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.empty(self.n_heads).uniform_(*A_init)))
        self.D = nn.Parameter(torch.ones(self.n_heads))
        for p in (self.dt_bias, self.A_log, self.D):
            p._no_weight_decay = True
        self.norm = RMSNorm(d_inner)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def state_spec(self, layer: int):
        return [state("conv", layer, self.conv_dim, self.d_conv - 1),
                state("ssm", layer, self.n_heads, self.d_state, self.headdim)]

    # --- shared pieces -------------------------------------------------------------------------------------------
    def _split(self, zxbcdt):
        return torch.split(zxbcdt, [self.d_inner, self.conv_dim, self.n_heads], dim=-1)

    def _ssm_inputs(self, xBC, dt):
        """After the conv: xBC [..., conv_dim], raw dt [..., H] -> x [..., H, P], B, C [..., N], dt [..., H],
        log-decay dt A [..., H]."""
        x, B, C = torch.split(silu(xBC), [self.d_inner, self.d_state, self.d_state], dim=-1)
        dt = softplus(dt + self.dt_bias)
        x = x.reshape(*x.shape[:-1], self.n_heads, self.headdim)
        return x, B, C, dt, dt * -torch.exp(self.A_log)

    def _out(self, y, x, z):
        """y, x [..., H, P], z [..., d_inner] -> out_proj(RMSNorm((y + D x) * SiLU(z)))."""
        y = (y + self.D.unsqueeze(-1) * x).flatten(-2)
        return self.out_proj(self.norm(y * silu(z)))

    # --- whole sequence (chunked SSD) ----------------------------------------------------------------------------
    def ssd(self, x, B, C, dt, log_decay, form: str = "chunked"):
        """x [b, T, H, P], B, C [b, T, N], dt, log_decay [b, T, H] -> (y [b, T, H, P], h_T [b, H, N, P]).
        form "chunked" (the prefill) or "quadratic": y = (L o C B^T)(dt x) over the whole sequence (tests)."""
        q, k = C.unsqueeze(1), B.unsqueeze(1)                             # [b, 1, T, N]: shared by the heads
        v = (x * dt.unsqueeze(-1)).transpose(1, 2)                        # [b, H, T, P]
        g = log_decay.transpose(1, 2)                                     # [b, H, T]
        if form == "chunked":
            y, h = linattn.chunked(q, k, v, g, chunk=self.chunk, levels=self.scan_levels)
        else:
            T = x.shape[1]
            t = torch.arange(T, device=x.device)
            cum = torch.cumsum(g, -1)
            L = torch.where(t.view(-1, 1) >= t.view(1, -1), torch.exp(cum.unsqueeze(-1) - cum.unsqueeze(-2)),
                            torch.zeros((), dtype=x.dtype))
            y = ((q @ k.transpose(-1, -2)) * L) @ v
            h = (k * torch.exp(cum[..., -1:] - cum).unsqueeze(-1)).transpose(-1, -2) @ v
        return y.transpose(1, 2), h

    def forward(self, u, form: str = "chunked"):
        """u [b, T, d_model] -> (out [b, T, d_model], [conv [b, conv_dim, d_conv-1], ssm [b, H, N, P]])."""
        z, xBC, dt = self._split(self.in_proj(u))
        xBC, conv_state = short_conv(xBC, self.conv1d.weight, self.conv1d.bias)
        x, B, C, dt, g = self._ssm_inputs(xBC, dt)
        y, h = self.ssd(x, B, C, dt, g, form)
        return self._out(y, x, z), [conv_state, h]

    # --- one token (the recurrence) ------------------------------------------------------------------------------
    def step(self, u, states):
        """u [b, d_model]; states [conv, ssm]: h <- exp(dt A) h + B^T (dt x), y = C h + D x."""
        conv_state, h = states
        z, xBC, dt = self._split(self.in_proj(u))
        xBC, conv_state = short_conv_step(xBC, conv_state, self.conv1d.weight, self.conv1d.bias)
        x, B, C, dt, g = self._ssm_inputs(xBC, dt)
        y, h = linattn.step(h, C.unsqueeze(1), B.unsqueeze(1), x * dt.unsqueeze(-1), g)
        return self._out(y, x, z), [conv_state, h]


class Model(CausalLM):
    """Mamba-2 blocks (each a mixer in an RMSNorm pre-norm residual, no MLP) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        layers = [[Mamba2Mixer(c["d_model"], c["d_state"], c["d_conv"], c["expand"], c["headdim"], c["chunk"], c["scan_levels"])]
                  for _ in range(c["n_layers"])]
        super().__init__(vocab, c["d_model"], layers)
        self.config = c
