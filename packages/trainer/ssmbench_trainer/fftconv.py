"""Causal convolutions by real FFTs of a power-of-two length, written so that they export to ONNX and run fast in
onnxruntime (shared by model-hyena's long convolutions and model-s4's SSM kernel).

A real FFT of length 2m is done as ONE complex FFT of length m (the classic packing of a real sequence):
onnxruntime's DFT op does not exploit a real input, so this halves the transform's cost there; real and imaginary
parts travel as separate real tensors (broadcasting over a trailing axis of 2 is slow in onnxruntime).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


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
    length 2m: zero-padding both to 2m makes the circular convolution linear for t < T. Computes in u's dtype."""
    T, L = u.shape[-1], k.shape[-1]
    ur, ui, un = rfft_half(F.pad(u, (0, 2 * m - T)), m)
    kr, ki, kn = rfft_half(F.pad(k, (0, 2 * m - L)), m)
    y = irfft_half(ur * kr - ui * ki, ur * ki + ui * kr, un * kn, m, scale=0.25)    # each rfft_half is 2 X
    return y.narrow(-1, 0, T)
