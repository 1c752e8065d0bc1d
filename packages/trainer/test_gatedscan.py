"""The chunked kernels of ssmbench_trainer.gatedscan against naive token-by-token loops (complex128 references),
at lengths that are and are not multiples of the chunk, one chunk and many; and the ONNX export of each with a
dynamic length."""
from __future__ import annotations

import pytest
import torch

from ssmbench_trainer import gatedscan as gs

torch.set_num_threads(1)
LENGTHS = [1, 2, 7, 8, 9, 16, 30, 61]
CHUNK = 8


def _c(re, im):
    return torch.complex(re, im if im is not None else torch.zeros_like(re))


def _close(a, b, tol):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def _decay(shape, dtype, complex_=True):
    """Random |a| in (0.3, 1) and phases in (-2, 2)."""
    mag = 0.3 + 0.7 * torch.rand(shape, dtype=dtype)
    if not complex_:
        return mag, None
    ph = (torch.rand(shape, dtype=dtype) - 0.5) * 4
    return mag * torch.cos(ph), mag * torch.sin(ph)


@pytest.mark.parametrize("T", LENGTHS)
@pytest.mark.parametrize("kind", ["complex", "real", "real-a-complex-x"])
def test_diag_scan_matches_loop(T, kind):
    torch.manual_seed(T)
    dt = torch.float64
    a = _decay((2, T, 3, 5), dt, complex_=kind == "complex")
    x = (torch.randn(2, T, 3, 5, dtype=dt), None if kind == "real" else torch.randn(2, T, 3, 5, dtype=dt))
    (hr, hi), (lr, li) = gs.diag_scan(a, x, CHUNK)
    A, X = _c(*a), _c(*x)
    h = torch.zeros(2, 3, 5, dtype=torch.complex128)
    ref = []
    for t in range(T):
        h = A[:, t] * h + X[:, t]
        ref.append(h)
    ref = torch.stack(ref, 1)
    _close(hr, ref.real, 1e-10)
    _close(lr, h.real, 1e-10)
    if kind == "real":
        assert hi is None and li is None
    else:
        _close(hi, ref.imag, 1e-10)
        _close(li, h.imag, 1e-10)


@pytest.mark.parametrize("T", LENGTHS)
@pytest.mark.parametrize("complex_", [True, False])
def test_lti_chunked_matches_loop(T, complex_):
    torch.manual_seed(100 + T)
    dt = torch.float64
    D, N = 4, 3
    log_mag = torch.log(0.3 + 0.69 * torch.rand(D, N, dtype=dt))
    phase = (torch.rand(D, N, dtype=dt) - 0.5) * 3 if complex_ else None
    b = (torch.randn(D, N, dtype=dt), torch.randn(D, N, dtype=dt) if complex_ else None)
    c = (torch.randn(D, N, dtype=dt), torch.randn(D, N, dtype=dt) if complex_ else None)
    u = torch.randn(2, T, D, dtype=dt)
    y, (sr, si) = gs.lti_chunked(u, log_mag, phase, b, c, CHUNK)
    lam = torch.exp(torch.complex(log_mag, phase if phase is not None else torch.zeros_like(log_mag)))
    B_, C_ = _c(*b), _c(*c)
    s = torch.zeros(2, D, N, dtype=torch.complex128)
    ref = []
    state = (torch.zeros(2, D, N, dtype=dt), torch.zeros(2, D, N, dtype=dt) if complex_ else None)
    steps = []
    for t in range(T):
        s = lam * s + B_ * u[:, t, :, None]
        ref.append((C_ * s).sum(-1).real)
        yt, state = gs.lti_step(u[:, t], state, log_mag, phase, b, c)
        steps.append(yt)
    _close(y, torch.stack(ref, 1), 1e-10)
    _close(torch.stack(steps, 1), y, 1e-10)
    _close(sr, s.real, 1e-10)
    _close(state[0], sr, 1e-10)
    if complex_:
        _close(si, s.imag, 1e-10)
        _close(state[1], si, 1e-10)
    else:
        assert si is None and state[1] is None


@pytest.mark.parametrize("T", LENGTHS)
def test_gla_complex_chunked_matches_loop(T):
    torch.manual_seed(200 + T)
    dt = torch.float64
    B, H, dk, dv = 2, 3, 4, 5
    q, k, v = torch.randn(B, H, T, dk, dtype=dt), torch.randn(B, H, T, dk, dtype=dt), torch.randn(B, H, T, dv, dtype=dt)
    log_mag = torch.log(0.3 + 0.7 * torch.rand(B, H, T, dtype=dt))
    phase = (torch.rand(B, H, T, dtype=dt) - 0.5) * 4
    o, (Sr, Si) = gs.gla_complex_chunked(q, k, v, log_mag, phase, CHUNK)
    a = torch.exp(torch.complex(log_mag, phase))
    S = torch.zeros(B, H, dk, dv, dtype=torch.complex128)
    ref = []
    for t in range(T):
        S = a[:, :, t, None, None] * S + (k[:, :, t, :, None] * v[:, :, t, None, :]).to(S.dtype)
        ref.append((q[:, :, t, None, :].to(S.dtype) @ S).squeeze(-2).real)
    _close(o, torch.stack(ref, 2), 1e-10)
    _close(Sr, S.real, 1e-10)
    _close(Si, S.imag, 1e-10)


def test_float32_many_chunks():
    """float32 over 150 chunks: each kernel stays within 1e-5 of the float64 result."""
    torch.manual_seed(7)
    T = 150 * CHUNK + 3
    a = _decay((1, T, 16), torch.float64)
    x = (torch.randn(1, T, 16, dtype=torch.float64), torch.randn(1, T, 16, dtype=torch.float64))
    wide = gs.diag_scan(a, x, CHUNK)[0]
    narrow = gs.diag_scan(tuple(t.float() for t in a), tuple(t.float() for t in x), CHUNK)[0]
    for w, n in zip(wide, narrow):
        _close(n.double(), w, 1e-5)
    q, k, v = (torch.randn(1, 2, T, 4, dtype=torch.float64) * 0.5 for _ in range(3))
    lm = torch.log(0.8 + 0.2 * torch.rand(1, 2, T, dtype=torch.float64))
    ph = torch.rand(1, 2, T, dtype=torch.float64) - 0.5
    wide = gs.gla_complex_chunked(q, k, v, lm, ph, CHUNK)[0]
    narrow = gs.gla_complex_chunked(q.float(), k.float(), v.float(), lm.float(), ph.float(), CHUNK)[0]
    _close(narrow.double(), wide, 1e-5)


def test_scan_extra_levels_add_nothing(monkeypatch):
    """An exported graph runs the fixed number of levels; eager only ceil(log2 C): the same result."""
    torch.manual_seed(3)
    a = _decay((2, 5, 3), torch.float64)
    x = (torch.randn(2, 5, 3, dtype=torch.float64), torch.randn(2, 5, 3, dtype=torch.float64))
    assert gs.n_levels(5, 16) == 3 and gs.n_levels(torch.tensor(5), 16) == 16
    exact = gs.scan(a, x, 1, 16)
    monkeypatch.setattr(gs, "n_levels", lambda count, levels: levels)
    for e, m in zip(exact, gs.scan(a, x, 1, 16)):
        _close(m, e, 1e-12)


@pytest.mark.parametrize("kind", ["complex", "real", "real-a-complex-x", "complex-a-real-x", "constant-a"])
def test_in_graph_scan_matches_doubling(kind):
    """The sequential form exported graphs run (one ONNX Scan over the chunks) equals the doubling form."""
    torch.manual_seed(11)
    shape = (2, 9, 3)
    a = _decay((2, 1, 3) if kind == "constant-a" else shape, torch.float64, complex_=kind not in ("real", "real-a-complex-x"))
    x = (torch.randn(shape, dtype=torch.float64), None if kind in ("real", "complex-a-real-x") else torch.randn(shape, dtype=torch.float64))
    want = gs.scan(a, x, 1, 16)
    got = gs.sequential_scan(a, x, 1)
    assert (got[1] is None) == (want[1] is None)
    for g, w in zip(got, want):
        if w is not None:
            _close(g, w, 1e-12)


@torch.no_grad()
def test_kernels_export_with_dynamic_length(tmp_path):
    """Each kernel in a module exports with a dynamic length and matches eager on onnxruntime at other lengths
    (the scans across chunks become ONNX Scan nodes; eager runs the doubling form)."""
    ort = pytest.importorskip("onnxruntime")
    from ssmbench_trainer.export import export_graph

    LV = 6

    class Kernels(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.log_mag = torch.nn.Parameter(torch.log(0.5 + 0.45 * torch.rand(4, 3)))
            self.phase = torch.nn.Parameter(torch.randn(4, 3))
            self.b = torch.nn.Parameter(torch.randn(2, 4, 3))
            self.c = torch.nn.Parameter(torch.randn(2, 4, 3))

        def forward(self, u):
            y1, s1 = gs.lti_chunked(u, self.log_mag, self.phase, (self.b[0], self.b[1]), (self.c[0], self.c[1]), CHUNK, LV)
            a = (torch.sigmoid(u), torch.tanh(u) * 0.1)
            (h, hi), last = gs.diag_scan(a, (u, u * 0.5), CHUNK, LV)
            qk = u.view(u.shape[0], u.shape[1], 2, 2).transpose(1, 2)                # [B, 2, T, 2]
            o, S = gs.gla_complex_chunked(qk, qk * 0.5, qk, torch.nn.functional.logsigmoid(qk[..., 0]), qk[..., 1], CHUNK, LV)
            return y1, s1[0], s1[1], h, hi, last[0], o, S[0], S[1]

    torch.manual_seed(0)
    m = Kernels()
    batch, seq = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("seq", min=1, max=1 << 20)
    path = tmp_path / "k.onnx"
    u = torch.randn(2, 21, 4)
    export_graph(m, (u.clone(),), ({0: batch, 1: seq},), ["u"], [f"o{i}" for i in range(9)], path, {}, 18)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for T in (1, 37, 300):
        x = torch.randn(3, T, 4)
        got = sess.run(None, {"u": x.numpy()})
        want = m(x)
        for g, w in zip(got, want):
            _close(torch.from_numpy(g), w, 1e-5)
