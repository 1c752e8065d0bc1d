"""LRU (Linear Recurrent Unit), plain PyTorch reference for ssmbench.

After Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu & De, "Resurrecting Recurrent Neural Networks for Long
Sequences", arXiv 2303.06349 (Section 3, Algorithm 1 / Appendix A). One LRU over H = d_model channels with N =
d_state complex hidden units:

    h_t = Lambda h_{t-1} + gamma (B u_t),      y_t = Re(C h_t) + D u_t                      (eq. 1, diagonal Lambda)
    stable exponential parameterisation (Sec. 3.3):  Lambda_j = exp(-exp(nu_log_j) + i exp(theta_log_j))
    ring initialisation (Lemma 3.2): |Lambda| uniform on the ring [r_min, r_max] in area, phase uniform in
        [0, max_phase]:  nu = -1/2 log(U (r_max^2 - r_min^2) + r_min^2),  theta = max_phase U,
        nu_log = log nu, theta_log = log theta
    normalisation (Sec. 3.4): gamma_j = exp(gamma_log_j), initialised to sqrt(1 - |Lambda_j|^2) and trained
    B = (N(0,1) + i N(0,1)) / sqrt(2H),  C = (N(0,1) + i N(0,1)) / sqrt(N),  D ~ N(0, 1)
Block (the paper's Fig. 1 and its code): y -> GELU -> GLU (W_1 g * sigmoid(W_2 g)) in a pre-norm residual
(LayerNorm); config mlp_factor > 0 adds a GELU MLP sub-layer after it.

Forms: `forward` (prefill, training) is the parallel scan (the paper's associative scan, App. A), here the chunked
log-depth scan of ssmbench_trainer.diagscan (time-invariant Lambda: log2(chunk) doubling levels inside a chunk, a
doubling scan across chunks, dynamic length on export); `step` is the recurrence, state h [B, N, 2] (complex as
(re, im) pairs: ONNX has no complex dtype). Lambda and gamma are computed in float64 from the parameters and
rounded once, so torch and onnxruntime use the same float32 Lambda (whose powers the scan takes in float64).

The layer's scan/step/output and the LM (ssmbench_trainer.lm.CausalLM: embedding, residual sub-layers, tied head,
prefill/step contract) are shared with S5 and S4D: ssmbench_trainer.diagscan.DiagSSM and DiagLM.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ssmbench_trainer import diagscan as ds
from ssmbench_trainer.lm import state

FAMILY = "lru"
VARIANT = "lru (exponential parameterisation, ring init, gamma normalisation)"
PAPER = {"title": "Resurrecting Recurrent Neural Networks for Long Sequences", "arxiv": "2303.06349"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "d_state": 64,          # N complex hidden units
    "r_min": 0.9,
    "r_max": 0.999,
    "max_phase": 2 * math.pi,
    "mlp_factor": 0,
    "chunk": 32,
    "scan_levels": 16,      # exported prefill handles up to chunk * 2^scan_levels tokens (2M)
    "norm": "layer",
}


class LRULayer(ds.DiagSSM):
    """The LRU plus D, then GELU -> GLU (forward: the chunked parallel scan; step: h <- Lambda h + gamma B u).
    State: h [B, N, 2]."""

    def __init__(self, d_model: int, d_state: int = 64, r_min: float = 0.9, r_max: float = 0.999,
                 max_phase: float = 2 * math.pi, chunk: int = 32, scan_levels: int = 16):
        super().__init__()
        H, N = d_model, d_state
        self.H, self.N, self.chunk, self.scan_levels = H, N, chunk, scan_levels
        u1, u2 = torch.rand(N, dtype=torch.float64), torch.rand(N, dtype=torch.float64)
        nu = -0.5 * torch.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)
        theta = max_phase * u2
        self.nu_log = nn.Parameter(torch.log(nu).float())
        self.theta_log = nn.Parameter(torch.log(theta).float())
        self.gamma_log = nn.Parameter(0.5 * torch.log1p(-torch.exp(-2 * nu)).float())     # log sqrt(1 - |Lambda|^2)
        self.B = nn.Parameter(torch.randn(N, H, 2) / math.sqrt(2 * H))
        self.C = nn.Parameter(torch.randn(H, N, 2) / math.sqrt(N))
        self.D = nn.Parameter(torch.randn(H))
        self.out = ds.GeluGLU(H)

    def state_spec(self, layer: int):
        return [state("ssm", layer, self.N, 2)]

    def discrete(self):
        """(Lambda [N], gamma B [N, H]) complex (re, im), computed in float64, in the parameters' dtype."""
        lam = ds.cexp((-torch.exp(self.nu_log.double()), torch.exp(self.theta_log.double())))
        lam = (lam[0].to(self.B.dtype), lam[1].to(self.B.dtype))
        gamma = torch.exp(self.gamma_log).unsqueeze(-1)
        b = ds.unstack(self.B)
        return lam, (gamma * b[0], gamma * b[1])


class Model(ds.DiagLM):
    """LRU residual blocks (plus an optional MLP) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        super().__init__(config, vocab, DEFAULT_CONFIG, lambda c: LRULayer(
            c["d_model"], c["d_state"], c["r_min"], c["r_max"], c["max_phase"], c["chunk"], c["scan_levels"]))
