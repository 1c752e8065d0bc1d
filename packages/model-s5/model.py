"""S5 (simplified state space layer), plain PyTorch reference for ssmbench.

After Smith, Warrington & Linderman, "Simplified State Space Layers for Sequence Modeling", arXiv 2208.04933
(Sections 3-4, Appendix B/D). One multi-input multi-output SSM per layer, over all H = d_model channels at once,
with a diagonal complex state of P = d_state dimensions shared by the channels:

    x'(t) = Lambda x(t) + B~ u(t),   y(t) = Re(C~ x(t)) + D u(t)          (eq. 3, diagonalised: Lambda in C^P)
    ZOH with a learned timescale per state, Delta_p = exp(log_step_p):                                   (eq. 6)
        Lambdabar = exp(Lambda Delta),   Bbar = Lambda^-1 (Lambdabar - 1) B~
    recurrence:  x_t = Lambdabar x_{t-1} + Bbar u_t,    y_t = Re(C~ x_t) + D u_t
    Conjugate symmetry (S5's default): the state keeps P/2 = M of the P eigenvalues, one of each conjugate
    pair, and y_t = 2 Re(C~ x_t) + D u_t.

Initialisation (Sec. 4.2, App. B.1): Lambda = eigenvalues of HiPPO-N, the normal part of HiPPO-LegS,
    A_N = A_LegS + p p^T (p_n = sqrt(n + 1/2)) = -1/2 I + S (S skew-symmetric): Lambda = -1/2 + i Im(eig(S)),
with eigenvectors V; B~ = V^-1 B (B lecun-normal, std 1/sqrt(P)), C~ = C V (C complex, each part normal with
std 1/sqrt(P)), D ~ N(0, 1), log_step ~ U[log dt_min, log dt_max]. With "blocks" J > 1 the HiPPO-N of size P/J is
repeated on J diagonal blocks (S5's block-diagonal init). Re Lambda is clipped at <= -1e-4 (S5's "clip_eigs"
option, on by default here: a recurrent LM must stay stable at any length); config clip_eigs: false turns it off.

Block (S5's "full_glu" activation): y -> GELU -> W_1 g * sigmoid(W_2 g), in a pre-norm residual (LayerNorm);
config mlp_factor > 0 adds a GELU MLP sub-layer after it.

Forms: `forward` (prefill, training) runs the parallel scan of S5 (Sec. 3.3: the associative scan over
(Lambdabar, Bbar u_t) pairs), here the chunked log-depth scan of ssmbench_trainer.diagscan (time-invariant
Lambdabar: log2(chunk) doubling levels inside a chunk, a doubling scan across chunks, dynamic length on export);
`step` is the recurrence, state x [B, M, 2] (complex as (re, im) pairs: ONNX has no complex dtype). The
discretisation runs in float64 from the parameters (see S4D's model.py: one float32 ulp of Delta, which torch
and onnxruntime can disagree on, moves Lambdabar^k by k ulps).

The layer's scan/step/output and the LM (ssmbench_trainer.lm.CausalLM: embedding, residual sub-layers, tied head,
prefill/step contract) are shared with LRU and S4D: ssmbench_trainer.diagscan.DiagSSM and DiagLM.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ssmbench_trainer import diagscan as ds
from ssmbench_trainer.lm import state

FAMILY = "s5"
VARIANT = "s5 (HiPPO-N init, ZOH, conjugate symmetry)"
PAPER = {"title": "Simplified State Space Layers for Sequence Modeling", "arxiv": "2208.04933"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "d_state": 64,        # P: M = P/2 complex states kept (conjugate symmetry)
    "blocks": 1,          # J: HiPPO-N of size P/J on J diagonal blocks
    "dt_min": 0.001,
    "dt_max": 0.1,
    "clip_eigs": True,    # Re Lambda <= -1e-4
    "mlp_factor": 0,
    "chunk": 32,
    "scan_levels": 16,    # exported prefill handles up to chunk * 2^scan_levels tokens (2M)
    "norm": "layer",
}


def hippo_n(n: int):
    """Eigen-decomposition of HiPPO-N (size n): (Lambda [n] complex128, V [n, n] unitary), Lambda sorted by its
    imaginary part, ascending (so the first n/2 hold one of each conjugate pair)."""
    q = torch.sqrt(2 * torch.arange(n, dtype=torch.float64) + 1)
    legs = -(torch.tril(q[:, None] * q[None, :]) - torch.diag(torch.arange(n, dtype=torch.float64)))  # HiPPO-LegS A
    p = torch.sqrt(torch.arange(n, dtype=torch.float64) + 0.5)
    normal = legs + p[:, None] * p[None, :]                     # -1/2 I + skew-symmetric
    re = torch.diagonal(normal).mean()                          # -1/2
    skew = normal - re * torch.eye(n, dtype=torch.float64)
    im, V = torch.linalg.eigh(skew.to(torch.complex128) * -1j)   # -i S is Hermitian: S = V diag(i im) V^H
    return torch.complex(re.expand(n), im), V


class S5Layer(ds.DiagSSM):
    """The S5 SSM (MIMO, diagonal, conjugate-symmetric) plus D, then GELU -> GLU: y = 2 Re(C~ x) + D u (forward: the
    chunked parallel scan; step: x <- Lambdabar x + Bbar u). State: x [B, M, 2]."""

    scale = 2                                                       # conjugate symmetry

    def __init__(self, d_model: int, d_state: int = 64, blocks: int = 1, dt_min: float = 1e-3, dt_max: float = 0.1,
                 clip_eigs: bool = True, chunk: int = 32, scan_levels: int = 16):
        super().__init__()
        assert d_state % (2 * blocks) == 0, "d_state must split into blocks of even size"
        H, P = d_model, d_state
        pb = P // blocks
        M = P // 2
        self.H, self.M, self.clip_eigs, self.chunk, self.scan_levels = H, M, clip_eigs, chunk, scan_levels
        lam, V = hippo_n(pb)
        lam, V = lam[: pb // 2], V[:, : pb // 2]                    # one of each conjugate pair: [pb/2], [pb, pb/2]
        lam = lam.repeat(blocks)                                    # [M]
        Vb = torch.block_diag(*[V] * blocks)                        # [P, M]
        Vinv = Vb.conj().T                                          # [M, P]
        B = torch.randn(P, H, dtype=torch.float64) / math.sqrt(P)
        C = torch.complex(torch.randn(H, P, dtype=torch.float64), torch.randn(H, P, dtype=torch.float64)) / math.sqrt(P)
        Bt, Ct = Vinv @ B.to(torch.complex128), C @ Vb              # B~ [M, H], C~ [H, M]
        self.Lambda_re = nn.Parameter(lam.real.float())
        self.Lambda_im = nn.Parameter(lam.imag.float())
        self.B = nn.Parameter(torch.view_as_real(Bt).float())      # [M, H, 2]
        self.C = nn.Parameter(torch.view_as_real(Ct).float())      # [H, M, 2]
        self.D = nn.Parameter(torch.randn(H))
        self.log_step = nn.Parameter(math.log(dt_min) + torch.rand(M) * (math.log(dt_max) - math.log(dt_min)))
        self.out = ds.GeluGLU(H)

    def state_spec(self, layer: int):
        return [state("ssm", layer, self.M, 2)]

    def lam(self):
        """Continuous Lambda (re, im) [M] in float64, Re clipped when clip_eigs."""
        re = self.Lambda_re.double()
        return (re.clamp(max=-1e-4) if self.clip_eigs else re), self.Lambda_im.double()

    def discrete(self):
        """ZOH (eq. 6): (Lambdabar [M], Bbar [M, H]), complex (re, im), in the parameters' dtype."""
        lam = self.lam()
        step = torch.exp(self.log_step.double())
        z = (lam[0] * step, lam[1] * step)
        coef = ds.cdiv(ds.cexpm1(z), lam)                           # (Lambdabar - 1) / Lambda
        bbar = ds.cmul((coef[0].unsqueeze(-1), coef[1].unsqueeze(-1)), tuple(x.double() for x in ds.unstack(self.B)))
        dt = self.B.dtype
        return tuple(x.to(dt) for x in ds.cexp(z)), tuple(x.to(dt) for x in bbar)


class Model(ds.DiagLM):
    """S5 layers, each a pre-norm residual sub-layer (plus an optional MLP), in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        super().__init__(config, vocab, DEFAULT_CONFIG, lambda c: S5Layer(
            c["d_model"], c["d_state"], c["blocks"], c["dt_min"], c["dt_max"], c["clip_eigs"], c["chunk"],
            c["scan_levels"]))
