"""Parity of the HGRN reference: the shared contract (chunked-scan prefill vs the token-by-token recurrence, step vs
prefill), the lower bounds' shape across layers, the recurrence against a complex128 loop, and the ONNX prefill
with a dynamic length."""
import pytest
import torch

import model as hgrn
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential

torch.set_num_threads(1)


def _close(a, b, tol=1e-5):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    m = hgrn.Model({"d_model": 32, "n_layers": 3, "chunk": 8}, vocab=50).eval()
    with torch.no_grad():                          # non-trivial bounds and rotations
        m.lower_bounds.gamma.normal_()
        for subs in m.layers:
            subs[0].fn.theta.uniform_(-3, 3)
    return m


def test_contract(net):
    """Lengths 1..100 at chunk 8: one chunk, many, multiples and not."""
    torch.manual_seed(1)
    check_contract(net, 50)


def test_default_config_contract():
    torch.manual_seed(2)
    m = hgrn.Model({}, vocab=40).eval()
    assert (m.config["d_model"], m.config["n_layers"]) == (64, 2)
    assert [s["name"] for s in m.state_spec()] == ["hidden.0", "hidden.1"]
    assert m.state_spec()[0]["shape"] == ["batch", 2, 64]
    check_parallel_matches_sequential(m, 40, lengths=(1, 31, 32, 33, 70), batch=2)


def test_lower_bounds_are_monotone_from_zero(net):
    """gamma^1 = 0 and gamma^k increases with depth, below 1 (Section 3.2); zeros init gives k / n_layers."""
    b = torch.stack([net.lower_bounds(k) for k in range(3)])
    assert torch.all(b[0] == 0)
    assert torch.all(b[1:] >= b[:-1]) and torch.all(b < 1)
    fresh = hgrn.LowerBounds(4, 3)
    _close(torch.stack([fresh(k) for k in range(4)]), torch.arange(4.0).view(4, 1).expand(4, 3) / 4, 1e-7)


@torch.no_grad()
def test_hgru_matches_complex_loop(net):
    """The HGRU's chunked prefill equals h_t = lambda_t e^(i theta) h_{t-1} + (1 - lambda_t) c_t computed with complex128
    numbers from the paper's equations, and so does its output."""
    torch.manual_seed(3)
    mix = net.layers[1][0].fn
    u = torch.randn(2, 29, 32)
    out, (h_last,) = mix(u)
    lb = net.lower_bounds(1).double()
    lam = lb + (1 - lb) * torch.sigmoid(mix.forget_proj(u).double())
    c = torch.nn.functional.silu(mix.in_proj(u).double())
    c = torch.complex(c[..., :32], c[..., 32:])
    rot = torch.exp(1j * mix.theta.double())
    h = torch.zeros(2, 32, dtype=torch.complex128)
    hs = []
    for t in range(29):
        h = lam[:, t] * rot * h + (1 - lam[:, t]) * c[:, t]
        hs.append(h)
    hs = torch.stack(hs, 1)
    _close(h_last.double(), torch.stack([h.real, h.imag], 1))
    g = torch.sigmoid(mix.gate_proj(u))
    ref = mix.out_proj(mix.out_norm(g * torch.cat([hs.real, hs.imag], -1).float()))
    _close(out, ref)


@torch.no_grad()
def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill exported at T = 40 runs at T = 37 and 300 on onnxruntime and matches PyTorch within 1e-5."""
    ort = pytest.importorskip("onnxruntime")
    from ssmbench_trainer.export import Prefill, export_graph

    torch.manual_seed(4)
    m = hgrn.Model({"d_model": 16, "n_layers": 2, "chunk": 8, "scan_levels": 6}, vocab=20).eval()
    spec = m.state_spec()
    batch, seq = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("seq", min=1, max=1 << 20)
    path = tmp_path / "prefill.onnx"
    export_graph(Prefill(m), (torch.randint(0, 20, (2, 40)),), ({0: batch, 1: seq},), ["input_ids"],
                 ["logits", *[f"present_{s['name']}" for s in spec]], path, {}, 18)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for T in (37, 300):
        ids = torch.randint(0, 20, (3, T))
        got = sess.run(None, {"input_ids": ids.numpy()})
        for g, w in zip(got, m(ids)):
            _close(torch.from_numpy(g), w)
