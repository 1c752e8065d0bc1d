"""S4 (structured state space sequence model, NPLR/DPLR parameterisation): plain PyTorch reference for ssmbench.

After Gu, Goel & Re, "Efficiently Modeling Long Sequences with Structured State Spaces", arXiv 2111.00396
(Theorem 1, Algorithm 1, Appendix C), with the conventions of the authors' later code (P = Q, Lambda a complex
diagonal, conjugate symmetry). Each of the H = d_model channels is its own single-input single-output SSM with a
state of N = d_state:

    x'(t) = A x(t) + B u(t),   y(t) = C x(t) + D u(t),      A = Lambda - P P^*   (diagonal plus rank one, "DPLR")

HiPPO-LegS init (`hippo_legs`, `nplr`): A_nk = -(2n+1)^1/2 (2k+1)^1/2 (n > k), -(n+1) (n = k), 0 (n < k),
B_n = (2n+1)^1/2, P_n = (n + 1/2)^1/2. A + P P^T = -1/2 I + (skew-symmetric) is normal: its unitary
eigendecomposition V (Lambda) V^* gives Lambda = -1/2 + i omega, and in that basis A = Lambda - (V^* P)(V^* P)^*,
B -> V^* B. Since A, P and B are real the modes come in conjugate pairs: the layer keeps the M = N/2 with
omega > 0 (lambda, p, b, c, each [H, M] complex) and the full system is
    Lambda_full = [lambda, conj lambda],  P_full = [p, conj p],  B_full = [b, conj b],  C_full = [c, conj c],
which is real (the output is 2 Re(c . x)). Every channel starts from the same (lambda, p, b) and its own random
C ~ N(0, 1) complex; lambda is kept in the left half plane as -exp(log_A_real) + i A_imag; dt = exp(log_dt),
log_dt ~ U[log dt_min, log dt_max] per channel. All of lambda, p, b, c, dt and D are trained.

Bilinear discretisation (S4 eq. 3), Abar = (I - dt/2 A)^-1 (I + dt/2 A), Bbar = (I - dt/2 A)^-1 dt B. With
e = 1 / (1 - dt/2 Lambda) (elementwise) the Woodbury identity gives (I - dt/2 A)^-1 = diag(e) - rho (e P)(e P^*)
with rho = (dt/2) / (1 + dt/2 sum_n |P_n|^2 e_n) (real under conjugate symmetry), hence, exactly,
    Abar = diag(e (1 + dt/2 Lambda)) - 2 rho (e P)(P^* e),    Bbar = dt (e B - rho (e P) (P^* e B)):
a diagonal plus rank-one matrix again (`discrete`).

Forms (all compute the same function; test_model.py checks each against the others and a dense reference):
  * `step` (decoding): the recurrence on the M kept modes, O(N) per token and channel through the DPLR structure,
        x <- a x - w 2 Re(q . x) + bbar u,     y = 2 Re(c . x) + D u
    (a = e (1 + dt/2 lambda), w = 2 rho e p, q = conj(p) e; the "2 Re" is the conjugate half's contribution).
    State: x [B, H, M, 2] (complex as (re, im) pairs, as S4D, S5 and LRU store theirs): constant size, whatever the
    length. The update runs in float64 and the state is stored in float32 (the prefill's kernel is exact; over 2000
    tokens at the default dt range, float32 updates put 4e-6 between the two forms' outputs, float64 ones 7e-7).
  * `forward` in training (convolution mode), S4's Algorithm 1 at length T:
      m = the smallest power of two >= max(T, 2);
      1. C~ = C (I - Abar^m): Abar^m by binary powering of the dense real 2M x 2M form of Abar (float64);
      2. at the m roots of unity z_j = exp(-2 pi i j / m), the Cauchy kernel 1 / d_n(z_j) with
         d_n(z) = (1 - z) - dt/2 (1 + z) lambda_n: the paper's 1/(g(z) - lambda_n), g = 2/dt (1-z)/(1+z), multiplied
         through by dt/2 (1 + z), so no pole at z = -1. It is evaluated as -e_n conj(z_j) / (a_n - conj(z_j))
         (a_n = e_n (1 + dt/2 lambda_n), |a_n| < 1, |z_j| = 1): one [H, m, M] Cauchy matrix 1 / (a_n - conj z_j),
         held as one real tensor 1 / |a_n - conj z_j|^2 (`cauchy_weights`), with e_n, conj(z_j) and the
         numerators conj(a_n) - z_j applied to the weights and the sums. The four Cauchy sums k00 = C~ R B,
         k01 = C~ R P, k10 = P^* R B, k11 = P^* R P (R = diag(1 / d_n)) run over both conjugate halves: the
         conjugate half of a sum at z_j is the conjugate of the kept half's at z_(m-j);
      3. Woodbury: Khat(z) = dt (k00 - s k01 k10 / (1 + s k11)), s = dt/2 (1 + z): the truncated generating function
         sum_(k<m) K_k z^k, exact thanks to C~;
      4. K = Re(iFFT(Khat)) (K_0 .. K_(m-1), m >= T), then y = causal conv(u, K) + D u by an FFT of length 2m
         (real FFTs packed into half-length complex ones: ssmbench_trainer/fftconv.py, shared with model-hyena), in float64.
    The final state x_T = sum_k Abar^k Bbar u_(T-1-k) comes from the same Cauchy matrix: with F = iFFT of the
    reversed input (length m) and r(z) = (I - Abar z)^-1 Bbar = dt (R B - s R P k10 / (1 + s k11)),
    x_T = (I - Abar^m) sum_j F_j r(z_j)  (two [m] x [m, M] products per channel).
    Cost: O(H m M) time and memory for the Cauchy matrix (float64: 8 bytes per entry, ~0.27 GB at T = 16K with
    H = 64, M = 32), O(log m H N^3) for the powers, O(B H m log m) for the FFTs.
  * `forward` without gradients (`chunked_ssm`: the exported prefill, the PyTorch baselines, evaluation): the same
    outputs and final state from the recurrence itself, in chunks of Q = config chunk tokens on the real 2M-dim
    state s = (Re x, Im x): inside a chunk a Q x Q Toeplitz product with K_0 .. K_(Q-1); across chunks
    S_c = Abar^Q S_(c-1) + (the chunk's input) by doubling over the T/Q chunks (`chunk_states`, scan_levels
    levels); and R_i S_(c-1) for the state entering each chunk (R_i = c Abar^(i+1); the operators by doubling too,
    `chunk_operators`). All matmuls, O(T (Q + 4M + levels 4M^2 / Q)) per channel and O(T M) memory: 8-12x faster
    than the convolution mode at 16K tokens on both runtimes here, where the convolution mode's element-wise
    float64 work on [H, m, M] dominates (and needed 17 GB at T = 2^20). The length stays dynamic, up to
    chunk * 2^scan_levels.
  * `kernel(L)`: the same steps 1-4 for any L (eager; the tests compare it with C Abar^k Bbar from dense powers).

Block (as model-s4d, after the authors' standalone S4 block): y -> GELU -> Linear(H, 2H) -> GLU in a pre-norm
residual (LayerNorm); config mlp_factor > 0 adds a GELU MLP sub-layer after it. The LM is
ssmbench_trainer.diagscan.DiagLM (embedding, residual sub-layers, tied head, the prefill/step contract).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer import diagscan as ds
from ssmbench_trainer.fftconv import causal_conv, reverse_mod
from ssmbench_trainer.gatedscan import causal_toeplitz, n_chunks, n_levels, previous_chunk
from ssmbench_trainer.lm import state

FAMILY = "s4"
VARIANT = "s4 (NPLR HiPPO-LegS init, bilinear, Cauchy + Woodbury kernel)"
PAPER = {"title": "Efficiently Modeling Long Sequences with Structured State Spaces", "arxiv": "2111.00396"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "d_state": 64,         # N: M = N/2 complex modes per channel (conjugate pairs)
    "dt_min": 0.001,
    "dt_max": 0.1,
    "mlp_factor": 0,       # > 0: a GELU MLP sub-layer of that width factor after each S4 block
    "chunk": 128,          # exported prefill: the recurrence in chunks of this many tokens (module docstring),
    "scan_levels": 13,     # ... combined by 13 doubling levels: T <= 128 * 2^13 = 2^20 (export.MAX_SEQ)
    "norm": "layer",
}

Complex = tuple[torch.Tensor, torch.Tensor]


# --- HiPPO-LegS and its normal plus low-rank form ---------------------------------------------------------------
def hippo_legs(n: int):
    """(A [n, n], B [n], P [n]) of HiPPO-LegS in float64 (S4 Sec. 3.1 and Theorem 1)."""
    q = torch.sqrt(2 * torch.arange(n, dtype=torch.float64) + 1)
    A = -(q[:, None] * q[None, :]).tril(-1) - torch.diag(torch.arange(n, dtype=torch.float64) + 1)
    return A, q.clone(), torch.sqrt(torch.arange(n, dtype=torch.float64) + 0.5)


def nplr(n: int):
    """The normal plus low-rank form of HiPPO-LegS of size n (even), with conjugate symmetry.

    A + P P^T = -1/2 I + K, K skew-symmetric; -i K is Hermitian, so K = V diag(i omega) V^* with V unitary (eigh).
    Returns, for the n/2 eigenvalues with omega > 0 (ascending): lam = -1/2 + i omega, p = V^* P, b = V^* B (complex128
    [n/2]) and V [n, n/2], so that A = V_full (Lambda_full - P~ P~^*) V_full^* with V_full = [V, conj V]."""
    assert n % 2 == 0, "d_state counts real dimensions: n/2 complex modes"
    A, B, P = hippo_legs(n)
    S = A + P[:, None] * P[None, :]
    K = (S - S.T) / 2
    omega, V = torch.linalg.eigh(-1j * K.to(torch.complex128))    # -i K V = V omega  =>  K V = V (i omega)
    keep = omega > 0
    assert int(keep.sum()) == n // 2, "the skew part of HiPPO-LegS has no zero eigenvalue at even n"
    V = V[:, keep]
    lam = torch.complex(torch.full((n // 2,), -0.5, dtype=torch.float64), omega[keep])
    return lam, V.conj().T @ P.to(V.dtype), V.conj().T @ B.to(V.dtype), V


# --- complex helpers on (re, im) pairs ----------------------------------------------------------------------------
def conj(z: Complex) -> Complex:
    return z[0], -z[1]


def cinv(z: Complex) -> Complex:
    d = z[0] * z[0] + z[1] * z[1]
    return z[0] / d, -z[1] / d


def creal_dot(x: Complex, y: Complex) -> torch.Tensor:
    """Re(sum_n x_n y_n) over the last axis."""
    return (x[0] * y[0] - x[1] * y[1]).sum(-1)


def half_size(T: int) -> int:
    """m = the smallest power of two >= max(T, 2): the convolution mode's number of roots of unity."""
    return 1 << (max(T, 2) - 1).bit_length()


def chunked_prefill() -> bool:
    """Whether the prefill takes the chunked recurrence (module docstring): for every forward that needs no gradient
    (the exported graphs, the PyTorch baselines, evaluation), where it is the fastest form on both runtimes; training
    keeps the convolution mode, S4's Algorithm 1. The same function either way (tested); tests patch this to check
    both."""
    return torch.compiler.is_exporting() or not torch.is_grad_enabled()


def cauchy_weights(a: Complex, w) -> torch.Tensor:
    """1 / |a_n - w_j|^2 [H, m, M] for a (re, im) [H, M] and w = (re, im) [m] on the unit circle: the one real
    [H, m, M] tensor of the Cauchy matrix 1 / (a_n - w_j) = (conj a_n - conj w_j) / |a_n - w_j|^2, whose
    denominator |a|^2 + 1 - 2 Re(a conj w) is a rank-3 product (one matmul and a reciprocal on the large tensor
    instead of eight element-wise ops). The cancellation near the unit circle costs digits of float64's 16: on
    the trained s4-induction-heads layers (1 - |a_n| down to 1.6e-5) the kernel is within 6e-12 of the dense
    reference C Abar^k Bbar at 1K and 8K taps."""
    ar, ai = a
    pts = torch.stack([w[0], w[1], torch.ones_like(w[0])], -1)                    # [m, 3]
    coef = torch.stack([-2 * ar, -2 * ai, ar * ar + ai * ai + 1], -2)             # [H, 3, M]
    return 1 / (pts @ coef)


def cauchy_times(inv, a: Complex, w, V: Complex) -> Complex:
    """sum_n V_n (-w_j) / (a_n - w_j) [H, m, k] for V (re, im) [H, M, k] (the factor -w_j is the Cauchy kernel's
    -conj(z_j): module docstring, step 2): with the real weights (cauchy_weights), -w (conj a - conj w) inv =
    (1 - w conj a) inv since |w| = 1, so it is sum_n inv_jn V_n - w_j sum_n inv_jn conj(a_n) V_n, one matmul."""
    k = V[0].shape[-1]
    aV = ds.cmul((a[0].unsqueeze(-1), -a[1].unsqueeze(-1)), V)
    S = inv @ torch.cat([V[0], V[1], aV[0], aV[1]], -1)                           # [H, m, 4k]
    Sv, Sa = (S[..., :k], S[..., k:2 * k]), (S[..., 2 * k:3 * k], S[..., 3 * k:])
    wS = ds.cmul((w[0].view(-1, 1), w[1].view(-1, 1)), Sa)
    return Sv[0] - wS[0], Sv[1] - wS[1]


def cauchy_left(X: Complex, inv, a: Complex, w) -> Complex:
    """sum_j X_j / (a_n - w_j) [H, R, M] for X (re, im) [H, R, m]: conj(a_n) sum_j X_j inv_jn
    - sum_j (X_j conj w_j) inv_jn, one matmul."""
    R = X[0].shape[1]
    Xw = ds.cmul(X, (w[0], -w[1]))
    S = torch.cat([X[0], X[1], Xw[0], Xw[1]], 1) @ inv                           # [H, 4R, M]
    Sx, Sw = (S[:, :R], S[:, R:2 * R]), (S[:, 2 * R:3 * R], S[:, 3 * R:])
    aS = ds.cmul((a[0].unsqueeze(1), -a[1].unsqueeze(1)), Sx)
    return aS[0] - Sw[0], aS[1] - Sw[1]


def chunk_states(E, A, levels: int):
    """S_c = A S_(c-1) + E_c (S_(-1) = 0) for every chunk c: E [B, H, C, 2M], A [H, 2M, 2M]. Hillis-Steele doubling:
    level k adds A^(2^k) S_(c - 2^k), so after it S_c sums A^j E_(c-j) for j < 2^(k+1); `levels` >= log2 C (eager:
    exactly that; exported: fixed, bounding C). Each level is one matmul of every chunk's state with a 2M x 2M
    power. (torch's scan operator, one sequential ONNX Scan, does not export this step: with the batch symbolic,
    the exporter fails on the matrix product inside the loop.)"""
    C = E.shape[2]
    idx = torch.arange(C)
    zero = torch.zeros((), dtype=E.dtype)
    S = E
    for k in range(levels):
        d = 1 << k
        back = S.index_select(2, (idx - d).clamp(min=0)) @ A.transpose(-1, -2)
        S = S + torch.where((idx >= d).view(-1, 1), back, zero)
        A = A @ A
    return S


# --- the layer ----------------------------------------------------------------------------------------------------
class S4Layer(nn.Module):
    """One S4 block: the DPLR SSM on every channel plus the D skip, then GELU -> Linear(H, 2H) -> GLU.
    State: x [B, H, M, 2] (constant size)."""

    def __init__(self, d_model: int, d_state: int = 64, dt_min: float = 1e-3, dt_max: float = 0.1, chunk: int = 128,
                 scan_levels: int = 13):
        super().__init__()
        assert d_state % 2 == 0, "d_state counts real dimensions: M = d_state / 2 complex modes"
        assert chunk >= 1 and chunk & (chunk - 1) == 0, "chunk: a power of two"
        H, M = d_model, d_state // 2
        self.H, self.M, self.chunk, self.scan_levels = H, M, chunk, scan_levels
        lam, p, b, _ = nplr(d_state)
        self.log_dt = nn.Parameter(math.log(dt_min) + torch.rand(H) * (math.log(dt_max) - math.log(dt_min)))
        self.log_A_real = nn.Parameter(torch.log(-lam.real).float().repeat(H, 1))
        self.A_imag = nn.Parameter(lam.imag.float().repeat(H, 1))
        self.P = nn.Parameter(torch.view_as_real(p).float().repeat(H, 1, 1))              # [H, M, 2]
        self.B = nn.Parameter(torch.view_as_real(b).float().repeat(H, 1, 1))
        self.C = nn.Parameter(torch.randn(H, M, 2) * math.sqrt(0.5))                      # complex N(0, 1)
        self.D = nn.Parameter(torch.randn(H))
        self.out = ds.GeluGLU(H)

    def state_spec(self, layer: int):
        return [state("ssm", layer, self.H, self.M, 2)]

    # --- the continuous and the discrete system (float64) ---------------------------------------------------------
    def continuous(self):
        """(dt [H, 1], lambda, p, b, c (re, im) [H, M]) in float64."""
        dt = torch.exp(self.log_dt.double()).unsqueeze(-1)
        lam = (-torch.exp(self.log_A_real.double()), self.A_imag.double())
        return dt, lam, ds.unstack(self.P.double()), ds.unstack(self.B.double()), ds.unstack(self.C.double())

    def discrete(self):
        """Bilinear discretisation through the DPLR structure (module docstring), float64 [H, M] each:
        (a, w, q, bbar) with x <- a x - w 2 Re(q . x) + bbar u on the kept modes."""
        return self._bilinear()[1:]

    def _bilinear(self):
        """(e, a, w, q, bbar): e = 1 / (1 - dt/2 lambda) and discrete()'s four."""
        dt, lam, p, b, _ = self.continuous()
        h = dt * 0.5
        e = cinv((1 - h * lam[0], -h * lam[1]))                                   # 1 / (1 - dt/2 lambda)
        a = ds.cmul(e, (1 + h * lam[0], h * lam[1]))
        S = 2 * ((p[0] * p[0] + p[1] * p[1]) * e[0]).sum(-1, keepdim=True)       # sum over both halves of |P|^2 e
        rho = h / (1 + h * S)                                                     # [H, 1], real
        ep = ds.cmul(e, p)
        q = ds.cmul(conj(p), e)
        w = (2 * rho * ep[0], 2 * rho * ep[1])
        qb = 2 * creal_dot(q, b).unsqueeze(-1)                                     # P_full^* e B_full
        eb = ds.cmul(e, b)
        bbar = (dt * (eb[0] - rho * ep[0] * qb), dt * (eb[1] - rho * ep[1] * qb))
        return e, a, w, q, bbar

    def dense_real(self):
        """Abar as a real [H, 2M, 2M] matrix acting on (Re x, Im x) stacked (x the kept modes; the conjugate half is
        implied): x' = a x - 2 w (Re q . Re x - Im q . Im x)."""
        a, w, q, _ = self.discrete()
        diag = lambda v: torch.diag_embed(v)                                      # noqa: E731
        outer = lambda x, y: 2 * x.unsqueeze(-1) * y.unsqueeze(-2)                # noqa: E731
        top = torch.cat([diag(a[0]) - outer(w[0], q[0]), -diag(a[1]) + outer(w[0], q[1])], -1)
        bot = torch.cat([diag(a[1]) - outer(w[1], q[0]), diag(a[0]) + outer(w[1], q[1])], -1)
        return torch.cat([top, bot], -2)

    def power(self, A: torch.Tensor, m: int) -> torch.Tensor:
        """A^m (m >= 1) by binary exponentiation."""
        r = None
        while m:
            if m & 1:
                r = A if r is None else r @ A
            A, m = A @ A, m >> 1
        return r

    # --- convolution mode ---------------------------------------------------------------------------------------------
    def _generating(self, m: int, Am: torch.Tensor):
        """Steps 1-3 of the module docstring at the m roots of unity z_j, given Abar^m [H, 2M, 2M] (`power`). Returns
        Khat (re, im) [H, m], the Cauchy matrix's weights 1 / |a_n - conj z_j|^2 [H, m, M] with a (re, im) [H, M]
        (`cauchy_weights`), and conj z_j [m] and s_j beta_j (re, im) [H, m] for the final state.

        The Cauchy kernel is evaluated as 1 / d_n(z) = -e_n conj(z) / (a_n - conj(z)), a_n = e_n (1 + dt/2 lambda_n)
        the diagonal of Abar's DPLR form (|a_n| < 1 where Re lambda_n < 0, so no pole on the unit circle): the same
        numbers as 1 / (g(z) - lambda_n) scaled by 2 / (dt (1 + z)), with the per-mode factor e_n moved into the
        weights and the per-point factor conj(z) applied after the sums (half the elementwise work on [H, m, M])."""
        dt, lam, p, b, c = self.continuous()
        e, a, _, _, _ = self._bilinear()
        M = self.M
        chat = torch.cat([2 * c[0], -2 * c[1]], -1).unsqueeze(-2)                # C as a real row on (Re x, Im x)
        ct = (chat - chat @ Am).squeeze(-2)                                       # C (I - Abar^m)
        ct = (0.5 * ct[..., :M], -0.5 * ct[..., M:])                              # back to the kept modes' c~
        theta = torch.arange(m, dtype=torch.float64) * (2 * math.pi / m)
        wz = (torch.cos(theta), torch.sin(theta))                                 # conj z_j = exp(2 pi i j / m): [m]
        inv = cauchy_weights(a, wz)                                               # 1 / |a_n - conj z_j|^2: [H, m, M]
        V = [ds.cmul(ct, b), ds.cmul(ct, p), ds.cmul(conj(p), b), (p[0] * p[0] + p[1] * p[1], torch.zeros_like(p[0]))]
        V = [ds.cmul(e, v) for v in V]
        V = (torch.stack([v[0] for v in V], -1), torch.stack([v[1] for v in V], -1))    # e_n v_n: [H, M, 4]
        top = cauchy_times(inv, a, wz, V)                                         # sum_n v_n / d_n(z_j), kept half
        k = (top[0] + reverse_mod(top[0], m, 1), top[1] - reverse_mod(top[1], m, 1))   # + the conjugate half
        k00, k01, k10, k11 = [(k[0][..., i], k[1][..., i]) for i in range(4)]
        h = dt * 0.5                                                              # [H, 1]
        s = (h * (1 + wz[0]), -h * wz[1])                                         # dt/2 (1 + z_j): [H, m]
        sk = ds.cmul(s, k11)
        sbeta = ds.cmul(s, ds.cmul(k10, cinv((1 + sk[0], sk[1]))))
        corr = ds.cmul(k01, sbeta)
        khat = (dt * (k00[0] - corr[0]), dt * (k00[1] - corr[1]))
        return khat, inv, a, wz, sbeta

    def kernel(self, L: int) -> torch.Tensor:
        """K_0 .. K_(L-1) [H, L] (float64) from the generating function at the L roots of unity (eager, any L >= 2)."""
        khat = self._generating(L, self.power(self.dense_real(), L))[0]
        return torch.fft.ifft(torch.complex(*khat)).real

    def ssm_forward(self, u):
        """u [B, T, H] -> (y [B, T, H] without the D skip, final state (re, im) [B, H, M]), computed in float64:
        the convolution mode with gradients, the chunked recurrence without (chunked_prefill)."""
        if chunked_prefill():
            return self.chunked_ssm(u)
        Bsz, T, H = u.shape
        m = half_size(T)
        Am = self.power(self.dense_real(), m)
        khat, inv, a, wz, sbeta = self._generating(m, Am)
        K = torch.fft.ifft(torch.complex(*khat)).real                            # [H, m]: K_0 .. K_(m-1)
        x = u.double().transpose(1, 2)                                            # [B, H, T]
        y = causal_conv(x, K, m).transpose(1, 2)
        # final state: (I - Abar^m) sum_j F_j r(z_j), F = iFFT(reversed u), r_n(z) = dt (b_n - s beta p_n) / d_n(z),
        # 1 / d_n(z_j) = -e_n conj(z_j) Gt_jn
        Fc = torch.fft.ifft(F.pad(x.flip(-1), (0, m - T)).to(torch.complex128))
        Fw = ds.cmul((Fc.real.transpose(0, 1), Fc.imag.transpose(0, 1)), wz)      # F_j conj z_j: [H, B, m]
        Fs = ds.cmul(Fw, (sbeta[0].unsqueeze(1), sbeta[1].unsqueeze(1)))
        Y = cauchy_left((torch.cat([Fw[0], Fs[0]], 1), torch.cat([Fw[1], Fs[1]], 1)), inv, a, wz)   # . Gt: [H, 2B, M]
        dt, _, p, b, _ = self.continuous()
        e = self._bilinear()[0]
        ne = (-dt * e[0], -dt * e[1])                                            # -dt e_n: [H, M]
        b, p = ds.cmul(ne, b), ds.cmul(ne, p)
        y1, y2 = (Y[0][:, :Bsz], Y[1][:, :Bsz]), (Y[0][:, Bsz:], Y[1][:, Bsz:])
        by, py = ds.cmul((b[0].unsqueeze(1), b[1].unsqueeze(1)), y1), ds.cmul((p[0].unsqueeze(1), p[1].unsqueeze(1)), y2)
        eta = torch.cat([by[0] - py[0], by[1] - py[1]], -1)                       # [H, B, 2M]
        xi = (eta - eta @ Am.transpose(-1, -2)).transpose(0, 1)                   # (I - Abar^m) eta: [B, H, 2M]
        return y.to(u.dtype), (xi[..., : self.M].to(u.dtype), xi[..., self.M:].to(u.dtype))

    # --- chunked recurrence (the exported prefill) ------------------------------------------------------------------
    def chunk_operators(self):
        """The per-chunk operators of the real 2M-dim recurrence s_t = Abar s_(t-1) + bbar u_t, y_t = c . s_t
        (s = (Re x, Im x), c = (2 Re c, -2 Im c): the kept modes and their conjugates), for chunks of Q = self.chunk:
        P [H, Q, 2M] with P_j = Abar^j bbar; R [H, Q, 2M] with R_i = c Abar^(i+1); Abar^Q [H, 2M, 2M]; and the
        kernel K_j = c . P_j [H, Q]. By doubling: [0, L) -> [L, 2L) with Abar^L, log2(Q) matmuls each."""
        Ab = self.dense_real()
        _, _, _, bbar = self.discrete()
        c = ds.unstack(self.C.double())
        cr = torch.cat([2 * c[0], -2 * c[1]], -1)                                 # [H, 2M]
        P = torch.cat([bbar[0], bbar[1]], -1).unsqueeze(1)                        # [H, 1, 2M]
        R = cr.unsqueeze(1) @ Ab
        Ap = Ab
        while P.shape[1] < self.chunk:
            P = torch.cat([P, P @ Ap.transpose(-1, -2)], 1)
            R = torch.cat([R, R @ Ap], 1)
            Ap = Ap @ Ap
        return P, R, Ap, (P * cr.unsqueeze(1)).sum(-1)

    def chunked_ssm(self, u):
        """ssm_forward by chunks: the input padded AT THE FRONT to C >= 2 whole chunks (zeros before the first token
        leave the state at zero, so the last chunk ends on the true final state), then per chunk c, position i:
            y = sum_(k<=i) K_(i-k) u_(c,k) + R_i S_(c-1)       (a Q x Q Toeplitz product and a [2M] x [Q] one)
            S_c = Abar^Q S_(c-1) + sum_k P_(Q-1-k) u_(c,k)      (`chunk_states`: doubling over the chunks)
        All matmuls (cost: module docstring)."""
        Bsz, T, H = u.shape
        Q = self.chunk
        P, R, AQ, K = self.chunk_operators()
        C = n_chunks(T, Q)
        pad = C * Q - T
        x = F.pad(u.double().transpose(1, 2), (pad, 0)).reshape(Bsz, H, C, Q)   # [B, H, C, Q]
        y = x @ causal_toeplitz(K).transpose(-1, -2)                              # intra-chunk: [B, H, C, Q]
        E = x @ P.flip(1)                                                         # each chunk's own input: [B, H, C, 2M]
        S = chunk_states(E, AQ, n_levels(C, self.scan_levels))                    # chunk-end states: [B, H, C, 2M]
        y = y + previous_chunk(S, 2) @ R.transpose(-1, -2)                        # + the state entering each chunk
        y = y.reshape(Bsz, H, C * Q).index_select(2, torch.arange(T) + pad).transpose(1, 2)
        s = S[:, :, -1]
        return y.to(u.dtype), (s[..., : self.M].to(u.dtype), s[..., self.M:].to(u.dtype))

    def forward(self, u):
        y, h = self.ssm_forward(u)
        return self.out(y + self.D * u), [ds.stack(h)]

    def step(self, u, states):
        """u [B, H], states [x [B, H, M, 2]]: x <- a x - w 2 Re(q . x) + bbar u, y = 2 Re(c . x) + D u (float64 inside)."""
        a, w, q, bbar = self.discrete()
        x = ds.unstack(states[0].double())
        ud = u.double().unsqueeze(-1)
        r = 2 * creal_dot(q, x).unsqueeze(-1)                                      # [B, H, 1]
        ax = ds.cmul(a, x)
        x = (ax[0] - w[0] * r + bbar[0] * ud, ax[1] - w[1] * r + bbar[1] * ud)
        c = ds.unstack(self.C.double())
        y = 2 * creal_dot(c, x)
        return self.out(y.to(u.dtype) + self.D * u), [ds.stack((x[0].to(u.dtype), x[1].to(u.dtype)))]


class Model(ds.DiagLM):
    """S4 blocks, each a pre-norm residual sub-layer (plus an optional MLP), in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        super().__init__(config, vocab, DEFAULT_CONFIG, lambda c: S4Layer(
            c["d_model"], c["d_state"], c["dt_min"], c["dt_max"], c["chunk"], c["scan_levels"]))
        self.variant = VARIANT
