"""S4D (diagonal S4), with DSS as a variant: plain PyTorch reference for ssmbench.

After Gu, Gupta, Goel & Re, "On the Parameterization and Initialization of Diagonal State Space Models",
arXiv 2206.11893, and (variant "dss" / "dss-exp") Gupta, Gu & Berant, "Diagonal State Spaces are as Effective
as Structured State Spaces", arXiv 2203.14343.

Each of the H = d_model channels is its own single-input single-output SSM with a diagonal complex state of
M = d_state / 2 modes (the other half are the complex conjugates, hence the 2 Re below):

    x'(t) = A x(t) + B u(t),  y(t) = C x(t) + D u(t)             (S4D eq. 1, A = diag(A_1..A_M))
    S4D-Lin init (Sec. 4):   A_n = -1/2 + i pi n,  C ~ N(0, 1) complex,  B = 1 (a SISO diagonal SSM only uses the
                             products B_n C_n, so B is folded into C as the authors' standalone s4d.py does)
    ZOH discretisation with a learned step Delta = exp(log_dt), log_dt ~ U[log dt_min, log dt_max] per channel:
        Abar = exp(Delta A),   Bbar = (exp(Delta A) - 1) / A                   (S4D eq. 4)
    recurrence:  h_t = Abar h_{t-1} + Bbar u_t,     y_t = 2 Re(sum_n C_n h_t,n) + D u_t
    kernel:      K_k = 2 Re(sum_n C_n Bbar_n Abar_n^k),  y = K * u + D u        (S4D eq. 5, the Vandermonde form)
    A_n is parameterised as -exp(log_A_real) + i A_imag (Re A < 0, the stable "exp" parameterisation).
    Block (as the authors' standalone S4D): y -> GELU -> Linear(H, 2H) -> GLU, in a pre-norm residual
    (LayerNorm); config mlp_factor > 0 adds a GELU MLP sub-layer after it.

DSS (variant "dss": DSS_softmax; "dss-exp": DSS_exp), Sec. 3 of 2203.14343: Lambda in C^M shared by all
channels, initialised to -1/2 + i Im(eigenvalues of the skew-symmetric part of HiPPO-LegS of size 2M) (the M
with positive imaginary part), W in C^(H x M) ~ N(0, 1), Delta per channel as above, and the kernel
    DSS_exp:      K_k = Re(sum_n W_n Lambda_n^-1 (e^(Lambda_n Delta) - 1) e^(Lambda_n Delta k)),    Re Lambda < 0
    DSS_softmax:  K_k = Re(sum_n W_n Lambda_n^-1 e^(Lambda_n Delta k) / sum_{r<L} e^(Lambda_n Delta r))
                      = Re(sum_n W_n Lambda_n^-1 (e^(Lambda_n Delta) - 1) / (e^(L Lambda_n Delta) - 1) e^(Lambda_n Delta k))
The softmax normalises over a window of L positions: here L is the fixed config "dss_length" (default 1024), not
the input length, so that the model stays causal and has a recurrent step (one deviation from the paper, whose
L is the length of the sequence being convolved). Re Lambda is unconstrained in DSS_softmax; where it becomes
positive the normaliser is computed as in the paper's code, with -Lambda and the factor e^(-(L-1) Lambda Delta),
but the recurrence then grows (|Abar| > 1) beyond L: use "dss-exp" for a model that must stay stable at any
length. DSS's reciprocal 1/z = conj(z)/(|z|^2 + 1e-7) is kept.
Both variants are the same recurrence h_t = Abar h_{t-1} + Bbar u_t, y_t = s Re(sum_n c_n h_t,n) + D u_t with
their own (Abar, Bbar, c, s): for DSS, Bbar = Lambda^-1 (e^(Lambda Delta) - 1) [/ (e^(L Lambda Delta) - 1)] and
c = W; s = 2 for S4D (conjugate pairs), 1 for DSS (its kernel takes Re, W absorbing the 2). The state is the
discretised SSM's own x_t (Bbar on the input side): it stays O(|u|), where folding Bbar into C would let it grow
like sum_k |u_k| ~ t for small Delta and cost float32 precision.

Forms (all compute the same function; test_model.py checks each against the others):
  * `step`: the recurrence, state h [B, H, M, 2] (complex as (re, im) pairs: ONNX has no complex dtype).
  * `forward` (prefill, training): a chunked convolution. Left-pad to C >= 2 chunks of Q positions; within a chunk
    y = Toeplitz(K_0..K_(Q-1)) u (a [Q, Q] matmul per channel); each chunk's end state
    U_c = sum_i Abar^(Q-1-i) Bbar u_i (a matmul); across chunks S_c = Abar^Q S_(c-1) + U_c by the shared log-depth scan
    (ssmbench_trainer.diagscan.scan_chunks); and each position adds s Re(sum_n c_n Abar_n^(j+1) S_(c-1),n). Powers of
    Abar come from the float32 Abar the step uses, computed in float64 (diagscan.powers). No FFT: the length stays
    dynamic at opset 18 and the result matches the recurrence to float32 round-off. Memory O(T H + T/Q H M).
  * `kernel(L)` + a direct causal convolution: the tests' reference for the kernel formula.

The LM (ssmbench_trainer.lm.CausalLM: embedding, residual sub-layers, tied head, prefill/step contract; layers
stacked as for S5 and LRU) is ssmbench_trainer.diagscan.DiagLM.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ssmbench_trainer import diagscan as ds
from ssmbench_trainer.lm import state

FAMILY = "s4d"
VARIANT = "s4d (S4D-Lin init, ZOH)"
VARIANTS = {"s4d": VARIANT, "dss": "dss (DSS_softmax, skew-HiPPO init)", "dss-exp": "dss-exp (DSS_exp, skew-HiPPO init)"}
PAPER = {"title": "On the Parameterization and Initialization of Diagonal State Space Models", "arxiv": "2206.11893"}
DSS_PAPER = {"title": "Diagonal State Spaces are as Effective as Structured State Spaces", "arxiv": "2203.14343"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "d_state": 64,        # N: M = N/2 complex modes per channel (conjugate pairs)
    "variant": "s4d",     # "s4d" | "dss" (DSS_softmax) | "dss-exp" (DSS_exp)
    "dt_min": 0.001,
    "dt_max": 0.1,
    "dss_length": 1024,   # DSS_softmax's normalisation window L (fixed: see the module docstring)
    "mlp_factor": 0,      # > 0: a GELU MLP sub-layer of that width factor after each S4D block
    "chunk": 32,
    "scan_levels": 16,    # exported prefill handles up to chunk * 2^scan_levels tokens (2M)
    "norm": "layer",
}
DSS_EPS = 1e-7            # DSS's bounded reciprocal


def skew_hippo_imag(m: int) -> torch.Tensor:
    """Im of the eigenvalues of the skew-symmetric part of HiPPO-LegS (size 2m), the m positive ones, largest
    first (DSS's Lambda init, with real part -1/2)."""
    x = 2 * torch.arange(2 * m, dtype=torch.float64) + 1
    hippo = torch.sqrt(x[:, None] * x[None, :]).tril(-1)
    skew = (hippo - hippo.T) / 2
    mu = torch.linalg.eigvalsh(1j * skew.to(torch.complex128))    # i K is Hermitian: eigenvalues mu, K's are -i mu
    return torch.sort(-mu, descending=True).values[:m]


def _to(z, dtype):
    return z[0].to(dtype), z[1].to(dtype)


class S4DLayer(nn.Module):
    """One S4D (or DSS) block: the SSM on every channel plus the D skip, then GELU -> Linear(H, 2H) -> GLU.
    State: h [B, H, M, 2]."""

    def __init__(self, d_model: int, d_state: int = 64, variant: str = "s4d", dt_min: float = 1e-3,
                 dt_max: float = 0.1, dss_length: int = 1024, chunk: int = 32, scan_levels: int = 16):
        super().__init__()
        assert variant in VARIANTS, f"variant must be one of {sorted(VARIANTS)}"
        assert d_state % 2 == 0, "d_state counts real dimensions: M = d_state / 2 complex modes"
        H, M = d_model, d_state // 2
        self.H, self.M, self.variant, self.chunk, self.scan_levels = H, M, variant, chunk, scan_levels
        self.dss_length = dss_length
        self.scale = 2.0 if variant == "s4d" else 1.0
        self.log_dt = nn.Parameter(math.log(dt_min) + torch.rand(H) * (math.log(dt_max) - math.log(dt_min)))
        if variant == "s4d":
            self.log_A_real = nn.Parameter(torch.full((H, M), math.log(0.5)))
            self.A_imag = nn.Parameter(math.pi * torch.arange(M, dtype=torch.float32).repeat(H, 1))
            self.C = nn.Parameter(torch.randn(H, M, 2) * math.sqrt(0.5))       # complex N(0, 1)
        else:
            im = skew_hippo_imag(M).float()
            if variant == "dss":
                self.Lambda_re = nn.Parameter(torch.full((M,), -0.5))
            else:
                self.Lambda_log_neg_re = nn.Parameter(torch.full((M,), math.log(0.5)))
            self.Lambda_im = nn.Parameter(im)
            self.W = nn.Parameter(torch.randn(H, M, 2))
        self.D = nn.Parameter(torch.randn(H))
        self.out = ds.GeluGLU(H)

    def state_spec(self, layer: int):
        return [state("ssm", layer, self.H, self.M, 2)]

    # --- the discrete system -------------------------------------------------------------------------------------
    def ssm(self):
        """(Abar, Bbar, c): the per-channel recurrence h_t = Abar h_{t-1} + Bbar u_t, y_t = s Re(c . h_t), each
        (re, im) [H, M] in the parameters' dtype. The discretisation runs in float64 from the parameters on: the
        angle Delta Im(A) reaches ~10 rad, where one float32 ulp of Delta (torch's and onnxruntime's Exp can differ
        by one) moves Abar by ~1e-6, and Abar^k by k times that."""
        out = self.log_dt.dtype
        dt = torch.exp(self.log_dt.double()).unsqueeze(-1)                     # [H, 1]
        if self.variant == "s4d":
            A = (-torch.exp(self.log_A_real.double()), self.A_imag.double())
            dtA = (dt * A[0], dt * A[1])
            bbar = ds.cdiv(ds.cexpm1(dtA), A)                                   # (e^(dt A) - 1) / A
            return _to(ds.cexp(dtA), out), _to(bbar, out), ds.unstack(self.C)
        re = self.Lambda_re.double() if self.variant == "dss" else -torch.exp(self.Lambda_log_neg_re.double())
        lam = (re, self.Lambda_im.double())
        dtl = (dt * lam[0], dt * lam[1])                                        # [H, M]
        W = ds.unstack(self.W)
        if self.variant == "dss-exp":
            return _to(ds.cexp(dtl), out), _to(ds.cdiv(ds.cexpm1(dtl), lam, DSS_EPS), out), W
        # DSS_softmax: 1 / sum_{r<L} e^(z r) = (e^z - 1) / (e^(L z) - 1), z = Lambda Delta; for Re z > 0 as
        # e^(-(L-1) z) (e^(-z) - 1) / (e^(-L z) - 1), which underflows instead of overflowing.
        L = self.dss_length
        pos = dtl[0] > 0
        one = torch.ones((), dtype=dt.dtype)
        sign = torch.where(pos, -one, one)
        z = (dtl[0] * sign, dtl[1] * sign)
        num, den = ds.cexpm1(z), ds.cexpm1((z[0] * L, z[1] * L))
        zero = torch.zeros_like(z[0])
        shift = (torch.where(pos, -(L - 1) * dtl[0], zero), torch.where(pos, -(L - 1) * dtl[1], zero))
        bbar = ds.cdiv(ds.cmul(num, ds.cexp(shift)), ds.cmul(den, lam), DSS_EPS)
        return _to(ds.cexp(dtl), out), _to(bbar, out), W

    def kernel(self, L: int) -> torch.Tensor:
        """K_k = s Re(sum_n c_n Bbar_n Abar_n^k), k < L: [H, L] (the convolution view; tests' reference)."""
        a, b, c = self.ssm()
        cb = ds.cmul(c, b)
        ca = ds.cmul((cb[0].unsqueeze(0), cb[1].unsqueeze(0)), ds.powers(a, L - 1))   # [L, H, M]
        return self.scale * ca[0].sum(-1).T

    # --- prefill: chunked convolution -----------------------------------------------------------------------------
    def ssm_forward(self, u):
        """u [B, T, H] -> (y [B, T, H] without the D skip, final state (re, im) [B, H, M])."""
        Bsz, T, H = u.shape
        Q = self.chunk
        a, b, c = self.ssm()
        C = ds.n_chunks(T, Q)
        pad = C * Q - T
        # channels lead, so every matmul below is one bmm over H of [B C, Q]-shaped blocks (no broadcast copies)
        xc = ds.left_pad(u, 1, pad).reshape(Bsz * C, Q, H).permute(2, 0, 1)      # [H, B C, Q]
        pw = ds.powers(a, Q)                                                         # Abar^0..Q: [Q+1, H, M]
        ca = ds.cmul((c[0].unsqueeze(0), c[1].unsqueeze(0)), pw)                    # c Abar^k
        cb = ds.cmul(ca, (b[0].unsqueeze(0), b[1].unsqueeze(0)))                    # c Bbar Abar^k
        K = self.scale * cb[0][:Q].sum(-1).T                                        # [H, Q]
        j = torch.arange(Q, device=u.device)
        lag = j[:, None] - j[None, :]                                                # [Q(j), Q(i)]
        toe = K.index_select(1, lag.clamp(min=0).flatten()).view(H, Q, Q) * (lag >= 0).to(u.dtype)
        y = xc @ toe.transpose(-1, -2)                                               # within chunks: [H, B C, Q]
        rev = torch.arange(Q - 1, -1, -1, device=u.device)
        ab = ds.cmul((pw[0].index_select(0, rev), pw[1].index_select(0, rev)), (b[0].unsqueeze(0), b[1].unsqueeze(0)))
        Wm = torch.cat(ab, -1).permute(1, 0, 2)                                      # Abar^(Q-1-i) Bbar: [H, Q, 2M]
        U = (xc @ Wm).view(H, Bsz, C, 2 * self.M).permute(1, 2, 0, 3)               # [B, C, H, 2M]
        # the scan on [B, C, H*M]: its multipliers broadcast over the leading axes only (fast in onnxruntime)
        U = tuple(x.reshape(Bsz, C, H * self.M) for x in (U[..., : self.M], U[..., self.M:]))
        flat = (a[0].reshape(H * self.M), a[1].reshape(H * self.M))
        S_end = ds.scan_chunks(U, flat, Q, self.scan_levels, dim=1)
        S_in = torch.cat([x.view(Bsz, C, H, self.M) for x in ds.shift_chunks(S_end, dim=1)], -1)
        V = self.scale * torch.cat([ca[0][1:], -ca[1][1:]], -1).permute(1, 2, 0)   # [H, 2M, Q]
        y = y + S_in.permute(2, 0, 1, 3).reshape(H, Bsz * C, 2 * self.M) @ V        # across chunks
        y = ds.unpad(y.reshape(H, Bsz, C * Q).permute(1, 2, 0), 1, T, pad)          # [B, T, H]
        return y, tuple(x[:, -1].view(Bsz, H, self.M) for x in S_end)

    def forward(self, u):
        y, h = self.ssm_forward(u)
        return self.out(y + self.D * u), [ds.stack(h)]

    def step(self, u, states):
        """u [B, H], states [h [B, H, M, 2]]: h <- Abar h + Bbar u, y = s Re(c . h) + D u."""
        a, b, c = self.ssm()
        x = u.unsqueeze(-1)
        h = ds.diag_step(a, ds.unstack(states[0]), (b[0] * x, b[1] * x))
        y = self.scale * (c[0] * h[0] - c[1] * h[1]).sum(-1) + self.D * u
        return self.out(y), [ds.stack(h)]


class Model(ds.DiagLM):
    """S4D (or DSS) blocks, each a pre-norm residual sub-layer (plus an optional MLP), in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        super().__init__(config, vocab, DEFAULT_CONFIG, lambda c: S4DLayer(
            c["d_model"], c["d_state"], c["variant"], c["dt_min"], c["dt_max"], c["dss_length"], c["chunk"],
            c["scan_levels"]))
        self.variant = VARIANTS[self.config["variant"]]
