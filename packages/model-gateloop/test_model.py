"""Parity of the GateLoop reference: the shared contract (chunked prefill vs the token-by-token recurrence, step vs
prefill), the operator against a complex128 loop and against the quadratic surrogate-attention form, and the ONNX
prefill with a dynamic length."""
import pytest
import torch

import model as gateloop
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential

torch.set_num_threads(1)


def _close(a, b, tol=1e-5):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    m = gateloop.Model({"d_model": 32, "n_layers": 2, "n_heads": 4, "chunk": 8}, vocab=50).eval()
    with torch.no_grad():                      # faster forgetting and larger phases than at init
        for subs in m.layers:
            subs[0].fn.transition.weight.normal_(0, 0.5)
            subs[0].fn.transition.bias.normal_(0, 1)
    return m


def test_contract(net):
    """Lengths 1..100 at chunk 8: one chunk, many, multiples and not."""
    torch.manual_seed(1)
    check_contract(net, 50)


def test_default_config_contract():
    torch.manual_seed(2)
    m = gateloop.Model({}, vocab=40).eval()
    assert (m.config["d_model"], m.config["n_layers"]) == (64, 2)
    assert m.state_spec()[0]["shape"] == ["batch", 2, 4, 16, 16] and m.state_spec()[0]["name"] == "gateloop.0"
    check_parallel_matches_sequential(m, 40, lengths=(1, 31, 32, 33, 70), batch=2)


@torch.no_grad()
def test_operator_matches_complex_recurrence_and_surrogate_attention(net):
    """y_t = Re(q_t S_t) with S_t = a_t S_{t-1} + k_t^T v_t in complex128, and the O(T^2) surrogate attention
    y_t = sum_{s<=t} Re(prod_{s<j<=t} a_j) (q_t . k_s) v_s (Section 3.3), equal the chunked prefill."""
    torch.manual_seed(3)
    mix = net.layers[0][0].fn
    u = torch.randn(2, 27, 32)
    q, k, v, g, log_mag, phase = mix._project(u)
    from ssmbench_trainer.gatedscan import gla_complex_chunked
    y, (Sr, Si) = gla_complex_chunked(q, k, v, log_mag, phase, mix.chunk, mix.scan_levels)
    a = torch.exp(torch.complex(log_mag.double(), phase.double()))               # [B, H, T]
    S = torch.zeros(2, 4, 8, 8, dtype=torch.complex128)
    ys = []
    for t in range(27):
        S = a[:, :, t, None, None] * S + (k[:, :, t, :, None] * v[:, :, t, None, :]).double()
        ys.append((q[:, :, t, None, :].double().to(S.dtype) @ S).squeeze(-2).real)
    _close(y.double(), torch.stack(ys, 2))
    _close(Sr.double(), S.real)
    _close(Si.double(), S.imag)
    cum = torch.cumsum(torch.complex(log_mag.double(), phase.double()), -1)       # log prod a_j
    D = torch.exp(cum[..., :, None] - cum[..., None, :]).real.tril()
    att = ((q.double() @ k.double().transpose(-1, -2)) * D) @ v.double()
    _close(y.double(), att)


@torch.no_grad()
def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill exported at T = 40 runs at T = 37 and 300 on onnxruntime and matches PyTorch within 1e-5."""
    ort = pytest.importorskip("onnxruntime")
    from ssmbench_trainer.export import Prefill, export_graph

    torch.manual_seed(4)
    m = gateloop.Model({"d_model": 16, "n_layers": 1, "n_heads": 2, "chunk": 8, "scan_levels": 6}, vocab=20).eval()
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
