"""The shared diagonal (complex) linear-recurrence scan (ssmbench_trainer/diagscan.py) against a naive loop:
time-invariant and time-varying a, lengths that are and are not multiples of the chunk, one chunk and many,
float64 exactness and float32 closeness, the complex helpers, and one ONNX export with a dynamic length."""
import math

import numpy as np
import pytest
import torch

from ssmbench_trainer import diagscan as ds

torch.set_num_threads(1)


def naive(a, b):
    """h_t = a_t h_{t-1} + b_t with torch complex numbers, a loop over time. a [*S] or [B, T, *S]."""
    a = torch.complex(*a)
    b = torch.complex(*b)
    h = torch.zeros_like(b[:, 0])
    out = []
    for t in range(b.shape[1]):
        at = a[:, t] if a.dim() == b.dim() else a
        h = at * h + b[:, t]
        out.append(h)
    return torch.stack(out, 1)


def rand_a(shape, dtype, gen, r_min=0.5, r_max=0.999):
    r = r_min + (r_max - r_min) * torch.rand(shape, generator=gen, dtype=torch.float64)
    th = 2 * math.pi * torch.rand(shape, generator=gen, dtype=torch.float64)
    return (r * torch.cos(th)).to(dtype), (r * torch.sin(th)).to(dtype)


def rand_c(shape, dtype, gen):
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype), torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)


def check(h, h_last, ref, tol):
    torch.testing.assert_close(torch.complex(*h), ref, atol=tol, rtol=tol)
    torch.testing.assert_close(torch.complex(*h_last), ref[:, -1], atol=tol, rtol=tol)


@pytest.mark.parametrize("T", [1, 2, 7, 8, 9, 16, 33, 100])
@pytest.mark.parametrize("varying", [False, True])
def test_scan_equals_loop_float64(T, varying):
    """Exact up to float64 round-off, chunk 8: one chunk, many, lengths on and off the chunk boundary."""
    g = torch.Generator().manual_seed(T + 1000 * varying)
    S = (3, 5)
    a = rand_a((2, T, *S) if varying else S, torch.float64, g)
    b = rand_c((2, T, *S), torch.float64, g)
    h, h_last = ds.diag_scan(a, b, chunk=8, levels=8)
    check(h, h_last, naive(a, b), 1e-12)


@pytest.mark.parametrize("T", [5, 64, 300])
@pytest.mark.parametrize("varying", [False, True])
def test_scan_equals_loop_float32(T, varying):
    """float32 scan vs the float32 loop (long memories, |a| up to 0.999): within 1e-5 relative to the state's size."""
    g = torch.Generator().manual_seed(T)
    S = (16,)
    a = rand_a((1, T, *S) if varying else S, torch.float32, g, r_min=0.9)
    b = rand_c((2, T, *S), torch.float32, g)
    b = (b[0] * 0.05, b[1] * 0.05)          # sqrt(1 - r^2)-sized inputs, as LRU's normalisation gives
    h, h_last = ds.diag_scan(a, b, chunk=16, levels=10)
    check(h, h_last, naive(a, b), 1e-5)


def test_broadcast_time_invariant_a():
    """A time-invariant a shaped [N] broadcasts over state axes [H, N]."""
    g = torch.Generator().manual_seed(3)
    a = rand_a((5,), torch.float64, g)
    b = rand_c((2, 21, 4, 5), torch.float64, g)
    h, h_last = ds.diag_scan(a, b, chunk=4, levels=6)
    full = tuple(x.expand(4, 5) for x in a)
    check(h, h_last, naive(full, b), 1e-12)


def test_chunk_not_a_power_of_two():
    g = torch.Generator().manual_seed(4)
    a = rand_a((3,), torch.float64, g)
    b = rand_c((1, 50, 3), torch.float64, g)
    check(*ds.diag_scan(a, b, chunk=6, levels=6), naive(a, b), 1e-12)
    av = rand_a((1, 50, 3), torch.float64, g)
    check(*ds.diag_scan(av, b, chunk=6, levels=6), naive(av, b), 1e-12)


def test_extra_levels_add_nothing():
    """The exported graph runs all `levels` across chunks; eager runs ceil(log2 C). Same result."""
    g = torch.Generator().manual_seed(5)
    a = rand_a((4,), torch.float64, g)
    U = rand_c((2, 5, 4), torch.float64, g)
    few = ds._hs_const(U, ds.pow_squares(a, 8, 3), 1)
    many = ds._hs_const(U, ds.pow_squares(a, 8, 12), 1)
    torch.testing.assert_close(torch.complex(*few), torch.complex(*many))
    a8 = tuple(x.expand(2, 5, 4) for x in ds.pow_squares(a, 8, 1)[0])
    torch.testing.assert_close(torch.complex(*few), naive(a8, U))


def test_growing_mode_levels_stay_finite():
    """|a| > 1: the multipliers of unused levels overflow; they are kept finite, so the extra levels still add
    nothing (0 * inf would be NaN)."""
    a = (torch.tensor([1.5, 0.5]), torch.tensor([0.5, 0.1]))
    sq = ds.pow_squares(a, 32, 16)
    assert all(torch.isfinite(x).all() for m in sq for x in m)
    U = (torch.randn(1, 3, 2), torch.randn(1, 3, 2))
    torch.testing.assert_close(torch.complex(*ds._hs_const(U, sq, 1)), torch.complex(*ds._hs_const(U, sq[:2], 1)))


def test_powers():
    g = torch.Generator().manual_seed(6)
    a = rand_a((7,), torch.float32, g)
    p = torch.complex(*ds.powers(a, 19))
    ac = torch.complex(*a).to(torch.complex128)
    ref = torch.stack([ac ** k for k in range(20)]).to(torch.complex64)
    torch.testing.assert_close(p, ref, atol=1e-7, rtol=1e-6)
    sq = ds.pow_squares(a, 5, 4)
    for lvl, m in enumerate(sq):
        torch.testing.assert_close(torch.complex(*m), (ac ** (5 * 2 ** lvl)).to(torch.complex64), atol=1e-7, rtol=1e-6)


def test_complex_helpers():
    g = torch.Generator().manual_seed(7)
    x, y = rand_c((50,), torch.float64, g), rand_c((50,), torch.float64, g)
    X, Y = torch.complex(*x), torch.complex(*y)
    torch.testing.assert_close(torch.complex(*ds.cmul(x, y)), X * Y)
    torch.testing.assert_close(torch.complex(*ds.cdiv(x, y)), X / Y)
    torch.testing.assert_close(torch.complex(*ds.cexp(x)), torch.exp(X))
    small = (x[0] * 1e-9, x[1] * 1e-9)
    torch.testing.assert_close(torch.complex(*ds.cexpm1(small)), torch.complex(*small) + torch.complex(*small) ** 2 / 2,
                               atol=1e-25, rtol=1e-12)
    torch.testing.assert_close(torch.complex(*ds.cexpm1(x)), torch.exp(X) - 1)
    h = rand_c((50,), torch.float64, g)
    torch.testing.assert_close(torch.complex(*ds.diag_step(x, h, y)), X * torch.complex(*h) + Y)


def test_complex_projections():
    """rc_linear: x W^T for real x and complex W; re_linear: Re(W h) for complex h."""
    g = torch.Generator().manual_seed(9)
    x = torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
    W, V = rand_c((4, 5), torch.float64, g), rand_c((5, 4), torch.float64, g)
    Wc, Vc = torch.complex(*W), torch.complex(*V)
    y = ds.rc_linear(x, W)
    torch.testing.assert_close(torch.complex(*y), x.to(torch.complex128) @ Wc.T)
    torch.testing.assert_close(ds.re_linear(y, V), (torch.complex(*y) @ Vc.T).real)


def test_gradients_flow_through_the_scan():
    g = torch.Generator().manual_seed(8)
    lr = torch.full((4,), -0.1, dtype=torch.float64, requires_grad=True)
    th = torch.linspace(0.1, 1.0, 4, dtype=torch.float64, requires_grad=True)
    b = rand_c((2, 13, 4), torch.float64, g)
    a = ds.cexp((lr, th))
    h, _ = ds.diag_scan(a, b, chunk=4, levels=4)
    (h[0].sum() + h[1].pow(2).sum()).backward()
    ga, gt = lr.grad.clone(), th.grad.clone()
    lr.grad = th.grad = None
    ref = naive(ds.cexp((lr, th)), b)
    (ref.real.sum() + ref.imag.pow(2).sum()).backward()
    torch.testing.assert_close(ga, lr.grad)
    torch.testing.assert_close(gt, th.grad)


class _Scan(torch.nn.Module):
    """Both forms in one graph: a time-invariant a, and the same a gated per position by sigmoid(x)."""

    def __init__(self):
        super().__init__()
        self.log_r = torch.nn.Parameter(-torch.linspace(0.001, 0.5, 6))
        self.theta = torch.nn.Parameter(torch.linspace(0.0, 3.0, 6))

    def forward(self, x):                                   # x [B, T, 6]
        a = ds.cexp((self.log_r, self.theta))
        h, h_last = ds.diag_scan(a, (x, x * 0.5), chunk=16, levels=5)
        s = torch.sigmoid(x)
        g, g_last = ds.diag_scan((a[0] * s, a[1] * s), (x, -x), chunk=16, levels=5)
        return ds.stack(h), ds.stack(h_last), ds.stack(g), ds.stack(g_last)


def test_onnx_export_dynamic_length(tmp_path):
    """The scans export with a dynamic length (traced at 40; 16 * 2^5 = 512 positions at most) and onnxruntime
    matches PyTorch at 1, 37 and 300."""
    ort = pytest.importorskip("onnxruntime")
    from ssmbench_trainer.export import export_graph

    m = _Scan().eval()
    x = torch.randn(2, 40, 6)
    batch, seq = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("seq", min=1, max=512)
    path = tmp_path / "scan.onnx"
    export_graph(m, (x.clone(),), ({0: batch, 1: seq},), ["x"], ["h", "h_last", "g", "g_last"], path, {}, 18)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for T in (1, 37, 300):
        xt = torch.randn(3, T, 6)
        out = sess.run(None, {"x": xt.numpy()})
        with torch.no_grad():
            ref = m(xt)
        for o, r in zip(out, ref):
            np.testing.assert_allclose(o, r.numpy(), atol=1e-5, rtol=1e-5)
