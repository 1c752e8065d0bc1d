"""H3 (Hungry Hungry Hippos), plain PyTorch reference for ssmbench.

After Fu, Dao, Saab, Thomas, Rudra and Re, "Hungry Hungry Hippos: Towards Language Modeling with State Space
Models", ICLR 2023, arXiv 2212.14052 (Section 3.1, Figure 1, Algorithm 1). A layer is two pre-norm residual
sub-layers (LayerNorm, as the paper): the H3 layer, then an MLP (GELU).

The H3 layer, with u the normed input [T, d], H heads of size d_h = d / H:

    Q = u W_Q,  K = u W_K,  V = u W_V
    K~ = SSM_shift(K)            shift SSM: A a shift matrix, B = e_1, so its state is a shift register of the last
                                 N_s inputs and its output K~_t = sum_{i<N_s} c_i K_{t-i} (a learned causal filter
                                 per channel of length N_s)
    per head:  KV_t = K~_t^T V_t  in R^{d_h x d_h}                 (the outer product; d_h = 1 is the paper's default)
    KV~ = SSM_diag(KV)           diagonal SSM per head, applied to each of the d_h x d_h channels:
                                 s_t = lambda s_{t-1} + b KV_t,  KV~_t = 2 Re(sum_n C_n s_t,n) + D KV_t
    O_t = Q_t KV~_t  per head    (the multiplicative interaction: q_t . row-mix of KV~)
    out = O W_O

SSM_diag is S4D (Gu et al. 2022, arXiv 2206.11893) with its S4D-Lin initialisation and zero-order hold:
A_n = -exp(A_log,n) + i A_im,n (A_log = log 1/2, A_im = pi n at init), step Delta = exp(log_dt) per head
(log_dt ~ U[log 1e-3, log 1e-1]), lambda = exp(Delta A), b = (lambda - 1) / A (B = 1), C ~ N(0, 1/2) complex;
N complex modes stand for 2N real ones (hence 2 Re). The shift SSM's D term is its filter's tap 0 and is not
kept separately.

Prefill: the shift SSM is a causal depthwise convolution of length N_s (left zero padding, so the length stays
dynamic); SSM_diag runs as a chunked scan (ssmbench_trainer.gatedscan.lti_chunked): within a chunk of Q tokens the
convolution with the SSM's kernel K_l = 2 Re(sum_n C_n b lambda_n^l) as a Q x Q Toeplitz matmul, the chunk's end
state as a matmul, chunk states combined by a doubling scan with the constant lambda^Q (fixed number of levels when
exported: chunk * 2^scan_levels tokens at most). The step keeps the shift register (the last N_s - 1 keys,
[batch, d, N_s - 1]) and the diagonal SSM state ([batch, 2, H, d_h, d_h, N]: real and imaginary parts).

Deviations: the paper's language models interleave two attention layers with H3 layers; this reference is pure
H3 (every layer an H3 layer). The shared shell's tied head; MLP hidden ffn_factor * d_model.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer.gatedscan import lti_chunked, lti_step
from ssmbench_trainer.lm import CausalLM, GeluMLP, Stateless, state

FAMILY = "h3"
VARIANT = "h3 (shift SSM + diagonal S4D SSM, outer-product heads)"
PAPER = {"title": "Hungry Hungry Hippos: Towards Language Modeling with State Space Models", "arxiv": "2212.14052"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "head_dim": 8,        # d_h: KV is a d_h x d_h outer product per head (the paper's default is 1)
    "d_state": 16,        # N complex modes of the diagonal SSM
    "shift_state": 4,     # N_s: length of the shift register (the shift SSM's state size)
    "ffn_factor": 2,      # MLP hidden = ffn_factor * d_model
    "chunk": 32,
    "scan_levels": 16,    # exported prefill handles up to chunk * 2^scan_levels tokens (2M)
    "norm": "layer",
}


class H3(nn.Module):
    """The H3 layer. States: shift register [B, d, N_s - 1], diagonal SSM [B, 2, H, d_h, d_h, N]."""

    def __init__(self, d_model: int, head_dim: int = 8, d_state: int = 16, shift_state: int = 4, chunk: int = 32,
                 scan_levels: int = 16):
        super().__init__()
        assert d_model % head_dim == 0 and shift_state >= 2
        self.d, self.dh, self.H, self.N, self.Ns = d_model, head_dim, d_model // head_dim, d_state, shift_state
        self.chunk, self.scan_levels = chunk, scan_levels
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        # shift SSM: the filter c_i over the register, per key channel (c_0 = 1 and the rest small: K~ ~ K at init)
        shift = torch.randn(d_model, shift_state) * 0.1
        shift[:, 0] = 1.0
        self.shift_kernel = nn.Parameter(shift)
        # diagonal SSM (S4D-Lin) per head
        H, N = self.H, d_state
        self.log_dt = nn.Parameter(torch.empty(H).uniform_(math.log(1e-3), math.log(1e-1)))
        self.A_log = nn.Parameter(torch.full((H, N), math.log(0.5)))
        self.A_im = nn.Parameter(math.pi * torch.arange(N, dtype=torch.float32).repeat(H, 1))
        self.C = nn.Parameter(torch.randn(2, H, N) * 0.5 ** 0.5)
        self.D = nn.Parameter(torch.randn(H))

    def state_spec(self, layer: int):
        return [state("shift", layer, self.d, self.Ns - 1), state("ssm", layer, 2, self.H, self.dh, self.dh, self.N)]

    def _ssm_params(self):
        """Per channel (head, key i, value j) -> log|lambda|, arg lambda, b, 2C: [H d_h d_h, N] each."""
        dt = torch.exp(self.log_dt).unsqueeze(-1)                 # [H, 1]
        Ar, Ai = -torch.exp(self.A_log), self.A_im                # A = Ar + i Ai
        log_mag, phase = dt * Ar, dt * Ai                         # log lambda = Delta A
        lam_i = torch.exp(log_mag) * torch.sin(phase)
        # b = (lambda - 1) / A. Re(lambda - 1) = expm1(Re) cos(Im) - 2 sin^2(Im / 2), without the cancellation of
        # lambda_r - 1 at small steps (1e-4 relative in float32 at Delta = 1e-3); expm1 from tanh, which exports.
        th = torch.tanh(log_mag / 2)
        lm1_r = 2 * th / (1 - th) * torch.cos(phase) - 2 * torch.sin(phase / 2) ** 2
        den = Ar * Ar + Ai * Ai
        br, bi = (lm1_r * Ar + lam_i * Ai) / den, (lam_i * Ar - lm1_r * Ai) / den
        rep = lambda t: t.unsqueeze(1).expand(self.H, self.dh * self.dh, self.N).reshape(-1, self.N)  # noqa: E731
        return rep(log_mag), rep(phase), (rep(br), rep(bi)), (rep(2 * self.C[0]), rep(2 * self.C[1]))

    def _kv(self, k_shift, v):
        """k~, v [..., d] -> KV [..., H d_h d_h] (per head the outer product k~_i v_j, flattened)."""
        lead = k_shift.shape[:-1]
        kv = k_shift.view(*lead, self.H, self.dh, 1) * v.view(*lead, self.H, 1, self.dh)
        return kv.reshape(*lead, -1)

    def _out(self, q, kv_t, kv):
        """q [..., d], SSM output and its input [..., H d_h d_h] -> O W_O with O_h = q_h (KV~_h + D_h KV_h)."""
        lead = q.shape[:-1]
        y = (kv_t.view(*lead, self.H, self.dh, self.dh) + self.D.view(self.H, 1, 1) * kv.view(*lead, self.H, self.dh, self.dh))
        o = (q.view(*lead, self.H, 1, self.dh) @ y).reshape(*lead, self.d)
        return self.out_proj(o)

    def forward(self, u):
        """u [B, T, d] -> (out [B, T, d], [shift [B, d, N_s - 1], ssm [B, 2, H, d_h, d_h, N]])."""
        B, T, _ = u.shape
        q, k, v = self.qkv(u).chunk(3, dim=-1)
        kp = F.pad(k.transpose(1, 2), (self.Ns - 1, 0))                       # causal: left zero padding
        shift_state = kp[:, :, -(self.Ns - 1):]
        k_shift = F.conv1d(kp, self.shift_kernel.flip(-1).unsqueeze(1), groups=self.d).transpose(1, 2)
        kv = self._kv(k_shift, v)                                              # [B, T, H d_h d_h]
        log_mag, phase, b, c = self._ssm_params()
        kv_t, (sr, si) = lti_chunked(kv, log_mag, phase, b, c, self.chunk, self.scan_levels)
        ssm_state = torch.stack([sr, si], 1).view(B, 2, self.H, self.dh, self.dh, self.N)
        return self._out(q, kv_t, kv), [shift_state, ssm_state]

    def step(self, u, states):
        """u [B, d]; states [shift register, ssm state]: one token of both SSMs."""
        shift_state, ssm_state = states
        B = u.shape[0]
        q, k, v = self.qkv(u).chunk(3, dim=-1)
        window = torch.cat([shift_state, k.unsqueeze(-1)], dim=-1)            # [B, d, N_s]: K_{t-N_s+1} .. K_t
        k_shift = (window * self.shift_kernel.flip(-1)).sum(-1)               # sum_i c_i K_{t-i}
        kv = self._kv(k_shift, v)
        log_mag, phase, b, c = self._ssm_params()
        s = ssm_state.view(B, 2, -1, self.N)
        kv_t, (sr, si) = lti_step(kv, (s[:, 0], s[:, 1]), log_mag, phase, b, c)
        return self._out(q, kv_t, kv), [window[:, :, 1:], torch.stack([sr, si], 1).view_as(ssm_state)]


class Model(CausalLM):
    """H3 layers (H3 then MLP, each pre-norm residual) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d = c["d_model"]
        layers = [[H3(d, c["head_dim"], c["d_state"], c["shift_state"], c["chunk"], c["scan_levels"]),
                   Stateless(GeluMLP(d, c["ffn_factor"] * d))] for _ in range(c["n_layers"])]
        super().__init__(vocab, d, layers, norm=c["norm"])
        self.config = c
