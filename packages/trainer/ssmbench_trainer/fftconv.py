"""Causal convolutions by real FFTs of a power-of-two length, written so that they export to ONNX and run fast in
onnxruntime (shared by model-hyena's long convolutions and model-s4's SSM kernel).

Eager form (training, PyTorch baselines; causal_conv with an int m): torch.fft. A real FFT of length 2m is done as
ONE complex FFT of length m (the classic packing of a real sequence): onnxruntime's DFT op does not exploit a real
input, so this halves the transform's cost there; real and imaginary parts travel as separate real tensors
(broadcasting over a trailing axis of 2 is slow in onnxruntime).

Matmul form (causal_conv with a tuple of factors; model-hyena's exported graphs): onnxruntime's CPU DFT op is slow
(most of a 16K-token Hyena prefill), so rdft / irdft compute the same transforms as dense matmuls, the four-step
(Cooley-Tukey) decomposition over the digits of the index that FlashFFTConv uses (Fu et al., arXiv 2311.05908):
DFT_N = P . (I_M1 (x) DFT_R) . twiddle . (DFT_M1 (x) I_R), N = M1 R, recursively over R = M2 M3 (P: the digit
reversal, never applied: the spectrum stays in digit-reversed order, which a pointwise product does not mind). Each DFT
matrix is built in the graph from cos / sin of an outer product of aranges, reduced mod its size in integers and
evaluated in float64, and the factors are computed from the symbolic length (conv_factors), so one graph serves any
length. The transform is real-to-half-spectrum directly (no packing): the spectrum is kept in digit-reversed
order with the first digit cut to its non-redundant half, and the zero padding skips half of the first digit's
input and output. Both forms are tested equal (test_fftconv.py).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .gatedscan import cmul


def pow2_at_least(t: torch.Tensor) -> torch.Tensor:
    """The smallest power of two >= t (a float64 scalar tensor), computed in the graph: under torch.export a length
    is a SymInt, and log2 of a SymInt specialises it. ceil(log2 t) in float64, corrected by one where the logarithm
    rounded up."""
    m = torch.exp2(torch.ceil(torch.log2(t)))
    return torch.where(m * 0.5 >= t, m * 0.5, m)


def twiddle(m: int, like):
    """cos, sin of 2 pi k / n for k < m, n = 2m."""
    theta = (math.pi / m) * torch.arange(m, device=like.device, dtype=like.dtype)
    return torch.cos(theta), torch.sin(theta)


def reverse_mod(w, m, dim: int = -1):
    """w_{(m - k) mod m} along `dim` (slices and a flip: gathers are slow in onnxruntime)."""
    return torch.cat([w.narrow(dim, 0, 1), w.narrow(dim, 1, m - 1).flip(dim)], dim)


def rfft_half(x, m):
    """Real FFT of x [..., 2m] through one complex FFT of length m.

    w_j = x_2j + i x_2j+1,  W = FFT_m(w),  E_k = W_k + conj W_{m-k},  O_k = -i (W_k - conj W_{m-k})
    (twice the FFTs of the even and odd samples), 2 X_k = E_k + exp(-2 pi i k / 2m) O_k for k < m, 2 X_m = E_0 - O_0.
    Returns (re, im [..., m], nyquist [..., 1]) of 2 X.
    """
    W = torch.view_as_real(torch.fft.fft(torch.view_as_complex(x.unflatten(-1, (m, 2)))))
    wr, wi = W[..., 0], W[..., 1]
    vr, vi = reverse_mod(wr, m), reverse_mod(wi, m)
    er, ei = wr + vr, wi - vi
    o_re, o_im = wi + vi, vr - wr
    c, s = twiddle(m, x)
    re = er + c * o_re + s * o_im                                   # exp(-i theta) = c - i s
    im = ei + c * o_im - s * o_re
    return re, im, er.narrow(-1, 0, 1) - o_re.narrow(-1, 0, 1)


def irfft_half(re, im, nyquist, m, scale: float = 1.0):
    """x [..., 2m] = scale * irfft(X, n=2m) from X = (re + i im [..., m], nyquist [..., 1]), by one inverse FFT of
    length m: E_k = X_k + conj X_{m-k}, O_k = exp(+2 pi i k / 2m) (X_k - conj X_{m-k}), x_2j + i x_2j+1 = IFFT_m(E + i O) / 2.
    """
    vr = torch.cat([nyquist, re.narrow(-1, 1, m - 1).flip(-1)], -1)                     # X_{m-k}, X_m at k = 0
    vi = torch.cat([torch.zeros_like(nyquist), im.narrow(-1, 1, m - 1).flip(-1)], -1)
    er, ei = re + vr, im - vi
    dr, di = re - vr, im + vi
    c, s = twiddle(m, re)
    o_re, o_im = c * dr - s * di, c * di + s * dr
    W = torch.stack([er - o_im, ei + o_re], -1)
    return torch.view_as_real(torch.fft.ifft(torch.view_as_complex(W))).flatten(-2) * (0.5 * scale)


def causal_conv(u, k, m):
    """y_t = sum_{s<=t} k_{t-s} u_s for t < T: u [..., T], k [..., L] (broadcast against u), T, L <= m, by real FFTs of
    length 2m: zero-padding both to 2m makes the circular convolution linear for t < T. Computes in u's dtype.
    m an int or SymInt: torch.fft (the DFT op when exported). m a tuple: the factors of the FFT length 2m
    (conv_factors), and the transforms are rdft / irdft (matmuls)."""
    T, L = u.shape[-1], k.shape[-1]
    if isinstance(m, tuple):
        n = math.prod(m) // 2
        k = k.reshape([1] * (u.dim() - k.dim()) + list(k.shape))   # same lead rank: the spectra broadcast
        plan = dft_plan(m, u.dtype, u.device)
        ur, ui = rdft(F.pad(u, (0, n - T)), plan)
        kr, ki = rdft(F.pad(k, (0, n - L)), plan)
        return irdft(*cmul(ur, ui, kr, ki), plan).narrow(-1, 0, T)
    ur, ui, un = rfft_half(F.pad(u, (0, 2 * m - T)), m)
    kr, ki, kn = rfft_half(F.pad(k, (0, 2 * m - L)), m)
    y = irfft_half(ur * kr - ui * ki, ur * ki + ui * kr, un * kn, m, scale=0.25)    # each rfft_half is 2 X
    return y.narrow(-1, 0, T)


# --- Matrix-multiply DFT (the exported form) ----------------------------------------------------------------------

def conv_factors(T, parts: int = 4, lead: int = 8):
    """Factors (M1, .., M_parts) of the FFT length N = 2m of a causal convolution of length T (m: the smallest power
    of two >= T), for rdft / irdft. With N = 2^p, digit 1 gets the exponent floor((p + lead) / parts) and the others
    split the rest evenly: with (4, 8), M1 is 2 to 4 times the others (digit 1 costs less per entry, being real and
    half zero padding). parts >= 2; M1 >= 2 is even. The default was the fastest of 2 to 5 digits in onnxruntime
    (CPU, float64) at 16K and 64K tokens (3 digits: 10% faster at 1K, 20% slower at 64K).

    With an int T, exact ints. With a SymInt (torch.export) they are computed in the graph, as fft_half_size of
    model-hyena computes m: exponents from a float64 log2, read out as unbacked SymInts M1 = 2 h, M2, .. with the
    facts the reshapes and the padding need declared by torch._check, so the graph keeps a dynamic length."""
    if isinstance(T, int):
        p = (T - 1).bit_length() + 1
        e1 = max(1, min(p, (p + lead) // parts))
        rest = [(p - e1 + i) // (parts - 1) for i in range(parts - 1)]
        return (1 << e1, *(1 << e for e in rest))
    t = torch.full((), T, dtype=torch.float64)
    p = torch.round(torch.log2(pow2_at_least(t))) + 1                               # an exact small integer
    e1 = torch.clamp(torch.minimum(p, torch.floor((p + lead) / parts)), min=1)
    rest = [torch.floor((p - e1 + i) / (parts - 1)) for i in range(parts - 1)]
    h = torch.round(torch.exp2(e1 - 1)).to(torch.int64).item()
    ms = [torch.round(torch.exp2(e)).to(torch.int64).item() for e in rest]
    for v in (h, *ms):
        torch._check(v >= 1)
    factors = (2 * h, *ms)
    n = math.prod(factors)
    torch._check(n >= 2 * T)
    torch._check(n // 2 - T >= 0)
    return factors


def _unit_powers(e, n, dtype):
    """W_n^e = exp(-2 pi i e / n) as (re, im) in dtype for an integer tensor e: reduced mod n in integers first and
    evaluated in float64, so every entry is accurate to the working precision however large e is."""
    e = torch.remainder(e, torch.full((), n, dtype=torch.int64, device=e.device))
    # 2 pi as a float64 tensor: the exporter rounds a bare Python float through float32 (numerics.erf64)
    two_pi = torch.tensor(2 * math.pi, dtype=torch.float64, device=e.device)
    theta = e.to(torch.float64) * (two_pi / torch.full((), n, dtype=torch.float64, device=e.device))
    re, im = torch.cos(theta), -torch.sin(theta)
    return (re, im) if dtype == torch.float64 else (re.to(dtype), im.to(dtype))


def _low_digits(factors, i, device):
    """K = k1 + M1 k2 + .. + M1..M_i k_(i+1): the frequency index that digits 1 .. i+1 stand for, over their grid
    [M1/2 + 1, M2, .., M_(i+1)] (digit 1 only up to M1/2)."""
    K, stride = torch.arange(factors[0] // 2 + 1, device=device), factors[0]
    for f in factors[1 : i + 1]:
        K = K.unsqueeze(-1) + torch.arange(f, device=device) * stride
        stride = stride * f
    return K


def cmatmul(ar, ai, br, bi):
    """(ar + i ai) @ (br + i bi) -> (re, im): gatedscan.cmul's product as a matrix product."""
    return ar @ br - ai @ bi, ar @ bi + ai @ br


class DftPlan(NamedTuple):
    """The matrices of rdft / irdft for the factors (M1, .., Md) of N, built once for all the transforms of a
    convolution. first: W_M1^{k1 n1} [M1/2 + 1 (k1), M1/2 (n1)]; first_inv: the same transposed, [n1, k1].
    stages[i - 1] for digits i+1 = 2 .. d: (forward, inverse) matrices of digit i+1 with the four-step twiddle
    folded in, one per value of the lower digits: W_P^{n K}, K = _low_digits(.., i) (it includes digit i+1: k),
    n < M_(i+1), P = M1 .. M_(i+1), shaped [M1/2 + 1, M2, .., M_i, *] with * = [k, n] for a left product (middle
    digits, forward) and [n, k] for a right product (the last digit, forward); the inverse ones are the conjugate
    transposes. (The twiddle W_N^{n' K} after the lower digits factors over n' = n_(i+1) R + n'': the first factor
    is this matrix's, the second the next digit's.) Each is the outer product of the twiddle W_P^{n K_low} and the
    plain DFT matrix W_M^{nk}, so few cos / sin are evaluated. Orientations are built, not transposed:
    onnxruntime's fused transposed matmul was slow in float64."""
    factors: tuple
    first: tuple
    first_inv: tuple
    stages: list


def dft_plan(factors, dtype, device=None) -> DftPlan:
    """The DftPlan of factors (conv_factors) with matrices in dtype (computed in float64)."""
    assert len(factors) >= 2, "two digits at least"
    f64 = torch.float64
    cast = (lambda z: z) if dtype == f64 else (lambda z: (z[0].to(dtype), z[1].to(dtype)))
    h = factors[0] // 2
    k1, n1 = torch.arange(h + 1, device=device), torch.arange(h, device=device)
    first = cast(_unit_powers(k1.unsqueeze(-1) * n1, factors[0], f64))
    first_inv = cast(_unit_powers(n1.unsqueeze(-1) * k1, factors[0], f64))
    stages = []
    for i in range(1, len(factors)):
        m, last = factors[i], i == len(factors) - 1
        n = torch.arange(m, device=device)
        tr, ti = _unit_powers(_low_digits(factors, i - 1, device).unsqueeze(-1) * n, math.prod(factors[: i + 1]), f64)
        fr, fi = _unit_powers(n.unsqueeze(-1) * n, m, f64)                                  # symmetric
        kn = cmul(tr.unsqueeze(-2), ti.unsqueeze(-2), fr, fi)                                # [.., k, n]
        nk = cmul(tr.unsqueeze(-1), ti.unsqueeze(-1), fr, fi)                                # [.., n, k]
        fwd, inv = (nk, kn) if last else (kn, nk)
        stages.append((cast(fwd), cast((inv[0], -inv[1]))))
    return DftPlan(tuple(factors), first, first_inv, stages)


def rdft(x, plan: DftPlan):
    """Real DFT of length N = prod(factors) by matmuls, of a signal whose second half is zero: x [..., N/2] (its first
    half, lead dims "..." = L). Returns (re, im) [M1/2 + 1, M2, .., M_(d-1), *L, M_d]: X_k at k = k1 + M1 k2 +
    M1 M2 k3 + .. for k1 <= M1/2 and every other digit, which holds every frequency k or its mirror N - k
    (X_(N-k) = conj X_k). The digits stand outside the lead dims so that every matmul is a large one.

    Four-step (Cooley-Tukey) over the digits n = n1 R + n', k = k1 + M1 k' (R = N / M1; FlashFFTConv, arXiv
    2311.05908): X = sum_n' W_R^{n'k'} W_N^{n'k1} sum_n1 W_M1^{n1 k1} x[n1, n'], recursively over the digits of
    n', k', each digit one matmul with its DFT matrix (DftPlan). The twiddles are folded into the matrices (one per
    value of the lower digits: a batched matmul), so the data sees matmuls only, and one transpose of the real
    input. The input is real, so digit 1 needs only k1 <= M1/2 (the rest is conjugate) and, the second half being
    zero, only n1 < M1/2.
    """
    factors = plan.factors
    d, h = len(factors), factors[0] // 2
    lead = list(x.shape[:-1])
    nl = len(lead)
    x = x.reshape(lead + [h] + list(factors[1:]))
    x = x.permute(*range(nl, nl + d - 1), *range(nl), nl + d - 1)   # digits n1 .. n_(d-1), lead dims, n_d
    rest = list(x.shape[1:])
    xs = x.reshape(h, -1)
    fr, fi = plan.first
    yr, yi = (fr @ xs).reshape([h + 1] + rest), (fi @ xs).reshape([h + 1] + rest)
    for i in range(1, d):
        yr, yi = _apply_digit(yr, yi, plan.stages[i - 1][0], i, h, factors)
    out = [h + 1] + list(factors[1:-1]) + lead + [factors[-1]]
    return yr.reshape(out), yi.reshape(out)


def _apply_digit(yr, yi, g, i: int, h: int, factors):
    """Digit i+1's matrix g = (re, im) applied along its axis (i): G @ data for an inner digit, batched over the
    digits before it; data @ G for the last digit."""
    outer = [h + 1] + list(factors[1:i])
    if i < len(factors) - 1:
        shape = outer + [factors[i], -1]
        return cmatmul(*g, yr.reshape(shape), yi.reshape(shape))
    shape = outer + [-1, factors[i]]
    return cmatmul(yr.reshape(shape), yi.reshape(shape), *g)


def irdft(yr, yi, plan: DftPlan, scale: float = 1.0):
    """The first N/2 samples of scale * irfft(Y, n=N), [*L, N/2], from Y as rdft returns it
    ([M1/2 + 1, M2, .., M_(d-1), *L, M_d]): rdft's steps reversed and conjugated. The last one (digit 1) keeps only
    the real part, x = sum_k1 c_k1 Re(W_M1^{-n1 k1} Z_k1) with c = 1 at k1 = 0 and M1/2, 2 between (the conjugate
    half), for n1 < M1/2; then the one transpose back to natural order."""
    factors = plan.factors
    d, h = len(factors), factors[0] // 2
    lead = list(yr.shape[d - 1 : -1])
    nl = len(lead)
    n = math.prod(factors)
    for i in reversed(range(1, d)):                                 # with the conjugate matrices (DftPlan)
        yr, yi = _apply_digit(yr, yi, plan.stages[i - 1][1], i, h, factors)
    k1 = torch.arange(h + 1, device=yr.device)
    c = torch.where((k1 == 0) | (k1 == h), 1.0, 2.0).to(yr.dtype) * scale
    c = c / torch.full((), n, dtype=yr.dtype, device=yr.device)
    gr, gi = plan.first_inv
    x = (gr * c) @ yr.reshape(h + 1, -1) + (gi * c) @ yi.reshape(h + 1, -1)   # Re(conj(W) Z) = Wr Zr + Wi Zi
    x = x.reshape([h] + list(factors[1:-1]) + lead + [factors[-1]])
    return x.permute(*range(d - 1, d - 1 + nl), *range(d - 1), d - 1 + nl).reshape(lead + [n // 2])
