"""Parity of the RetNet reference: the shared contract (chunkwise prefill vs token-by-token recurrence, step vs
prefill), the three forms of retention against each other, the rotating-frame state identity, and GroupNorm per head."""
import pytest
import torch
import torch.nn.functional as F

import model as retnet
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential

# Tiny tensors: one thread is several times faster than two on a shared machine (token-by-token references).
torch.set_num_threads(1)


def _close(a, b, tol=1e-5):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return retnet.Model({"d_model": 32, "n_layers": 2, "n_heads": 2, "chunk": 8}, vocab=50).eval()


@pytest.fixture(scope="module")
def msr():
    torch.manual_seed(1)
    return retnet.MultiScaleRetention(32, n_heads=4, v_factor=2, chunk=8).eval()


def test_contract(net):
    torch.manual_seed(1)
    check_contract(net, 50)


def test_default_config_contract():
    torch.manual_seed(2)
    m = retnet.Model({}, vocab=40).eval()
    mixer = m.layers[0][0].fn
    assert (mixer.n_heads, mixer.d_k, mixer.d_v) == (2, 32, 64)          # d_v = 2 d_k, value dim = 2 d_model
    assert m.state_spec()[0]["shape"] == ["batch", 2, 32, 64] and m.state_spec()[0]["name"] == "retention.0"
    check_parallel_matches_sequential(m, 40, lengths=(1, 31, 32, 33, 70), batch=2)


def test_decays_are_the_papers():
    m = retnet.MultiScaleRetention(64, n_heads=4)
    _close(torch.exp(m.log_gamma).float(), torch.tensor([1 - 2.0 ** -5, 1 - 2.0 ** -6, 1 - 2.0 ** -7, 1 - 2.0 ** -8]), 1e-7)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 2, 7, 8, 9, 16, 23, 64, 100, 257])
def test_chunkwise_equals_quadratic_parallel(msr, T):
    """Form 2 (chunkwise, eq. 7) == form 1 (quadratic parallel, eq. 5): outputs and final state, at multiples and
    non-multiples of the chunk (8), one chunk and many."""
    torch.manual_seed(T)
    q, k, v = msr._qkv(torch.randn(2, T, 32))
    o1, s1 = msr.retention_parallel(q, k, v)
    o2, s2 = msr.retention_chunkwise(q, k, v)
    _close(o2, o1)
    _close(s2, s1)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 9, 100])
def test_fused_equals_quadratic_parallel(msr, T):
    """Form 2b (the absolute-frame recurrence the exported graph runs as onnxruntime's LinearAttention; here the op's
    eager body) == form 1: outputs and the rotating-frame final state."""
    torch.manual_seed(200 + T)
    q, k, v = msr._qkv(torch.randn(2, T, 32))
    o1, s1 = msr.retention_parallel(q, k, v)
    o2, s2 = msr.retention_fused(q, k, v)
    _close(o2, o1)
    _close(s2, s1)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 13, 40])
def test_recurrent_equals_parallel(msr, T):
    """Form 3 (the rotating-frame step) == form 1 for the whole sub-layer: every output and the final state."""
    torch.manual_seed(100 + T)
    u = torch.randn(3, T, 32)
    out, (S_par,) = msr(u, form="parallel")
    S = torch.zeros(3, msr.n_heads, msr.d_k, msr.d_v)
    outs = []
    for t in range(T):
        y, (S,) = msr.step(u[:, t], [S])
        outs.append(y)
    _close(torch.stack(outs, 1), out)
    _close(S, S_par)


@torch.no_grad()
def test_rotated_state_identity():
    """(R_t q) . (R_s k) = q^T R(theta (s-t)) k, and the rotating-frame recurrence
    S~_t = gamma R(-theta) S~_{t-1} + k_t v_t^T with o_t = q_t^T S~_t gives the usual o_t = (R_t q_t)^T S_t,
    S_t = gamma S_{t-1} + (R_t k_t) v_t^T (float64, arbitrary theta and gamma)."""
    torch.manual_seed(5)
    d, dv, T, gamma = 8, 3, 50, 0.93
    theta = torch.rand(d // 2, dtype=torch.float64) * 2
    R = lambda t: (torch.cos(t * theta), torch.sin(t * theta))  # noqa: E731
    q, k, v = torch.randn(T, d, dtype=torch.float64), torch.randn(T, d, dtype=torch.float64), torch.randn(T, dv, dtype=torch.float64)
    for t, s in [(0, 0), (5, 2), (17, 40), (49, 3)]:
        lhs = retnet.rotate(q[t], *R(t)) @ retnet.rotate(k[s], *R(s))
        rhs = q[t] @ retnet.rotate(k[s], *R(s - t))
        _close(lhs, rhs, 1e-12)
    S = torch.zeros(d, dv, dtype=torch.float64)
    S_rot = torch.zeros(d, dv, dtype=torch.float64)
    c1, s1 = R(1)
    for t in range(T):
        S = gamma * S + torch.outer(retnet.rotate(k[t], *R(t)), v[t])
        S_rot = gamma * retnet.rotate(S_rot.T, c1, -s1).T + torch.outer(k[t], v[t])
        _close(q[t] @ S_rot, retnet.rotate(q[t], *R(t)) @ S, 1e-12)
        _close(S_rot, retnet.rotate(S.T, *R(-t)).T, 1e-12)   # S~_t = R_t^T S_t


@torch.no_grad()
def test_group_norm_is_per_head(msr):
    """The normalisation equals nn.functional.group_norm with one group per head, and makes each head's output
    invariant to rescaling that head's values (the paper's scale-invariance argument, Section 2.2)."""
    torch.manual_seed(7)
    with torch.no_grad():
        msr.gn_weight.normal_()
        msr.gn_bias.normal_()
    o = torch.randn(5, msr.n_heads, msr.d_v) * torch.tensor([0.1, 1.0, 10.0, 100.0]).view(1, -1, 1)
    ref = F.group_norm(o.flatten(1), msr.n_heads, msr.gn_weight, msr.gn_bias, msr.gn_eps)
    _close(msr.group_norm(o), ref)
    u = torch.randn(2, 20, 32)
    base, _ = msr(u)
    scale = torch.ones(msr.value_dim)
    scale[msr.d_v: 2 * msr.d_v] = 37.0                  # head 1's values only
    orig = msr.v_proj.weight.clone()
    try:
        msr.v_proj.weight.mul_(scale[:, None])
        scaled, _ = msr(u)
    finally:
        msr.v_proj.weight.copy_(orig)
    _close(scaled, base, 1e-4)
    msr.gn_weight.fill_(1.0)
    msr.gn_bias.zero_()


@torch.no_grad()
def test_long_sequence_many_chunks(net):
    """Hundreds of chunks through the [C, C] inter-chunk decay matrix, against the step recurrence."""
    torch.manual_seed(3)
    check_parallel_matches_sequential(net, 50, lengths=(8 * 150 + 5,), batch=1, tol=1e-4)


@torch.no_grad()
def test_scan_forms_agree(msr):
    """The doubling scan with extra levels, with only ceil(log2 C), and the in-graph sequential scan (what exported
    prefills run) all equal the plain recurrence over chunks."""
    torch.manual_seed(9)
    U = torch.randn(2, msr.n_heads, 5, msr.d_k, msr.d_v)
    _close(msr.chunk_scan(U, msr.scan_levels), msr.chunk_scan(U, 3))
    ref, S = [], torch.zeros_like(U[:, :, 0])                 # and both equal the plain recurrence over chunks
    for c in range(5):
        a, b = msr.scan_cos[0, :, 0].float(), msr.scan_sin[0, :, 0].float()  # gamma^L R(-L theta): [H, dk/2, 1]
        S1, S2 = S.chunk(2, dim=2)
        S = torch.cat([a * S1 + b * S2, a * S2 - b * S1], 2) + U[:, :, c]
        ref.append(S)
    _close(msr.chunk_scan(U, 3), torch.stack(ref, 2))
    _close(msr.chunk_scan_in_graph(U), torch.stack(ref, 2))


@torch.no_grad()
def test_prefill_precision_at_4096():
    """Relative-frame chunkwise prefill keeps float32 close to float64 at long positions (an absolute-position
    rotation lost ~6e-5 here)."""
    import copy
    torch.manual_seed(4)
    m = retnet.Model({}, vocab=300).eval()
    ids = torch.randint(0, 300, (1, 4096))
    a, b = m(ids), copy.deepcopy(m).double()(ids)
    for x, y in zip(a, b):
        _close(x.double(), y, 1e-5)
