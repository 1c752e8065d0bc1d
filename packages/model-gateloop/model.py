"""GateLoop, plain PyTorch reference for ssmbench.

After Katsch, "GateLoop: Fully Data-Controlled Linear Recurrence for Sequence Modeling", ICLR 2024, arXiv 2311.01927
(Section 3). A layer is two pre-norm residual sub-layers (RMSNorm): the GateLoop token mixer, then an FFN (GELU).

GateLoop generalises linear recurrences with fixed decays (S4, LRU, RetNet) by making the state transition a
function of the input. Per head h (H heads, d_k = d_v = d_model / H), with x_t the normed input:

    q_t = x_t W_q,   k_t = x_t W_k / sqrt(d_k),   v_t = x_t W_v
    a_t = sigmoid(x_t W_m + b_m) * exp(i (x_t W_theta + b_theta))           data-controlled complex transition
    S_t = a_t S_{t-1} + k_t^T v_t                                            (S complex [d_k, d_v])
    y_t = Re(q_t S_t)
        = sum_{s<=t} Re(prod_{s<j<=t} a_j) (q_t . k_s) v_s                 the surrogate-attention form (Sec. 3.3)
    out = W_o( GroupNorm_H(y) * SiLU(x_t W_g) )

The magnitude |a_t| in (0, 1) gates forgetting, the phase arg a_t gives data-controlled relative-positional
information (RetNet's fixed gamma e^(i theta) made input-dependent); the input gate is the key k_t, the output
gate q_t (the paper's Figure 1). Here a_t is a complex scalar per head and position. b_m starts at
logit(1 - 2^(-5-h)) (RetNet's decays) so that heads start with memories of 32 to 32 * 2^(H-1) tokens.

Prefill: the chunked form (ssmbench_trainer.gatedscan.gla_complex_chunked). Within a chunk of Q tokens, with
L_t, P_t the within-chunk cumulative log-magnitude and phase, D[t,s] = exp(L_t - L_s) cos(P_t - P_s) for s <= t
(L_t - L_s <= 0 there, so no overflow); the chunk's own state sum_s exp(L_Q - L_s) e^(i(P_Q - P_s)) k_s^T v_s;
the states across chunks by a doubling scan with a fixed number of levels when exported (chunk * 2^scan_levels
tokens at most), so the length stays dynamic. Complex numbers are real pairs throughout. The step keeps S as
[batch, 2, H, d_k, d_v] (real and imaginary parts). The phase is the identity of a linear map (as the paper); its
within-chunk cumulative sum loses float32 precision only if a head's phases grow to hundreds of radians per chunk.

Deviations: the paper's LM details beyond the operator (its exact gating, norms and FFN) are replaced by RetNet's
output path (GroupNorm per head, SiLU gate) and the shared shell (tied head, RMSNorm pre-norms, GELU FFN).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer.gatedscan import gla_complex_chunked
from ssmbench_trainer.lm import CausalLM, GeluMLP, Stateless, state, head_norm

FAMILY = "gateloop"
VARIANT = "gateloop (complex scalar transition per head)"
PAPER = {"title": "GateLoop: Fully Data-Controlled Linear Recurrence for Sequence Modeling", "arxiv": "2311.01927"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 4,
    "ffn_factor": 2,      # FFN hidden = ffn_factor * d_model
    "chunk": 32,
    "scan_levels": 16,    # exported prefill handles up to chunk * 2^scan_levels tokens (2M)
    "norm": "rms",
}


class GateLoop(nn.Module):
    """The GateLoop token mixer. State: S [B, 2, H, d_k, d_v] (Re, Im)."""

    def __init__(self, d_model: int, n_heads: int = 4, chunk: int = 32, scan_levels: int = 16, gn_eps: float = 1e-5):
        super().__init__()
        assert d_model % n_heads == 0
        self.d, self.H, self.chunk, self.scan_levels, self.gn_eps = d_model, n_heads, chunk, scan_levels, gn_eps
        self.dk = d_model // n_heads
        self.qkvg = nn.Linear(d_model, 4 * d_model, bias=False)
        self.transition = nn.Linear(d_model, 2 * n_heads)          # magnitude and phase pre-activations per head
        self.out_proj = nn.Linear(d_model, d_model, bias=False)
        self.gn_weight = nn.Parameter(torch.ones(d_model))
        self.gn_bias = nn.Parameter(torch.zeros(d_model))
        with torch.no_grad():
            gamma = 1 - torch.pow(2.0, -5.0 - torch.arange(n_heads, dtype=torch.float64))
            self.transition.bias[:n_heads] = torch.log(gamma / (1 - gamma)).float()
            self.transition.bias[n_heads:] = 0
            self.transition.weight.mul_(0.1)

    def state_spec(self, layer: int):
        return [state("gateloop", layer, 2, self.H, self.dk, self.dk)]

    def _project(self, u):
        """u [B, T, d] -> q, k, v [B, H, T, d_k], g [B, T, d], log|a|, arg a [B, H, T]."""
        B, T, _ = u.shape
        q, k, v, g = self.qkvg(u).chunk(4, dim=-1)
        heads = lambda t: t.view(B, T, self.H, self.dk).transpose(1, 2)  # noqa: E731
        m, ph = self.transition(u).transpose(1, 2).chunk(2, dim=1)
        return heads(q), heads(k) * self.dk ** -0.5, heads(v), g, F.logsigmoid(m), ph

    def _output(self, y, g):
        """y [B, T, H, d_v], g [B, T, d] -> W_o(GroupNorm_H(y) * SiLU(g))."""
        y = head_norm(y, self.gn_eps).flatten(-2) * self.gn_weight + self.gn_bias
        return self.out_proj(y * F.silu(g))

    def forward(self, u):
        """u [B, T, d] -> (out [B, T, d], [S_T [B, 2, H, d_k, d_v]]), chunked, from the zero state."""
        q, k, v, g, log_mag, phase = self._project(u)
        y, (Sr, Si) = gla_complex_chunked(q, k, v, log_mag, phase, self.chunk, self.scan_levels)
        return self._output(y.transpose(1, 2), g), [torch.stack([Sr, Si], dim=1)]

    def step(self, u, states):
        """u [B, d], states [S]: S <- a S + k^T v (complex), y = Re(q S)."""
        (S,) = states
        q, k, v, g, log_mag, phase = self._project(u.unsqueeze(1))        # [B, H, 1, .]
        mag = torch.exp(log_mag).unsqueeze(-1)                            # [B, H, 1, 1]
        ar, ai = mag * torch.cos(phase).unsqueeze(-1), mag * torch.sin(phase).unsqueeze(-1)
        Sr, Si = S[:, 0], S[:, 1]
        Sr, Si = ar * Sr - ai * Si + k.transpose(-1, -2) @ v, ar * Si + ai * Sr
        y = (q @ Sr).transpose(1, 2)                                      # [B, 1, H, d_v]
        return self._output(y, g.view(g.shape[0], 1, -1))[:, 0], [torch.stack([Sr, Si], dim=1)]


class Model(CausalLM):
    """GateLoop layers (token mixer then FFN, each pre-norm residual) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d = c["d_model"]
        layers = [[GateLoop(d, c["n_heads"], c["chunk"], c["scan_levels"]), Stateless(GeluMLP(d, c["ffn_factor"] * d))]
                  for _ in range(c["n_layers"])]
        super().__init__(vocab, d, layers, norm=c["norm"])
        self.config = c
