"""Parity of the xLSTM reference: the shared contract (chunked prefill vs the token-by-token stabilised recurrence,
step vs prefill) for mLSTM-only and mixed mLSTM/sLSTM models, the chunked mLSTM cell against the recurrence with
strong input gates (the stabiliser m at work) and against the unstabilised recurrence in float64, the sLSTM cell
against its unstabilised recurrence, and the ONNX prefill (mLSTM and sLSTM layers) with a dynamic length."""
import pytest
import torch

import model as xlstm
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential

torch.set_num_threads(1)


def _close(a, b, tol=1e-5):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    m = xlstm.Model({"d_model": 16, "n_layers": 2, "n_heads": 2, "chunk": 8}, vocab=50).eval()
    with torch.no_grad():                     # data-dependent gates (the init has zero gate weights)
        for subs in m.layers:
            subs[0].fn.igate.weight.normal_(0, 0.5)
            subs[0].fn.fgate.weight.normal_(0, 0.5)
            subs[0].fn.fgate.bias.normal_(1, 1)
    return m


def test_contract(net):
    """Lengths 1..100 at chunk 8: one chunk, many, multiples and not."""
    torch.manual_seed(1)
    check_contract(net, 50)


def test_default_config_contract():
    torch.manual_seed(2)
    m = xlstm.Model({}, vocab=40).eval()
    assert (m.config["d_model"], m.config["n_layers"]) == (64, 2)
    spec = m.state_spec()
    assert [s["name"] for s in spec[:4]] == ["conv.0", "C.0", "n.0", "m.0"]
    assert [s["shape"] for s in spec[:4]] == [["batch", 128, 3], ["batch", 4, 32, 32], ["batch", 4, 32], ["batch", 4]]
    check_parallel_matches_sequential(m, 40, lengths=(1, 31, 32, 33, 70), batch=2)


def _cell_inputs(T, seed, ig_scale):
    g = torch.Generator().manual_seed(seed)
    B, H, d = 2, 3, 4
    q, k, v = (torch.randn(B, H, T, d, generator=g) for _ in range(3))
    ig = torch.randn(B, H, T, generator=g) * ig_scale
    lf = torch.nn.functional.logsigmoid(torch.randn(B, H, T, generator=g) * 2 + 1)
    return q, k / 2, v, ig, lf


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 5, 8, 9, 16, 23, 64, 101])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_chunked_cell_equals_stabilised_recurrence(T, dtype):
    """Outputs and (C', n', m) equal mlstm_step token by token, with input gates up to ~+-15 (m far from 0): to 1e-9
    of each tensor's largest entry in float64, 1e-4 in float32. Random q, k and gates make n^T q nearly cancel at
    some positions, where h~ reaches ~1e3 and both forms' round-off is amplified alike (the model-level contract
    tests, with the gates a trained model computes, hold 1e-5)."""
    q, k, v, ig, lf = (t.to(dtype) for t in _cell_inputs(T, T, 5.0))
    h, (C, n, m) = xlstm.mlstm_chunked(q, k, v, ig, lf, 8)
    Cs, ns, ms = torch.zeros(2, 3, 4, 4, dtype=dtype), torch.zeros(2, 3, 4, dtype=dtype), torch.zeros(2, 3, dtype=dtype)
    hs = []
    for t in range(T):
        ht, Cs, ns, ms = xlstm.mlstm_step(q[:, :, t], k[:, :, t], v[:, :, t], ig[:, :, t], lf[:, :, t], Cs, ns, ms)
        hs.append(ht)
    for got, want in [(h, torch.stack(hs, 2)), (m, ms), (C, Cs), (n, ns)]:
        scale = (1e-9 if dtype == torch.float64 else 1e-4) * max(1.0, float(want.abs().max()))
        assert float((got - want).abs().max()) <= scale


@torch.no_grad()
@pytest.mark.parametrize("T", [7, 40])
def test_chunked_cell_equals_unstabilised_recurrence(T):
    """Without the 1e-6, h~ equals C_t q_t / max(|n_t^T q_t|, 1) with C_t = f C + i v k^T, i = exp(i~) (float64),
    and the states are C_t e^(-m_t), n_t e^(-m_t)."""
    q, k, v, ig, lf = (t.double() for t in _cell_inputs(T, 50 + T, 2.0))
    h, (Cp, npr, m) = xlstm.mlstm_chunked(q, k, v, ig, lf, 8, eps=0.0)
    C, n = torch.zeros(2, 3, 4, 4, dtype=torch.float64), torch.zeros(2, 3, 4, dtype=torch.float64)
    hs = []
    for t in range(T):
        f, i = torch.exp(lf[:, :, t])[..., None], torch.exp(ig[:, :, t])[..., None]
        C = f[..., None] * C + i[..., None] * (k[:, :, t, :, None] * v[:, :, t, None, :])
        n = f * n + i * k[:, :, t]
        num = (q[:, :, t, None, :] @ C).squeeze(-2)
        hs.append(num / torch.clamp((q[:, :, t] * n).sum(-1, keepdim=True).abs(), min=1.0))
    _close(h, torch.stack(hs, 2), 1e-10)
    _close(Cp * torch.exp(m)[..., None, None], C, 1e-10)
    _close(npr * torch.exp(m)[..., None], n, 1e-10)


def test_contract_with_an_slstm_block():
    """xLSTM[1:1]: layer 0 mLSTM, layer 1 sLSTM (its prefill is torch's scan over time)."""
    torch.manual_seed(5)
    m = xlstm.Model({"d_model": 16, "n_layers": 2, "n_heads": 2, "chunk": 8, "slstm_at": [1]}, vocab=50).eval()
    with torch.no_grad():
        m.layers[1][0].fn.R.normal_(0, 0.5)
    assert [s["name"] for s in m.state_spec()[4:]] == ["conv.1", "slstm_h.1", "slstm_c.1", "slstm_n.1", "slstm_m.1"]
    check_contract(m, 50, lengths=(1, 9, 40))


@torch.no_grad()
def test_slstm_cell_equals_unstabilised_recurrence():
    """c_t = f c + i tanh(z~), n_t = f n + i, h = sigmoid(o~) c / n with i = exp(i~), f = sigmoid(f~) and the gates
    fed back through R (float64): the stabilised layer's h equals it."""
    torch.manual_seed(6)
    lay = xlstm.SLSTMLayer(8, n_heads=2).double()
    with torch.no_grad():
        lay.R.normal_(0, 0.5)
        lay.bias.normal_(0, 2)
    u = torch.randn(2, 15, 8, dtype=torch.float64)
    xp = torch.nn.functional.pad(u.transpose(1, 2), (3, 0))
    xc = torch.nn.functional.silu(torch.nn.functional.conv1d(xp, lay.conv.weight, lay.conv.bias, groups=8)).transpose(1, 2)
    gx = lay._input_gates(u, xc)
    h = c = n = torch.zeros(2, 2, 4, dtype=torch.float64)
    hs = []
    for t in range(15):
        z, i, f, o = (gx[:, t] + (h.unsqueeze(1).unsqueeze(-2) @ lay.R).squeeze(-2)).unbind(1)
        c = torch.sigmoid(f) * c + torch.exp(i) * torch.tanh(z)
        n = torch.sigmoid(f) * n + torch.exp(i)
        h = torch.sigmoid(o) * c / n
        hs.append(h)
    out, _ = lay(u)
    _close(out, lay._output(torch.stack(hs, 1)), 1e-10)


@torch.no_grad()
def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill (an mLSTM layer, then an sLSTM layer: a Scan node) exported at T = 40 runs at T = 37 and 300 on
    onnxruntime and matches PyTorch within 1e-5."""
    ort = pytest.importorskip("onnxruntime")
    from ssmbench_trainer.export import Prefill, export_graph

    torch.manual_seed(4)
    m = xlstm.Model({"d_model": 16, "n_layers": 2, "n_heads": 2, "chunk": 8, "scan_levels": 6, "slstm_at": [1]},
                    vocab=20).eval()
    with torch.no_grad():
        m.layers[0][0].fn.igate.weight.normal_(0, 0.5)
        m.layers[1][0].fn.R.normal_(0, 0.5)
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
