"""Parity of the Mega (Mega-chunk) reference: the shared contract (chunked prefill vs the token-by-token step with
its chunk buffer, step vs prefill), the EMA against the paper's recurrence, the attention against a block-diagonal
masked softmax over the whole sequence, the buffer's contents, and the ONNX prefill with a dynamic length."""
import pytest
import torch

import model as mega
from ssmbench_trainer.contract import check_contract, check_default_config, check_onnx_export, close, seeded_model

torch.set_num_threads(1)


def _relative_biases(m):
    for subs in m.layers:
        subs[0].fn.rel_bias.normal_()


@pytest.fixture(scope="module")
def net():
    cfg = {"d_model": 16, "n_layers": 2, "z_dim": 8, "v_dim": 32, "ema_dim": 4, "chunk": 8}
    return seeded_model(mega.Model, cfg, 50, seed=0, prepare=_relative_biases)


def test_contract(net):
    """Lengths 1..100 at chunk 8: inside the first chunk, at and across chunk boundaries (the step's buffer resets)."""
    check_contract(net, 50, seed=1)


def test_default_config_contract():
    layer = {"ema": ["batch", 64, 16], "chunk_key": ["batch", 32, 32], "chunk_value": ["batch", 32, 128],
             "chunk_len": ["batch", 1]}
    check_default_config(mega.Model, {f"{name}.{i}": shape for i in range(2) for name, shape in layer.items()})


@torch.no_grad()
def test_ema_matches_the_papers_recurrence(net):
    """h_t = alpha * beta x_t + (1 - alpha delta) h_{t-1}, y = eta^T h / sqrt(h), X' = SiLU(y + omega x) (float64)."""
    torch.manual_seed(3)
    ema = net.layers[0][0].fn.ema
    x = torch.randn(2, 29, 16)
    out, s_last = ema(x, 8, 16)
    a, dl = torch.sigmoid(ema.alpha.double()), torch.sigmoid(ema.delta.double())
    h = torch.zeros(2, 16, 4, dtype=torch.float64)
    ys = []
    for t in range(29):
        h = a * ema.beta.double() * x[:, t, :, None].double() + (1 - a * dl) * h
        ys.append(torch.nn.functional.silu((ema.eta.double() * h).sum(-1) / 2 + ema.omega.double() * x[:, t].double()))
    close(out.double(), torch.stack(ys, 1))
    close(s_last.double(), h)


@torch.no_grad()
def test_attention_is_block_diagonal(net):
    """The sub-layer equals a version with full-sequence causal softmax attention restricted to same-chunk pairs."""
    torch.manual_seed(4)
    mix = net.layers[1][0].fn
    x = torch.randn(2, 27, 16)
    got, _ = mix(x)
    xn = mix.norm(x)
    mx, _ = mix.ema(xn, 8, 16)
    phi, q, k, v, r, hx = mix._gates(xn, mx)
    t = torch.arange(27)
    same = (t[:, None] // 8 == t[None, :] // 8) & (t[:, None] >= t[None, :])
    bias = mix.rel_bias[(t[:, None] - t[None, :]).clamp(0, 7)]
    scores = torch.where(same, q @ k.transpose(-1, -2) / 8 ** 0.5 + bias, torch.tensor(float("-inf")))
    o = torch.softmax(scores, -1) @ v
    close(got, mix._finish(x, phi, o, r, hx))


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 7, 8, 9, 16, 21])
def test_buffer_holds_the_current_chunk(net, T):
    """After T tokens the buffer holds the keys of the last chunk's first ((T-1) mod c) + 1 tokens, zeros after, and
    the count is that number (c = 8)."""
    torch.manual_seed(T)
    mix = net.layers[0][0].fn
    x = torch.randn(1, T, 16)
    _, (_, kbuf, _, count) = mix(x)
    xn = mix.norm(x)
    _, k = mix._gates(xn, mix.ema(xn, 8, 16)[0])[1:3]
    n = (T - 1) % 8 + 1
    assert float(count) == n
    close(kbuf[0, :n], k[0, T - n:])
    assert not kbuf[0, n:].any()


@torch.no_grad()
def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill exported at T = 40 runs at T = 37 and 300 on onnxruntime and matches PyTorch within 1e-5."""
    cfg = {"d_model": 16, "n_layers": 1, "z_dim": 8, "v_dim": 32, "ema_dim": 4, "chunk": 8, "scan_levels": 6}
    check_onnx_export(seeded_model(mega.Model, cfg, 20, seed=5), 20, tmp_path, lengths=(1, 37, 300), batch=3,
                      step=False, logits_rtol=1e-5)
