"""Mamba (S6 selective state space model), plain PyTorch reference for ssmbench.

After Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", arXiv 2312.00752
(Algorithm 2 and Section 3.4). One block:

    x, z   = in_proj(u)                       (expand E = 2: d_inner = 2 d_model)
    x      = SiLU(causal depthwise conv1d_4(x))
    dt,B,C = x_proj(x);  dt = softplus(dt_proj(dt))          (dt: d_inner, B and C: d_state)
    A      = -exp(A_log)                       (S4D-real init: A_n = -(n+1))
    h_t    = exp(dt_t A) * h_{t-1} + dt_t B_t x_t             (zero-order hold for A, Euler for B, eq. 4)
    y_t    = C_t . h_t + D x_t
    out    = out_proj(y * SiLU(z))

Blocks are pre-norm residual (RMSNorm), with a tied embedding / LM head.

One deviation, shared by every path (sequential, chunked, step) so they agree exactly: each step's log-decay
dt*A is clamped at >= -80/Q (Q the chunk length). It keeps exp(-cumsum) finite inside a chunk of the parallel
form (float32 holds exp(80)); at init dt*A >= -1.6, far above the floor (-2.5 at Q=32).

The LM shell (embedding, residual blocks, tied head, prefill/step contract) is ssmbench_trainer.lm.CausalLM.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer import ortops
from ssmbench_trainer.linattn import chunk_scan
from ssmbench_trainer.lm import CausalLM, state

FAMILY = "mamba"
VARIANT = "mamba-1 (S6)"
PAPER = {"title": "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", "arxiv": "2312.00752"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "d_state": 16,
    "d_conv": 4,
    "expand": 2,
    "chunk": 32,
    "scan_levels": 16,
}

class MambaMixer(nn.Module):
    """The S6 mixer. Parameter names follow transformers' MambaMixer, so weights load into either."""

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2, chunk: int = 32,
                 scan_levels: int = 16, dt_min: float = 1e-3, dt_max: float = 0.1, dt_floor: float = 1e-4):
        super().__init__()
        d_inner = expand * d_model
        self.d_inner, self.d_state, self.d_conv = d_inner, d_state, d_conv
        self.dt_rank = math.ceil(d_model / 16)
        self.chunk, self.scan_levels = chunk, scan_levels
        self.log_decay_floor = -80.0 / chunk
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, d_inner, bias=True)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)
        # S4D-real init A_n = -(n+1), stored as log (Section 3.6); D = 1.
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(d_inner))
        # dt_proj: weights ~ U(+-rank^-1/2), bias = softplus^-1(dt) with dt log-uniform in [dt_min, dt_max].
        nn.init.uniform_(self.dt_proj.weight, -self.dt_rank ** -0.5, self.dt_rank ** -0.5)
        dt = torch.exp(torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=dt_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    # --- shared pieces -------------------------------------------------------------------------------------
    def _project(self, x):
        """x (after conv+SiLU) [..., d_inner] -> dt [..., d_inner], B, C [..., d_state]."""
        dt, B, C = torch.split(self.x_proj(x), [self.dt_rank, self.d_state, self.d_state], dim=-1)
        return F.softplus(self.dt_proj(dt)), B, C

    def _log_decay(self, dt):
        A = -torch.exp(self.A_log)  # [d_inner, d_state]
        return torch.clamp(dt.unsqueeze(-1) * A, min=self.log_decay_floor)

    # --- full sequence from the zero state ------------------------------------------------------------------
    def state_spec(self, layer: int):
        return [state("conv", layer, self.d_inner, self.d_conv - 1), state("ssm", layer, self.d_inner, self.d_state)]

    def forward(self, u):
        """u [B, T, d_model] -> (out [B, T, d_model], [conv [B, d_inner, d_conv-1], ssm [B, d_inner, d_state]])."""
        x, z = self.in_proj(u).chunk(2, dim=-1)
        xp = F.pad(x.transpose(1, 2), (self.d_conv - 1, 0))  # left zero pad = causal conv from the zero state
        conv_state = xp[:, :, -(self.d_conv - 1):]
        x = F.silu(F.conv1d(xp, self.conv1d.weight, self.conv1d.bias, groups=self.d_inner)).transpose(1, 2)
        dt, B, C = self._project(x)
        y, ssm_state = self._scan_chunked(x, dt, B, C)
        y = y + x * self.D
        return self.out_proj(y * F.silu(z)), [conv_state, ssm_state]

    def _scan_chunked(self, x, dt, B, C):
        """Selective scan as a chunked parallel scan made of plain ops.

        Inside a chunk, with S_t the cumulative log-decay: h_t = exp(S_t) (h_0 + sum_{s<=t} exp(-S_s) u_s),
        u_s = dt_s x_s B_s; across chunks, a log-depth scan (chunk_scan). Returns y [B,T,D], h_T [B,D,N].
        """
        Bsz, T, D = x.shape
        N, Q = self.d_state, self.chunk
        a = self._log_decay(dt)                                    # [B, T, D, N]
        u = (dt * x).unsqueeze(-1) * B.unsqueeze(2)                 # [B, T, D, N]
        n_chunks = torch.sym_max((T + Q - 1) // Q, 2)               # >= 2 so export keeps the length symbolic
        pad = n_chunks * Q - T
        a = F.pad(a, (0, 0, 0, 0, 0, pad)).view(Bsz, n_chunks, Q, D, N)
        u = F.pad(u, (0, 0, 0, 0, 0, pad)).view(Bsz, n_chunks, Q, D, N)
        Cp = F.pad(C, (0, 0, 0, pad)).view(Bsz, n_chunks, Q, 1, N)
        S = torch.cumsum(a, dim=2)
        decay = torch.exp(S)
        local = decay * torch.cumsum(torch.exp(-S) * u, dim=2)      # state from zero at each chunk start
        carried = chunk_scan(S[:, :, -1], local[:, :, -1], self.scan_levels, dim=1)  # state at each chunk end
        prev = F.pad(carried, (0, 0, 0, 0, 1, 0))[:, :n_chunks]        # state entering each chunk
        h = local + decay * prev.unsqueeze(2)
        y = (h * Cp).sum(-1).reshape(Bsz, n_chunks * Q, D)
        keep = torch.arange(T, device=x.device)
        y = y.index_select(1, keep)
        last = h.reshape(Bsz, n_chunks * Q, D, N).index_select(1, keep[-1:]).squeeze(1)
        return y, last

    # --- one token ----------------------------------------------------------------------------------------
    def step(self, u, states):
        """u [B, d_model]; states [conv [B, d_inner, d_conv-1], ssm [B, d_inner, d_state]]."""
        conv_state, ssm_state = states
        x, z = self.in_proj(u).chunk(2, dim=-1)
        if ortops.exporting(x):                                             # one CausalConvWithState node
            x, conv_state = ortops.causal_conv_step(x, conv_state, self.conv1d.weight, self.conv1d.bias)
        else:
            window = torch.cat([conv_state, x.unsqueeze(-1)], dim=-1)      # [B, d_inner, d_conv]
            x = F.silu((window * self.conv1d.weight.squeeze(1)).sum(-1) + self.conv1d.bias)
            conv_state = window[:, :, 1:]
        dt, B, C = self._project(x)
        ssm_state = torch.exp(self._log_decay(dt)) * ssm_state + (dt * x).unsqueeze(-1) * B.unsqueeze(1)
        y = (ssm_state * C.unsqueeze(1)).sum(-1) + self.D * x
        return self.out_proj(y * F.silu(z)), [conv_state, ssm_state]


class Model(CausalLM):
    """Mamba blocks (each an S6 mixer in a pre-norm residual, no MLP) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        layers = [[MambaMixer(c["d_model"], c["d_state"], c["d_conv"], c["expand"], c["chunk"], c["scan_levels"])]
                  for _ in range(c["n_layers"])]
        super().__init__(vocab, c["d_model"], layers)
        self.config = c
