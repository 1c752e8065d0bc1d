"""Parity of the H3 reference: the shared contract (chunked prefill vs the token-by-token recurrence, step vs
prefill), the layer against a direct complex128 transcription of the paper's algorithm, the shift SSM as a shift
register, and the ONNX prefill with a dynamic length."""
import pytest
import torch

import model as h3
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential

torch.set_num_threads(1)


def _close(a, b, tol=1e-5):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    m = h3.Model({"d_model": 32, "n_layers": 2, "head_dim": 4, "d_state": 8, "shift_state": 3, "chunk": 8}, vocab=50).eval()
    with torch.no_grad():                   # longer memories than the S4D init's smallest steps give
        for subs in m.layers:
            subs[0].fn.log_dt.uniform_(-3, -1)
            subs[0].fn.shift_kernel.normal_()
    return m


def test_contract(net):
    """Lengths 1..100 at chunk 8: one chunk, many, multiples and not."""
    torch.manual_seed(1)
    check_contract(net, 50)


def test_default_config_contract():
    torch.manual_seed(2)
    m = h3.Model({}, vocab=40).eval()
    assert (m.config["d_model"], m.config["n_layers"]) == (64, 2)
    spec = m.state_spec()
    assert [s["name"] for s in spec] == ["shift.0", "ssm.0", "shift.1", "ssm.1"]
    assert spec[0]["shape"] == ["batch", 64, 3] and spec[1]["shape"] == ["batch", 2, 8, 8, 8, 16]
    check_parallel_matches_sequential(m, 40, lengths=(1, 31, 32, 33, 70), batch=2)


@torch.no_grad()
def test_layer_matches_the_papers_algorithm(net):
    """Algorithm 1 in complex128, token by token: shift register -> K~, per-head outer products K~^T V, S4D-ZOH diagonal
    SSM per channel (lambda = exp(Delta A), b = (lambda - 1)/A, y = 2 Re(C s) + D KV), O = Q KV~, W_O."""
    torch.manual_seed(3)
    mix = net.layers[0][0].fn
    T, H, dh, N, Ns = 21, mix.H, mix.dh, mix.N, mix.Ns
    u = torch.randn(2, T, 32)
    out, (shift_state, ssm_state) = mix(u)
    q, k, v = (t.double() for t in mix.qkv(u).chunk(3, -1))
    A = torch.complex(-torch.exp(mix.A_log.double()), mix.A_im.double())           # [H, N]
    lam = torch.exp(torch.exp(mix.log_dt.double())[:, None] * A)
    b = (lam - 1) / A
    C = torch.complex(mix.C[0].double(), mix.C[1].double())
    reg = torch.zeros(2, 32, Ns, dtype=torch.float64)                               # x_t = [K_t, K_{t-1}, ...]
    s = torch.zeros(2, H, dh, dh, N, dtype=torch.complex128)
    outs = []
    for t in range(T):
        reg = torch.cat([k[:, t, :, None], reg[:, :, :-1]], -1)
        ks = (reg * mix.shift_kernel.double()).sum(-1).view(2, H, dh, 1)
        kv = ks * v[:, t].view(2, H, 1, dh)                                          # [2, H, dh(k), dh(v)]
        s = lam[:, None, None, :] * s + b[:, None, None, :] * kv[..., None]
        kvt = 2 * (C[:, None, None, :] * s).sum(-1).real + mix.D.double().view(H, 1, 1) * kv
        o = (q[:, t].view(2, H, 1, dh) @ kvt).reshape(2, 32)
        outs.append(mix.out_proj(o.float()))
    _close(out, torch.stack(outs, 1))
    _close(ssm_state.double(), torch.stack([s.real, s.imag], 1))
    _close(shift_state.double(), k[:, T - Ns + 1:].transpose(1, 2))


@torch.no_grad()
def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill exported at T = 40 runs at T = 37 and 300 on onnxruntime and matches PyTorch within 1e-5."""
    ort = pytest.importorskip("onnxruntime")
    from ssmbench_trainer.export import Prefill, export_graph

    torch.manual_seed(4)
    m = h3.Model({"d_model": 16, "n_layers": 1, "head_dim": 4, "d_state": 4, "chunk": 8, "scan_levels": 6}, vocab=20).eval()
    spec = m.state_spec()
    batch, seq = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("seq", min=1, max=1 << 20)
    path = tmp_path / "prefill.onnx"
    export_graph(Prefill(m), (torch.randint(0, 20, (2, 40)),), ({0: batch, 1: seq},), ["input_ids"],
                 ["logits", *[f"present_{s['name']}" for s in spec]], path, {}, 18)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for T in (1, 37, 300):
        ids = torch.randint(0, 20, (3, T))
        got = sess.run(None, {"input_ids": ids.numpy()})
        for g, w in zip(got, m(ids)):
            _close(torch.from_numpy(g), w)
