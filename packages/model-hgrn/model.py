"""HGRN (Hierarchically Gated Recurrent Neural Network), plain PyTorch reference for ssmbench.

After Qin, Yang and Zhong, "Hierarchically Gated Recurrent Neural Network for Sequence Modeling", NeurIPS 2023,
arXiv 2311.04823 (Section 3). A layer is two pre-norm residual sub-layers (RMSNorm): the token mixer HGRU, then
the channel mixer GLU.

HGRU, complex-valued as the paper (Section 3.1), per token with x_t the normed input (hidden size d = d_model
complex channels, i.e. 2d real numbers):

    c_t       = SiLU(x_t W_cr + b_cr) + i SiLU(x_t W_ci + b_ci)                         input (complex)
    mu_t      = sigmoid(x_t W_mu + b_mu)
    lambda_t  = gamma^k + (1 - gamma^k) * mu_t                                            forget gate, lower-bounded
    h_t       = lambda_t * exp(i theta) * h_{t-1} + (1 - lambda_t) * c_t                  element-wise recurrence
    g_t       = sigmoid(x_t W_g + b_g)                                                    output gate (2d)
    o_t       = LayerNorm(g_t * [Re(h_t), Im(h_t)]) W_o + b_o

theta [d] is learned and data-independent (a rotation per channel, initialised at RoPE's frequencies
10000^(-2i/d)); the input gate is tied to the forget gate (1 - lambda_t), as the paper.

Lower bounds (Section 3.2): one trainable Gamma [n_layers, d] for the whole network,
    P = softmax(Gamma, dim=0) (over layers),  gamma^k = cumsum(P)_k - P_0,
so the first layer's bound is 0 and the bounds increase monotonically with depth (lower layers forget fast and model
short-range dependencies, upper layers keep long-range memory); Gamma = 0 at init gives gamma^k = k / n_layers.
Gamma lives in the Model (LowerBounds) and each HGRU reads its own row; it is the only cross-layer parameter.

GLU channel mixer: W_3 (SiLU(x W_1) * (x W_2)).

The prefill runs the recurrence as a chunked scan (ssmbench_trainer.gatedscan.diag_scan): within a chunk of Q
tokens a doubling scan, across chunks a doubling scan over the chunk ends with a fixed number of levels when
exported (chunk * 2^scan_levels tokens at most), so the length stays dynamic. It forms only products of the
decays (|lambda e^(i theta)| < 1), no division or exp of differences: no numerical guard is needed, and the step
and the prefill compute the same function. The step state is h_t as [batch, 2, d] (real and imaginary parts).

Deviations from the paper's LM: the shared shell's tied embedding head and RMSNorm pre-norms; GLU hidden size
ffn_factor * d_model.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer.gatedscan import diag_scan
from ssmbench_trainer.lm import CausalLM, Stateless, state

FAMILY = "hgrn"
VARIANT = "hgrn (complex HGRU, learned monotone lower bounds)"
PAPER = {"title": "Hierarchically Gated Recurrent Neural Network for Sequence Modeling", "arxiv": "2311.04823"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "ffn_factor": 2,      # GLU hidden = ffn_factor * d_model
    "chunk": 32,
    "scan_levels": 16,    # exported prefill handles up to chunk * 2^scan_levels tokens (2M)
    "norm": "rms",
}


class LowerBounds(nn.Module):
    """gamma^k = cumsum(softmax(Gamma, 0))_k - softmax(Gamma, 0)_0: 0 for the first layer, increasing with depth."""

    def __init__(self, n_layers: int, d: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(n_layers, d))

    def forward(self, layer: int):
        p = torch.softmax(self.gamma, dim=0)
        return (torch.cumsum(p, dim=0) - p[0])[layer]


class HGRU(nn.Module):
    """The HGRU token mixer of layer `layer`. State: h [B, 2, d] (Re, Im)."""

    def __init__(self, d_model: int, layer: int, bounds: LowerBounds, chunk: int = 32, scan_levels: int = 16):
        super().__init__()
        self.d, self.layer, self.chunk, self.scan_levels = d_model, layer, chunk, scan_levels
        self._bounds = (bounds,)                                   # shared with every layer; registered in the Model
        self.in_proj = nn.Linear(d_model, 2 * d_model)             # c: real and imaginary parts
        self.forget_proj = nn.Linear(d_model, d_model)             # mu
        self.gate_proj = nn.Linear(d_model, 2 * d_model)           # g
        self.out_norm = nn.LayerNorm(2 * d_model)
        self.out_proj = nn.Linear(2 * d_model, d_model)
        i = torch.arange(d_model, dtype=torch.float64)
        self.theta = nn.Parameter(torch.pow(10000.0, -2 * i / d_model).float())

    def state_spec(self, layer: int):
        return [state("hidden", layer, 2, self.d)]

    def _gates(self, u):
        """u [..., d] -> decay (re, im), input (re, im): a = lambda e^(i theta), x = (1 - lambda) c."""
        lb = self._bounds[0](self.layer)
        lam = lb + (1 - lb) * torch.sigmoid(self.forget_proj(u))
        c = F.silu(self.in_proj(u))
        cr, ci = c[..., : self.d], c[..., self.d:]
        return (lam * torch.cos(self.theta), lam * torch.sin(self.theta)), ((1 - lam) * cr, (1 - lam) * ci)

    def _output(self, u, hr, hi):
        g = torch.sigmoid(self.gate_proj(u))
        return self.out_proj(self.out_norm(g * torch.cat([hr, hi], dim=-1)))

    def forward(self, u):
        """u [B, T, d] -> (out [B, T, d], [h_T [B, 2, d]]), the chunked scan from the zero state."""
        a, x = self._gates(u)
        (hr, hi), (lr, li) = diag_scan(a, x, self.chunk, self.scan_levels)
        return self._output(u, hr, hi), [torch.stack([lr, li], dim=1)]

    def step(self, u, states):
        """u [B, d], states [h [B, 2, d]]: h <- lambda e^(i theta) h + (1 - lambda) c."""
        (h,) = states
        (ar, ai), (xr, xi) = self._gates(u)
        pr, pi = h[:, 0], h[:, 1]
        hr = ar * pr - ai * pi + xr
        hi = ar * pi + ai * pr + xi
        return self._output(u, hr, hi), [torch.stack([hr, hi], dim=1)]


class GLU(nn.Module):
    """W_3 (SiLU(x W_1) * x W_2), the paper's channel mixer."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(d_model, hidden)
        self.w2 = nn.Linear(d_model, hidden)
        self.w3 = nn.Linear(hidden, d_model)

    def forward(self, x):
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


class Model(CausalLM):
    """HGRN layers (HGRU then GLU, each pre-norm residual) in the shared LM shell, plus the lower bounds Gamma."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d, L = c["d_model"], c["n_layers"]
        bounds = LowerBounds(L, d)
        layers = [[HGRU(d, i, bounds, c["chunk"], c["scan_levels"]), Stateless(GLU(d, c["ffn_factor"] * d))] for i in range(L)]
        super().__init__(vocab, d, layers, norm=c["norm"])
        self.lower_bounds = bounds
        self.config = c
