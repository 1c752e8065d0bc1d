"""Activations that export to ONNX in float64 as well as float32.

A checkpoint whose float32 round-off alone exceeds the contract's 1e-4 (PyTorch float32 vs float64 of the same
weights) is exported with float64 arithmetic inside its graphs (export.py --precision float64). onnxruntime's CPU
kernels lack three ops in double: Erf (so GELU), the QuickGelu fusion it makes of x * Sigmoid(x) (so SiLU), and
Conv (so the depthwise causal convolutions of Mamba, H3, Hyena, xLSTM). For float64 inputs these functions therefore
spell the same math with plain ops (Mul, Add, Div, Exp, Where, Slice); for float32 they are torch's own, so training
and float32 exports are unchanged.
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

# torch's own functions, kept before float64_safe() may stand this module's in for them
_F_GELU, _F_SILU, _F_SOFTPLUS, _F_LOGSIGMOID, _F_CONV1D = F.gelu, F.silu, F.softplus, F.logsigmoid, F.conv1d

_TAYLOR_TERMS = 48   # erf's Maclaurin series on |x| <= 3: the last term is below 1e-17
_CF_TERMS = 64       # Laplace's continued fraction for erfc on |x| >= 3: converged to ~3e-15 at x = 3
_SPLIT = 3.0


def erf64(x: torch.Tensor) -> torch.Tensor:
    """erf from elementwise ops, max error 5e-14 over the reals (test_numerics.py checks it against math.erf).

    |x| <= 3: erf(x) = 2/sqrt(pi) * x * sum_n (-1)^n x^(2n) / (n! (2n+1))            (Horner in x^2)
    |x| >  3: erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))   (Abramowitz-Stegun 7.1.14)
    Each branch sees its argument clamped to its own range, so neither overflows where the other is selected.
    """
    c = x.new_tensor  # constants as float64 tensors: the exporter rounds bare Python floats through float32
    ax = x.abs()
    split = c(_SPLIT)
    t = torch.minimum(ax, split)
    z = t * t
    # sum_n (-z)^n / (n! (2n+1)) nested as 1/1 + (-z/1)(1/3 + (-z/2)(1/5 + ...)): every constant stays above 1e-2.
    # (The exporter drops an Add of a constant below ~1e-8 as if it were 0, so the plain coefficients 1/(n!(2n+1))
    # would lose every term past n = 10.)
    acc = torch.zeros_like(z) + c(1 / (2 * _TAYLOR_TERMS + 1))
    for n in range(_TAYLOR_TERMS, 0, -1):
        acc = c(1 / (2 * n - 1)) - z * c(1 / n) * acc
    near = c(2 / math.sqrt(math.pi)) * t * acc
    y = torch.maximum(ax, split)
    f = y
    for k in range(_CF_TERMS, 0, -1):
        f = y + c(k / 2) / f
    far = 1 - torch.exp(-y * y) / (c(math.sqrt(math.pi)) * f)
    return torch.sign(x) * torch.where(ax <= split, near, far)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """x * Phi(x) = x/2 (1 + erf(x / sqrt 2)), the exact GELU."""
    if x.dtype == torch.float64:
        return 0.5 * x * (1 + erf64(x * x.new_tensor(1 / math.sqrt(2))))
    return _F_GELU(x)


def silu(x: torch.Tensor) -> torch.Tensor:
    """x * sigmoid(x) (swish); for float64 as x / (1 + exp(-x)), which onnxruntime does not fuse into QuickGelu."""
    if x.dtype == torch.float64:
        return x / (1 + torch.exp(-x))
    return _F_SILU(x)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(x)); for float64 as max(x, 0) + log(1 + exp(-|x|)) (onnxruntime's Softplus is float32 only)."""
    if x.dtype == torch.float64:
        return torch.clamp(x, min=0) + torch.log(1 + torch.exp(-x.abs()))
    return _F_SOFTPLUS(x)


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)) in every dtype: torch exports F.logsigmoid as
    Log(Sigmoid(x)), which onnxruntime 1.30 (CPU) evaluates to -14.84 at x = -15 and -inf from x = -18 down."""
    return torch.clamp(x, max=0) - torch.log(1 + torch.exp(-x.abs()))


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """F.conv1d; for a float64 depthwise convolution (groups = channels, stride and dilation 1) as a sum of K
    shifted products, y[:, c, t] = b_c + sum_k w[c, 0, k] x[:, c, t + k] (onnxruntime's CPU Conv is float32 only).
    Any other case is torch's own."""
    one = lambda a: a in (1, (1,), [1])  # noqa: E731
    if not (x.dtype == torch.float64 and groups == x.shape[1] and weight.shape[1] == 1 and one(stride)
            and one(dilation) and isinstance(padding, (int, tuple, list))):
        return _F_CONV1D(x, weight, bias, stride, padding, dilation, groups)
    p = padding if isinstance(padding, int) else padding[0]
    if p:
        x = F.pad(x, (p, p))
    K = weight.shape[-1]
    T = x.shape[-1] - K + 1
    y = sum(x.narrow(-1, k, T) * weight[:, 0, k : k + 1] for k in range(K))
    return y if bias is None else y + bias.view(-1, 1)


@contextlib.contextmanager
def float64_safe():
    """While a float64 model is traced for export: torch.nn.functional's gelu, silu, softplus, logsigmoid and conv1d
    (and so nn.GELU, nn.SiLU, nn.Conv1d, ...) are this module's, so a family that calls torch's directly still exports float64 graphs
    onnxruntime can run (rwkv-copying's float64 export failed on a QuickGelu fusion of F.silu). Arguments this module
    does not implement (tanh-approximate GELU, softplus with beta or threshold) go to torch's own functions."""
    def gelu_(x, approximate="none"):
        return gelu(x) if approximate == "none" else _F_GELU(x, approximate=approximate)

    def silu_(x, inplace=False):
        return silu(x)

    def softplus_(x, beta=1.0, threshold=20.0):
        return softplus(x) if beta == 1 and x.dtype == torch.float64 else _F_SOFTPLUS(x, beta, threshold)

    F.gelu, F.silu, F.softplus, F.logsigmoid, F.conv1d = gelu_, silu_, softplus_, log_sigmoid, conv1d
    try:
        yield
    finally:
        F.gelu, F.silu, F.softplus, F.logsigmoid, F.conv1d = _F_GELU, _F_SILU, _F_SOFTPLUS, _F_LOGSIGMOID, _F_CONV1D
