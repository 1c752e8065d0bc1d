"""Parity of the Based reference: the shared contract (chunked / blocked prefill vs the token-by-token recurrence,
step vs prefill) for the alternating stack, the Taylor feature map's kernel, the linear attention against its
quadratic form, the sliding window against full masked softmax attention with rotary positions, the window
state's constant size, and the ONNX export with a dynamic length."""
import math

import pytest
import torch
from torch.export import Dim

import model as family
from ssmbench_trainer import export
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential

torch.set_num_threads(1)

SMALL = {"d_model": 32, "n_layers": 2, "n_heads": 2, "feature_dim": 8, "window": 8, "chunk": 8}


def _close(a, b, tol=1e-5):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def test_contract():
    """Lengths 1 .. 100 with window 8 and chunk 8: inside the first window, exact multiples, many blocks."""
    torch.manual_seed(0)
    check_contract(family.Model(SMALL, vocab=50).eval(), 50)


def test_default_config():
    torch.manual_seed(1)
    net = family.Model({}, vocab=40).eval()
    assert [type(layer[0].fn).__name__ for layer in net.layers] == ["TaylorLinearAttention", "SlidingWindowAttention"]
    assert {s["name"]: s["shape"] for s in net.state_spec()} == {
        "kv.0": ["batch", 2, 153, 32], "z.0": ["batch", 2, 153],
        "window.1.key": ["batch", 2, 64, 32], "window.1.value": ["batch", 2, 64, 32], "window.1.valid": ["batch", 64]}
    check_parallel_matches_sequential(net, 40, lengths=(1, 31, 63, 64, 65, 150), batch=2)


def test_mixers_string():
    net = family.Model({**SMALL, "n_layers": 4, "mixers": "window, linear, linear"}, vocab=20)
    assert [type(layer[0].fn).__name__[:6] for layer in net.layers] == ["Slidin", "Taylor", "Taylor", "Slidin"]
    with pytest.raises(ValueError, match="mixers"):
        family.Model({**SMALL, "mixers": "linear,conv"}, vocab=20)


def test_taylor_feature_map():
    """phi(x) . phi(y) = 1 + x.y/sqrt(d) + (x.y)^2/(2d), the 2nd-order Taylor expansion of exp(x.y/sqrt(d)), with
    1 + d + d(d+1)/2 features (153 at d = 16)."""
    torch.manual_seed(2)
    fm = family.TaylorFeatureMap(16).double()
    assert fm.dim == 153
    x, y = torch.randn(50, 16, dtype=torch.float64), torch.randn(50, 16, dtype=torch.float64)
    s = (x * y).sum(-1) / 4.0
    _close((fm(x) * fm(y)).sum(-1), 1 + s + s ** 2 / 2, 1e-12)
    assert fm(x).shape == (50, 153)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 7, 8, 9, 24, 50])
def test_linear_attention_equals_quadratic_form(T):
    """o_t = sum_{s<=t} k(q_t, k_s) v_s / sum_{s<=t} k(q_t, k_s) with the Taylor kernel, in float64 (chunk 8)."""
    torch.manual_seed(T)
    att = family.TaylorLinearAttention(32, n_heads=2, feature_dim=8, chunk=8).double()
    u = torch.randn(2, T, 32, dtype=torch.float64)
    out, (S, z) = att(u)
    heads = lambda x, d: x.view(2, T, 2, d).transpose(1, 2)  # noqa: E731
    q, k, v = heads(att.q_proj(u), 8), heads(att.k_proj(u), 8), heads(att.v_proj(u), 16)
    s = q @ k.transpose(-1, -2) / math.sqrt(8)
    A = (1 + s + s ** 2 / 2) * torch.tril(torch.ones(T, T, dtype=torch.float64))
    ref = (A @ v) / A.sum(-1, keepdim=True)
    _close(out, att.out_proj(ref.transpose(1, 2).flatten(-2)), 1e-10)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 5, 8, 9, 16, 30])
def test_sliding_window_equals_masked_attention(T):
    """The blocked prefill (window 8) equals full softmax attention with absolute rotary positions and the mask
    t - W < s <= t, in float64; its final state is the last W keys and values, the empty slots zero."""
    torch.manual_seed(T)
    W = 8
    swa = family.SlidingWindowAttention(32, n_heads=2, window=W).double()
    u = torch.randn(2, T, 32, dtype=torch.float64)
    out, (key, value, valid) = swa(u)
    q, k, v = swa._qkv(u)
    theta = 10000.0 ** (-torch.arange(8, dtype=torch.float64) * 2 / 16)
    ang = torch.arange(T, dtype=torch.float64).unsqueeze(-1) * theta
    qr, kr = family.rotate(q, ang.cos(), ang.sin()), family.rotate(k, ang.cos(), ang.sin())
    t = torch.arange(T)
    lag = t.view(-1, 1) - t.view(1, -1)
    scores = (qr @ kr.transpose(-1, -2)) / 4.0
    scores = scores.masked_fill(~((lag >= 0) & (lag < W)), float("-inf"))
    ref = torch.softmax(scores, -1) @ v
    _close(out, swa.out_proj(ref.transpose(1, 2).flatten(-2)), 1e-7)   # rotation tables are float32 values
    n = min(T, W)
    assert valid.tolist() == [[0.0] * (W - n) + [1.0] * n] * 2
    _close(key[:, :, W - n :], k[:, :, T - n :], 0)
    _close(value[:, :, W - n :], v[:, :, T - n :], 0)
    assert not key[:, :, : W - n].any() and not value[:, :, : W - n].any()


@torch.no_grad()
def test_window_step_state_is_constant_size():
    """Stepping far past the window keeps the state's shape; the output only depends on the last W tokens."""
    torch.manual_seed(3)
    W = 8
    swa = family.SlidingWindowAttention(32, n_heads=2, window=W).eval()
    u = torch.randn(1, 40, 32)
    states = [torch.zeros(1, 2, W, 16), torch.zeros(1, 2, W, 16), torch.zeros(1, W)]
    outs = []
    for t in range(40):
        y, states = swa.step(u[:, t], states)
        assert [tuple(s.shape) for s in states] == [(1, 2, W, 16), (1, 2, W, 16), (1, W)]
        outs.append(y)
    tail, _ = swa(u[:, 40 - W :])                                    # the last W tokens alone
    _close(outs[-1], tail[:, -1])


@torch.no_grad()
def test_long_sequence_many_chunks():
    torch.manual_seed(4)
    check_parallel_matches_sequential(family.Model(SMALL, vocab=50).eval(), 50, lengths=(8 * 150 + 5,), batch=1, tol=1e-4)


def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill and step export (torch.export + dynamo, dynamic batch and seq) traced at 40 tokens; onnxruntime at 37
    and 300 tokens gives PyTorch's logits within 1e-5, and so does stepping step.onnx token by token; the final
    states agree within 1e-5 relative to their size (states that sum hundreds of terms carry their float32 round-off)."""
    torch.manual_seed(5)
    net = family.Model({"d_model": 16, "n_layers": 2, "n_heads": 2, "feature_dim": 4, "window": 16, "chunk": 16}, vocab=20).eval()
    spec = net.state_spec()
    batch, seq = Dim("batch", min=1, max=1024), Dim("seq", min=1, max=export.MAX_SEQ)
    outs = ["logits", *[f"present_{s['name']}" for s in spec]]
    ids = torch.randint(0, 20, (2, 40))
    pre, stp = tmp_path / "prefill.onnx", tmp_path / "step.onnx"
    export.export_graph(export.Prefill(net), (ids.clone(),), ({0: batch, 1: seq},), ["input_ids"], outs, pre,
                        {("input_ids", 0): "batch", ("input_ids", 1): "seq"}, export.DEFAULT_OPSET)
    with torch.no_grad():
        past = tuple(p.clone() for p in net(ids[:, :5].clone())[1:])
    export.export_graph(export.Step(net), (ids[:, :1].clone(), *past), ({0: batch}, tuple({0: batch} for _ in spec)),
                        ["input_ids", *[f"past_{s['name']}" for s in spec]], outs, stp, {}, export.DEFAULT_OPSET)
    pre_s, step_s = export.ort_session(pre), export.ort_session(stp)
    names = [i.name for i in step_s.get_inputs()]
    for T in (37, 300):
        ids = torch.randint(0, 20, (2, T))
        with torch.no_grad():
            logits, *states = net(ids)
        got, *got_states = pre_s.run(None, {"input_ids": ids.numpy()})
        past, steps = [p.numpy() for p in net.init_state(2)], []
        for t in range(T):
            lg, *past = step_s.run(None, {"input_ids": ids[:, t : t + 1].numpy(), **dict(zip(names[1:], past))})
            steps.append(torch.from_numpy(lg))
        torch.testing.assert_close(torch.from_numpy(got), logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(torch.cat(steps, 1), logits, atol=1e-5, rtol=0)
        for a, b, ref in zip(got_states, past, states):
            _close(torch.from_numpy(a), ref)
            _close(torch.from_numpy(b), ref)
