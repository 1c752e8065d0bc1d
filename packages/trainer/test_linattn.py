"""The shared chunked linear-attention kernel (ssmbench_trainer/linattn.py) against its naive recurrence: no decay,
a scalar decay per head, a vector decay over d_k; lengths that are and are not multiples of the chunk; broadcast
q/k heads; the fixed scan depth used under export; the normalised form; and decays at the floor."""
import pytest
import torch

from ssmbench_trainer import gatedscan, linattn

torch.set_num_threads(1)
Q = 8
LENGTHS = (1, 2, 7, 8, 9, 16, 31, 33, 100)


def _close(a, b, tol):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def _inputs(kind, T, B=2, H=3, dk=5, dv=4, hq=None, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    hq = hq or H
    q = torch.randn(B, hq, T, dk, generator=g, dtype=dtype)
    k = torch.randn(B, hq, T, dk, generator=g, dtype=dtype)
    v = torch.randn(B, H, T, dv, generator=g, dtype=dtype)
    if kind == "none":
        a = None
    elif kind == "scalar":   # a wide range of decays, some far beyond any floor (-40 per step)
        a = -torch.rand(B, H, T, generator=g, dtype=dtype) ** 3 * 40
    else:
        a = (-torch.rand(B, H, T, dk, generator=g, dtype=dtype) * 1.5).clamp(min=linattn.vector_floor(Q))
    return q, k, v, a


@pytest.mark.parametrize("kind", ["none", "scalar", "vector"])
@pytest.mark.parametrize("T", LENGTHS)
def test_chunked_equals_recurrence_float64(kind, T):
    """Same math to rounding in float64: outputs and final state."""
    q, k, v, a = _inputs(kind, T)
    o1, S1 = linattn.chunked(q, k, v, a, chunk=Q)
    o2, S2 = linattn.recurrent(q, k, v, a)
    _close(o1, o2, 1e-10)
    _close(S1, S2, 1e-10)


@pytest.mark.parametrize("kind", ["none", "scalar", "vector"])
def test_chunked_equals_recurrence_float32(kind):
    q, k, v, a = _inputs(kind, 77, dtype=torch.float32, seed=1)
    o1, S1 = linattn.chunked(q, k, v, a, chunk=Q)
    o2, S2 = linattn.recurrent(q, k, v, a)
    _close(o1, o2, 1e-4 if kind == "none" else 1e-5)   # no decay: |S| grows with T (sums of 77 outer products)
    _close(S1, S2, 1e-4 if kind == "none" else 1e-5)


@pytest.mark.parametrize("kind", ["none", "scalar"])
def test_broadcast_qk_heads(kind):
    """q and k with one head shared by every value head (Mamba-2's B and C) equal the expanded ones."""
    q, k, v, a = _inputs(kind, 21, hq=1, seed=2)
    o1, S1 = linattn.chunked(q, k, v, a, chunk=Q)
    o2, S2 = linattn.chunked(q.expand(-1, 3, -1, -1), k.expand(-1, 3, -1, -1), v, a, chunk=Q)
    o3, S3 = linattn.recurrent(q, k, v, a)
    _close(o1, o2, 1e-12)
    _close(S1, S2, 1e-12)
    _close(o1, o3, 1e-10)
    _close(S1, S3, 1e-10)


def test_quadratic_form():
    """Scalar decay: o = (L o (q k^T)) v with L[t, s] = exp(sum_{s<j<=t} g_j) (the SSD paper's masked matrix)."""
    q, k, v, a = _inputs("scalar", 19, seed=3)
    cum = torch.cumsum(a, -1)
    t = torch.arange(19)
    Lmat = torch.where(t.view(-1, 1) >= t.view(1, -1), torch.exp(cum.unsqueeze(-1) - cum.unsqueeze(-2)), torch.zeros((), dtype=a.dtype))
    o = ((q @ k.transpose(-1, -2)) * Lmat) @ v
    _close(linattn.chunked(q, k, v, a, chunk=Q)[0], o, 1e-10)


@pytest.mark.parametrize("kind", ["none", "scalar"])
def test_chunk_scan_is_the_recurrence_over_chunks(kind):
    """chunk_scan (gatedscan's doubling scan on exp(G), or a cumsum without decay) is S_c = exp(G_c) S_{c-1} + E_c.
    The export's fixed level count is exercised by each family's ONNX test (300 tokens = 19 chunks of 16)."""
    torch.manual_seed(4)
    C = 13
    G = None if kind == "none" else -torch.rand(2, 3, C, 1, 1, dtype=torch.float64) * 3
    E = torch.randn(2, 3, C, 5, 4, dtype=torch.float64)
    seq, h = [], torch.zeros(2, 3, 5, 4, dtype=torch.float64)
    for c in range(C):
        h = (h if G is None else torch.exp(G[:, :, c]) * h) + E[:, :, c]
        seq.append(h)
    _close(linattn.chunk_scan(G, E, 16), torch.stack(seq, 2), 1e-12)
    assert gatedscan.n_levels(C, 16) == 4


def test_normalized_form():
    """chunked_normalized / step_normalized: q_t S_t / (q_t . z_t + eps) with positive features."""
    q, k, v, _ = _inputs("none", 29, seed=5)
    q, k = q.exp(), k.exp()
    o, S, z = linattn.chunked_normalized(q, k, v, eps=1e-6, chunk=Q)
    num = torch.cumsum(k.unsqueeze(-1) * v.unsqueeze(-2), 2)               # [B, H, T, dk, dv]
    den = torch.cumsum(k, 2)
    ref = (q.unsqueeze(-2) @ num).squeeze(-2) / ((q * den).sum(-1, keepdim=True) + 1e-6)
    _close(o, ref, 1e-10)
    _close(S, num[:, :, -1], 1e-10)
    _close(z, den[:, :, -1], 1e-10)
    S1, z1 = torch.zeros_like(S), torch.zeros_like(z)
    outs = []
    for t in range(29):
        y, S1, z1 = linattn.step_normalized(S1, z1, q[:, :, t], k[:, :, t], v[:, :, t], eps=1e-6)
        outs.append(y)
    _close(torch.stack(outs, 2), ref, 1e-10)
    _close(S1, S, 1e-10)
    _close(z1, z, 1e-10)


def test_vector_decay_at_the_floor_stays_finite():
    """Every step's log-decay at the floor with large q, k: float32 forward and backward stay finite and exact."""
    q, k, v, a = _inputs("vector", 40, dtype=torch.float32, seed=6)
    q, k = (q * 10).requires_grad_(), (k * 10).requires_grad_()
    a = torch.full_like(a, linattn.vector_floor(Q))
    o, S = linattn.chunked(q, k, v, a, chunk=Q)
    o2, S2 = linattn.recurrent(q.detach(), k.detach(), v, a)
    assert torch.isfinite(o).all() and torch.isfinite(S).all()
    _close(o.detach(), o2, 1e-4)
    (o.sum() + S.sum()).backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()
