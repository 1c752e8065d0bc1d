"""Parity of the Based reference: the shared contract (chunked / blocked prefill vs the token-by-token recurrence,
step vs prefill) for the alternating stack, the Taylor feature map's kernel, the linear attention against its
quadratic form, the sliding window against full masked softmax attention with rotary positions, the window
state's constant size, and the ONNX export with a dynamic length."""
import math

import pytest
import torch

import model as family
from ssmbench_trainer.contract import (check_contract, check_default_config, check_onnx_export,
                                       check_parallel_matches_sequential, close, seeded_model)

torch.set_num_threads(1)

SMALL = {"d_model": 32, "n_layers": 2, "n_heads": 2, "feature_dim": 8, "window": 8, "chunk": 8}


def test_contract():
    """Lengths 1 .. 100 with window 8 and chunk 8: inside the first window, exact multiples, many blocks."""
    check_contract(seeded_model(family.Model, SMALL, 50, seed=0), 50)


def test_default_config():
    """Lengths around the default window of 64."""
    states = {"kv.0": ["batch", 2, 153, 32], "z.0": ["batch", 2, 153], "window.1.key": ["batch", 2, 64, 32],
              "window.1.value": ["batch", 2, 64, 32], "window.1.valid": ["batch", 64]}
    net = check_default_config(family.Model, states, seed=1, lengths=(1, 31, 63, 64, 65, 150))
    assert [type(layer[0].fn).__name__ for layer in net.layers] == ["TaylorLinearAttention", "SlidingWindowAttention"]


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
    close((fm(x) * fm(y)).sum(-1), 1 + s + s ** 2 / 2, 1e-12)
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
    close(out, att.out_proj(ref.transpose(1, 2).flatten(-2)), 1e-10)


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
    close(out, swa.out_proj(ref.transpose(1, 2).flatten(-2)), 1e-7)   # rotation tables are float32 values
    n = min(T, W)
    assert valid.tolist() == [[0.0] * (W - n) + [1.0] * n] * 2
    close(key[:, :, W - n :], k[:, :, T - n :], 0)
    close(value[:, :, W - n :], v[:, :, T - n :], 0)
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
    close(outs[-1], tail[:, -1])


@torch.no_grad()
def test_long_sequence_many_chunks():
    net = seeded_model(family.Model, SMALL, 50, seed=4)
    check_parallel_matches_sequential(net, 50, lengths=(8 * 150 + 5,), batch=1, tol=1e-4)


def test_onnx_prefill_dynamic_length(tmp_path):
    """prefill.onnx and step.onnx traced at 40 tokens equal PyTorch at 37 and 300 (see check_onnx_export)."""
    cfg = {"d_model": 16, "n_layers": 2, "n_heads": 2, "feature_dim": 4, "window": 16, "chunk": 16}
    check_onnx_export(seeded_model(family.Model, cfg, 20, seed=5), 20, tmp_path)
