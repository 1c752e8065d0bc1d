"""Mega (Moving Average Equipped Gated Attention), Mega-chunk variant, plain PyTorch reference for ssmbench.

After Ma, Zhou, Kong, He, Gui, Neubig, May and Zettlemoyer, "Mega: Moving Average Equipped Gated Attention",
ICLR 2023, arXiv 2209.10655 (Section 3; Mega-chunk in Section 3.5). A layer is the Mega sub-layer (its own norm
and gated residual) followed by a pre-norm residual FFN.

Multi-dimensional damped EMA (Section 3.1), per channel d with expansion dimension h (alpha, delta in (0,1) by a
sigmoid, beta, eta learned):

    u_t^(j) = beta_j x_t                                    expand each channel to h dimensions
    h_t^(j) = alpha_j u_t^(j) + (1 - alpha_j delta_j) h_{t-1}^(j)
    y_t     = sum_j eta_j h_t^(j) / sqrt(h)                 project back
    X'      = SiLU(y + omega * x)                           (the reference code's residual weight omega and SiLU)

Gated attention (Section 3.2-3.4), single head, with X the sub-layer's normed input and X' the EMA output:

    Z = SiLU(X' W_z + b_z)                 shared representation (z dims)
    Q = kappa_q * Z + mu_q,  K = kappa_k * Z + mu_k
    V = SiLU(X W_v + b_v)                  (v dims)
    O = softmax(Q K^T / sqrt(z) + b_rel) V     causal, and with Mega-chunk only within chunks of c tokens
    gamma = SiLU(X' W_gamma + b_gamma)     reset gate (v dims)
    phi   = sigmoid(X' W_phi + b_phi)      update gate (d dims)
    H^    = SiLU(X' W_h + (gamma * O) U_h + b_h)
    Y     = phi * H^ + (1 - phi) * x       the gated residual, with x the un-normed input (pre-norm)

b_rel is the simple relative-position bias, one learned scalar per offset 0..c-1 inside a chunk. W_z, W_gamma,
W_phi, W_h are one projection of X' (as the reference code). Mega-chunk splits the sequence into chunks of c
tokens at absolute positions 0, c, 2c, ... and attends only within each chunk, which makes the layer linear in
length; the EMA carries information across chunks.

Prefill: the EMA is a real diagonal LTI SSM with h states per channel (lambda = 1 - alpha delta, b = alpha beta,
c = eta / sqrt(h)), run by ssmbench_trainer.gatedscan.lti_chunked (Toeplitz matmul within chunks of Q tokens,
doubling scan across chunks with a fixed number of levels when exported: chunk * 2^scan_levels tokens); the
attention pads the sequence on the right to whole chunks (at least two: the count stays symbolic) and keeps the
first T positions. Everything exports with a dynamic length.

The step keeps, per layer: the EMA state [batch, d, h]; the keys [batch, c, z] and values [batch, c, v] of the
current chunk in a fixed buffer of c slots (slot i holds the chunk's i-th token; later slots are zero); and the
number of the chunk's tokens seen so far, n in 0..c, as float32 [batch, 1]. A step with n = c starts a new chunk
(clears the buffer); otherwise it writes slot n, attends over slots 0..n, and sets n <- n + 1. So the state has a
fixed size (c tokens of keys and values), and a prefill of T tokens leaves the last chunk's first
((T - 1) mod c) + 1 keys and values in it.

Deviations: the FFN is the shared GELU MLP (Mega's normalised FFN uses SiLU); the tied head of the shared shell;
softmax attention (the paper also uses laplace or relu^2 on some tasks).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer.gatedscan import lti_chunked, lti_step, n_chunks
from ssmbench_trainer.lm import CausalLM, GeluMLP, Stateless, make_norm, state

FAMILY = "mega"
VARIANT = "mega-chunk (multi-dimensional damped EMA + chunked single-head gated attention)"
PAPER = {"title": "Mega: Moving Average Equipped Gated Attention", "arxiv": "2209.10655"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "z_dim": 32,          # shared representation (query/key) size
    "v_dim": 128,         # value / attention output size (2 d_model)
    "ema_dim": 16,        # h: EMA expansion dimension per channel
    "chunk": 32,          # c: Mega-chunk attention chunk (also the EMA scan's chunk)
    "ffn_factor": 2,      # FFN hidden = ffn_factor * d_model
    "scan_levels": 16,    # exported prefill handles up to chunk * 2^scan_levels tokens (2M)
    "norm": "layer",
}


class MultiDimEMA(nn.Module):
    """The damped EMA with expansion h per channel, as a real diagonal LTI SSM. State: [B, d, h]."""

    def __init__(self, d: int, h: int):
        super().__init__()
        self.h = h
        self.delta = nn.Parameter(torch.randn(d, h) * 0.2)        # delta = sigmoid(.)
        self.alpha = nn.Parameter(torch.randn(d, h) * 0.2)        # alpha = sigmoid(.)
        sign = torch.ones(h)
        sign[1::2] = -1.0
        self.beta = nn.Parameter(torch.randn(d, h) * 0.02 + sign)
        self.eta = nn.Parameter(torch.randn(d, h))
        self.omega = nn.Parameter(torch.randn(d))

    def params(self):
        """-> log lambda, b, c [d, h] with lambda = 1 - alpha delta, b = alpha beta, c = eta / sqrt(h)."""
        a, dl = torch.sigmoid(self.alpha), torch.sigmoid(self.delta)
        return torch.log(1 - a * dl), a * self.beta, self.eta * self.h ** -0.5

    def forward(self, x, chunk: int, levels: int):
        log_lam, b, c = self.params()
        y, (s, _) = lti_chunked(x, log_lam, None, (b, None), (c, None), chunk, levels)
        return F.silu(y + self.omega * x), s

    def step(self, x, s):
        log_lam, b, c = self.params()
        y, (s, _) = lti_step(x, (s, None), log_lam, None, (b, None), (c, None))
        return F.silu(y + self.omega * x), s


class MegaChunk(nn.Module):
    """The Mega sub-layer (norm inside: its gated residual needs the un-normed input). It returns Y - x, so that the
    shell's x + f(x) is Mega's Y = phi * H^ + (1 - phi) * x. States: ema [B, d, h], chunk keys [B, c, z], chunk
    values [B, c, v], tokens of the current chunk seen [B, 1]."""

    def __init__(self, d_model: int, z_dim: int = 32, v_dim: int = 128, ema_dim: int = 16, chunk: int = 32,
                 scan_levels: int = 16, norm: str = "layer"):
        super().__init__()
        self.d, self.z, self.v, self.c, self.scan_levels = d_model, z_dim, v_dim, chunk, scan_levels
        self.norm = make_norm(norm, d_model)
        self.ema = MultiDimEMA(d_model, ema_dim)
        self.v_proj = nn.Linear(d_model, v_dim)
        self.mx_proj = nn.Linear(d_model, d_model + z_dim + v_dim + d_model)   # phi, Z, gamma, W_h X'
        self.qk_scale = nn.Parameter(torch.randn(2, z_dim) * 0.02 + 1)        # kappa_q, kappa_k
        self.qk_bias = nn.Parameter(torch.zeros(2, z_dim))                     # mu_q, mu_k
        self.h_proj = nn.Linear(v_dim, d_model)                                # U_h
        self.rel_bias = nn.Parameter(torch.randn(chunk) * 0.02)               # b_rel by offset 0..c-1

    def state_spec(self, layer: int):
        return [state("ema", layer, self.d, self.ema.h), state("chunk_key", layer, self.c, self.z),
                state("chunk_value", layer, self.c, self.v), state("chunk_len", layer, 1)]

    def _gates(self, xn, mx):
        """normed input X, EMA output X' -> phi, Q, K, V, gamma, W_h X' + b_h."""
        phi, zr, hx = torch.split(self.mx_proj(mx), [self.d, self.z + self.v, self.d], dim=-1)
        z, r = torch.split(F.silu(zr), [self.z, self.v], dim=-1)
        q = z * self.qk_scale[0] + self.qk_bias[0]
        k = z * self.qk_scale[1] + self.qk_bias[1]
        return torch.sigmoid(phi), q, k, F.silu(self.v_proj(xn)), r, hx

    def _finish(self, x, phi, o, r, hx):
        """Y - x = phi * (SiLU(hx + (gamma * O) U_h) - x)."""
        return phi * (F.silu(hx + self.h_proj(o * r)) - x)

    def forward(self, x):
        """x [B, T, d] (the residual stream, un-normed) -> (Y - x, [ema, chunk_key, chunk_value, chunk_len])."""
        B, T, _ = x.shape
        xn = self.norm(x)
        mx, ema_state = self.ema(xn, self.c, self.scan_levels)
        phi, q, k, v, r, hx = self._gates(xn, mx)
        # Mega-chunk attention: chunks at absolute positions 0, c, 2c, ...; right padding to n whole chunks.
        c = self.c
        n = n_chunks(T, c)
        pad = n * c - T
        qc, kc = (F.pad(t, (0, 0, 0, pad)).view(B, n, c, self.z) for t in (q, k))
        vc = F.pad(v, (0, 0, 0, pad)).view(B, n, c, self.v)
        i = torch.arange(c, device=x.device)
        lag = i[:, None] - i[None, :]
        bias = torch.where(lag >= 0, self.rel_bias[lag.clamp(min=0)], torch.full((), float("-inf"), dtype=x.dtype, device=x.device))
        att = torch.softmax(qc @ kc.transpose(-1, -2) * self.z ** -0.5 + bias, dim=-1)
        o = (att @ vc).reshape(B, n * c, self.v).index_select(1, torch.arange(T, device=x.device))
        # The step's buffer after T tokens: the last chunk's tokens so far.
        last = torch.arange(T, device=x.device)[-1:]                          # [1]: T - 1
        pos = last - torch.remainder(last, c) + i                               # positions of the last chunk's slots
        keep = (pos <= last).view(1, c, 1)
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        kbuf = torch.where(keep, F.pad(k, (0, 0, 0, pad)).index_select(1, pos), zero)
        vbuf = torch.where(keep, F.pad(v, (0, 0, 0, pad)).index_select(1, pos), zero)
        count = keep.to(x.dtype).sum().view(1, 1) * torch.ones(B, 1, dtype=x.dtype, device=x.device)
        return self._finish(x, phi, o, r, hx), [ema_state, kbuf, vbuf, count]

    def step(self, x, states):
        """x [B, d]: one token; a full chunk (count = c) starts a new one."""
        ema_state, kbuf, vbuf, count = states
        xn = self.norm(x)
        mx, ema_state = self.ema.step(xn, ema_state)
        phi, q, k, v, r, hx = self._gates(xn, mx)
        slot = torch.where(count >= self.c, torch.zeros_like(count), count)     # [B, 1]
        slots = torch.arange(self.c, device=x.device, dtype=x.dtype)            # [c]
        write = (slots == slot).unsqueeze(-1)                                   # [B, c, 1]
        keep = (slots < slot).unsqueeze(-1)
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        kbuf = torch.where(write, k.unsqueeze(1), torch.where(keep, kbuf, zero))
        vbuf = torch.where(write, v.unsqueeze(1), torch.where(keep, vbuf, zero))
        offset = (slot - slots).clamp(min=0).long()                             # [B, c]: position - slot index
        scores = (kbuf @ q.unsqueeze(-1)).squeeze(-1) * self.z ** -0.5 + self.rel_bias[offset]
        scores = torch.where(slots <= slot, scores, torch.full((), float("-inf"), dtype=x.dtype, device=x.device))
        o = (torch.softmax(scores, dim=-1).unsqueeze(1) @ vbuf).squeeze(1)      # [B, v]
        return self._finish(x, phi, o, r, hx), [ema_state, kbuf, vbuf, slot + 1]


class Model(CausalLM):
    """Mega layers (the Mega-chunk sub-layer, then a pre-norm residual FFN) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d = c["d_model"]
        layers = [[MegaChunk(d, c["z_dim"], c["v_dim"], c["ema_dim"], c["chunk"], c["scan_levels"], c["norm"]),
                   Stateless(GeluMLP(d, c["ffn_factor"] * d))] for _ in range(c["n_layers"])]
        super().__init__(vocab, d, layers, norm=c["norm"])
        for subs in self.layers:          # the Mega sub-layer normalises inside (its residual is gated)
            subs[0].norm = nn.Identity()
        self.config = c
