"""Parity of the xLSTM reference: the shared contract (chunked prefill vs the token-by-token stabilised recurrence,
step vs prefill) for mLSTM-only and mixed mLSTM/sLSTM models, the chunked mLSTM cell against the recurrence with
strong input gates (the stabiliser m at work) and against the unstabilised recurrence in float64, the sLSTM cell
against its unstabilised recurrence, and the ONNX prefill (mLSTM and sLSTM layers) with a dynamic length."""
import pytest
import torch

import model as xlstm
from ssmbench_trainer.contract import check_contract, check_default_config, check_onnx_export, close, seeded_model

torch.set_num_threads(1)


def _data_dependent_gates(m):
    """The init has zero gate weights."""
    for subs in m.layers:
        subs[0].fn.igate.weight.normal_(0, 0.5)
        subs[0].fn.fgate.weight.normal_(0, 0.5)
        subs[0].fn.fgate.bias.normal_(1, 1)


@pytest.fixture(scope="module")
def net():
    cfg = {"d_model": 16, "n_layers": 2, "n_heads": 2, "chunk": 8}
    return seeded_model(xlstm.Model, cfg, 50, seed=0, prepare=_data_dependent_gates)


def test_contract(net):
    """Lengths 1..100 at chunk 8: one chunk, many, multiples and not."""
    check_contract(net, 50, seed=1)


def test_default_config_contract():
    layer = {"conv": ["batch", 128, 3], "mem": ["batch", 4, 32, 32], "n": ["batch", 4, 32], "m": ["batch", 4]}
    check_default_config(xlstm.Model, {f"{name}.{i}": shape for i in range(2) for name, shape in layer.items()})


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
    close(h, torch.stack(hs, 2), 1e-10)
    close(Cp * torch.exp(m)[..., None, None], C, 1e-10)
    close(npr * torch.exp(m)[..., None], n, 1e-10)


def test_contract_with_an_slstm_block():
    """xLSTM[1:1]: layer 0 mLSTM, layer 1 sLSTM (its prefill is torch's scan over time)."""
    torch.manual_seed(5)
    m = xlstm.Model({"d_model": 16, "n_layers": 2, "n_heads": 2, "chunk": 8, "slstm_at": "1"}, vocab=50).eval()
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
    close(out, lay._output(torch.stack(hs, 1)), 1e-10)


@pytest.mark.parametrize("n", [1, 2, 7, 33])
def test_maxplus_doubling_equals_recurrence(n):
    """The eager doubling form of the chunk-end stabiliser scan against the recurrence m_c = max(B_c + m_{c-1}, M_c)
    written out, with negative B (log forget gates) and mixed M."""
    g = torch.Generator().manual_seed(n)
    B = -torch.rand(2, 3, n, generator=g) * 4
    M = torch.randn(2, 3, n, generator=g) * 3
    m, ref = torch.zeros(2, 3), []
    for c in range(n):
        m = torch.maximum(B[..., c] + m, M[..., c])
        ref.append(m)
    ref = torch.stack(ref, 2)
    assert torch.allclose(xlstm.maxplus_scan(B, M, 2, 16), ref, atol=1e-6)


@torch.no_grad()
def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill (an mLSTM layer, then an sLSTM layer: a Scan node) exported at T = 40 runs at T = 37 and 300 on
    onnxruntime and matches PyTorch within 1e-5."""
    def gates_and_recurrence(m):
        m.layers[0][0].fn.igate.weight.normal_(0, 0.5)
        m.layers[1][0].fn.R.normal_(0, 0.5)

    cfg = {"d_model": 16, "n_layers": 2, "n_heads": 2, "chunk": 8, "scan_levels": 6, "slstm_at": "1"}
    m = seeded_model(xlstm.Model, cfg, 20, seed=4, prepare=gates_and_recurrence)
    check_onnx_export(m, 20, tmp_path, batch=3, step=False, logits_rtol=1e-5)


def test_block_diagonal_is_the_blockwise_product():
    """The dense form of the block-diagonal q/k/v projection equals the product block by block."""
    torch.manual_seed(0)
    proj = xlstm.BlockDiagonal(12, 4)
    x = torch.randn(2, 5, 12)
    blocks = [x[..., 4 * g: 4 * g + 4] @ proj.weight[g] for g in range(3)]
    assert torch.allclose(proj(x), torch.cat(blocks, -1), atol=1e-6)


@pytest.mark.parametrize("n", [1, 2, 9])
def test_chunk_ends_in_graph_loop_equals_eager_scans(n):
    """The exported single loop over chunk ends (m, C', n' together) against the eager max-plus and linear scans,
    with strong input gates so that the stabiliser moves."""
    torch.manual_seed(n)
    Bsz, H, Q, d = 2, 2, 4, 3
    kc, vc = torch.randn(Bsz, H, n, Q, d), torch.randn(Bsz, H, n, Q, d)
    D_end = torch.randn(Bsz, H, n, Q) * 4
    Bc = torch.nn.functional.logsigmoid(torch.randn(Bsz, H, n) + 1) * Q
    Mc = D_end.amax(-1)
    for a, b in zip(xlstm._chunk_ends_doubling(kc, vc, D_end, Bc, Mc, 16), xlstm._chunk_ends_in_graph(kc, vc, D_end, Bc, Mc)):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-5)
