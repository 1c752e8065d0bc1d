"""Parity of the Transformer reference: the shared contract (parallel causal attention vs token-by-token steps with
a KV cache, step vs prefill), attention against a naive per-position softmax loop, RoPE's relative-position
property, and the KV cache growing by one position per step."""
import math

import numpy as np
import pytest
import torch

import model as tf
from ssmbench_trainer.contract import check_contract

VOCAB = 50
torch.set_num_threads(1)  # tiny tensors: extra threads only contend on a busy machine (10 s -> 1.5 s here)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return tf.Model({"d_model": 32, "n_layers": 2, "n_heads": 2}, vocab=VOCAB).eval()


def test_contract(net):
    torch.manual_seed(1)
    check_contract(net, VOCAB)


def test_default_config():
    m = tf.Model({}, vocab=VOCAB)
    attn, mlp = m.layers[0][0].fn, m.layers[0][1].fn.fn
    assert (attn.n_heads, attn.head_dim) == (2, 32)
    assert mlp.gate.out_features == 176  # 8/3 * 64 = 170.7, rounded up to a multiple of 16


def rotation(m: int, d: int, base: float) -> torch.Tensor:
    """RoPE as the explicit block-diagonal matrix R_m of 2104.09864 eq. 15 (rows act on column vectors)."""
    R = torch.zeros(d, d, dtype=torch.float64)
    for i in range(d // 2):
        a = m * base ** (-2 * i / d)
        c, s = math.cos(a), math.sin(a)
        R[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return R


@torch.no_grad()
def test_attention_matches_naive_softmax_loop():
    """Each output position t is sum_{s<=t} softmax_s(q_t . k_s / sqrt(d_h)) v_s, with RoPE as explicit matrices."""
    torch.manual_seed(2)
    attn = tf.CausalSelfAttention(24, 3, rope_base=100.0).eval()
    B, T, H, dh = 2, 13, 3, 8
    u = torch.randn(B, T, 24)
    got, (k_cache, v_cache) = attn(u)
    qkv = attn.qkv(u).double().view(B, T, 3, H, dh)
    o = torch.zeros(B, T, H, dh, dtype=torch.float64)
    keys = torch.zeros(B, H, T, dh, dtype=torch.float64)
    for b in range(B):
        for h in range(H):
            q = [rotation(t, dh, 100.0) @ qkv[b, t, 0, h] for t in range(T)]
            k = [rotation(t, dh, 100.0) @ qkv[b, t, 1, h] for t in range(T)]
            v = [qkv[b, t, 2, h] for t in range(T)]
            for t in range(T):
                keys[b, h, t] = k[t]
                s = torch.stack([q[t] @ k[j] for j in range(t + 1)]) / math.sqrt(dh)
                w = torch.exp(s - s.max())
                w = w / w.sum()
                o[b, t, h] = sum(w[j] * v[j] for j in range(t + 1))
    want = o.reshape(B, T, H * dh) @ attn.out.weight.double().t()
    torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(k_cache.double(), keys, atol=1e-5, rtol=1e-5)  # the cache holds keys after RoPE
    torch.testing.assert_close(v_cache.double(), qkv[:, :, 2].transpose(1, 2), atol=1e-6, rtol=1e-6)


def test_rope_scores_depend_only_on_position_difference():
    """<R_m q, R_n k> = <q, R_{n-m} k> (2104.09864 eq. 16): shifting both positions leaves the score unchanged."""
    torch.manual_seed(3)
    dh, base = 32, 10000.0
    inv_freq = base ** (-torch.arange(0, dh, 2, dtype=torch.float64) / dh)
    q, k = torch.randn(dh, dtype=torch.float64), torch.randn(dh, dtype=torch.float64)

    def rope(x, m):
        cos, sin = tf.rope_angles(torch.tensor([float(m)], dtype=torch.float64), inv_freq)
        return tf.apply_rope(x.view(1, dh), cos, sin).view(dh)

    for m, n in [(0, 0), (3, 7), (10, 2), (100, 131)]:
        ref = rope(q, m) @ rope(k, n)
        for shift in (1, 17, 500):
            torch.testing.assert_close(rope(q, m + shift) @ rope(k, n + shift), ref, atol=1e-9, rtol=1e-9)
        torch.testing.assert_close(ref, q @ rope(k, n - m), atol=1e-9, rtol=1e-9)
        torch.testing.assert_close(rope(q, m), rotation(m, dh, base) @ q, atol=1e-9, rtol=1e-9)
    # and it is a rotation: norms are kept
    torch.testing.assert_close(rope(q, 12345).norm(), q.norm())


@torch.no_grad()
def test_kv_cache_grows_by_one_per_step(net):
    torch.manual_seed(4)
    ids = torch.randint(0, VOCAB, (2, 6))
    past = net.init_state(2)
    assert [tuple(p.shape) for p in past] == [(2, 2, 0, 16)] * 4  # 2 layers x (key, value), empty
    for t in range(ids.shape[1]):
        _, *present = net(ids[:, t : t + 1], *past)
        for before, after in zip(past, present):
            assert after.shape[2] == before.shape[2] + 1 == t + 1
            torch.testing.assert_close(after[:, :, :t], before)  # old entries untouched: the step only appends
        past = present
    # the stepped cache equals the prefill's
    _, *prefilled = net(ids)
    for a, b in zip(past, prefilled):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


@torch.no_grad()
def test_onnx_step_runs_from_an_empty_cache(net, tmp_path):
    """The step graph is traced with past_seq = 5 (torch.export Dim min=1, as export.py does), yet onnxruntime runs
    it from past_seq = 0: the first step of a generation, and every later step, match the prefill."""
    ort = pytest.importorskip("onnxruntime")
    from ssmbench_trainer.export import Step, export_graph

    torch.manual_seed(5)
    spec = net.state_spec()
    ids = torch.randint(0, VOCAB, (2, 9))
    past = tuple(p.clone() for p in net(ids[:, :5].clone())[1:])
    batch, past_seq = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("past_seq", min=1, max=1 << 20)
    path = tmp_path / "step.onnx"
    names_in = ["input_ids", *[f"past_{s['name']}" for s in spec]]
    names_out = ["logits", *[f"present_{s['name']}" for s in spec]]
    export_graph(Step(net), (ids[:, :1].clone(), *past), ({0: batch}, tuple({0: batch, 2: past_seq} for _ in spec)),
                 names_in, names_out, path, {}, 18)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()][1:]
    state = [p.numpy() for p in net.init_state(2)]
    logits = []
    for t in range(ids.shape[1]):
        out = sess.run(None, {"input_ids": ids[:, t : t + 1].numpy(), **dict(zip(names, state))})
        assert all(s.shape[2] == t + 1 for s in out[1:])
        logits.append(out[0])
        state = out[1:]
    full = net(ids)
    torch.testing.assert_close(torch.from_numpy(np.concatenate(logits, 1)), full[0], atol=1e-4, rtol=1e-4)
    for a, b in zip(state, full[1:]):
        torch.testing.assert_close(torch.from_numpy(a), b, atol=1e-4, rtol=1e-4)
