"""Parity of the GLA reference: the shared contract (chunkwise prefill vs the token-by-token recurrence, step vs
prefill), the gate's form and range, the chunked layer in float64, gates at the floor, and the ONNX export with a
dynamic length."""
import pytest
import torch
import torch.nn.functional as F

import model as family
from ssmbench_trainer.contract import (check_contract, check_default_config, check_onnx_export,
                                       check_parallel_matches_sequential, close, seeded_model)

torch.set_num_threads(1)

SMALL = {"d_model": 32, "n_layers": 2, "n_heads": 2, "chunk": 8}


def _sharpen(net, scale=30.0):
    """Fresh gates sit near alpha = 0.96; widen them (alpha from ~0.1 to ~1) so decay matters in the checks."""
    with torch.no_grad():
        for layers in net.layers:
            layers[0].fn.gk_up.weight.mul_(scale)
    return net


def test_contract():
    check_contract(seeded_model(family.Model, SMALL, 50, seed=0, prepare=_sharpen), 50)


def test_default_config():
    net = check_default_config(family.Model, {"kv.0": ["batch", 2, 16, 32], "kv.1": ["batch", 2, 16, 32]}, seed=1)
    gla = net.layers[0][0].fn
    assert (gla.n_heads, gla.dk, gla.dv, gla.chunk) == (2, 16, 32, 32)
    assert net.layers[0][1].fn.fn.gate_proj.out_features == 176


def test_gate_is_the_papers():
    """alpha = sigmoid(x W1 W2 + b)^(1/16), low rank 16, in (0, 1); near 1 at init."""
    torch.manual_seed(2)
    gla = family.GatedLinearAttention(32, n_heads=2)
    assert gla.gk_down.weight.shape == (16, 32) and gla.gk_up.weight.shape == (16, 16)
    u = torch.randn(3, 32)
    _, _, _, log_alpha = gla._project(u)
    alpha = torch.sigmoid(gla.gk_up(gla.gk_down(u))) ** (1 / 16)
    close(log_alpha.exp().flatten(-2), alpha, 1e-6)
    assert (alpha > 0.9).all() and (alpha < 1).all()


def test_log_sigmoid_is_logsigmoid():
    x = torch.linspace(-200, 60, 2601, dtype=torch.float64)
    close(family.log_sigmoid(x), F.logsigmoid(x), 1e-12)
    close(family.log_sigmoid(x.float()), F.logsigmoid(x.float()), 1e-6)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 7, 8, 9, 24, 50])
def test_chunkwise_layer_equals_recurrence_float64(T):
    """The whole GLA layer, chunkwise (chunk 8) vs stepping, in float64: the same math to rounding."""
    torch.manual_seed(T)
    gla = family.GatedLinearAttention(32, n_heads=2, chunk=8).double().eval()
    gla.gk_up.weight.mul_(30)
    u = torch.randn(2, T, 32, dtype=torch.float64)
    out, (S,) = gla(u)
    S1, outs = torch.zeros_like(S), []
    for t in range(T):
        y, (S1,) = gla.step(u[:, t], [S1])
        outs.append(y)
    close(torch.stack(outs, 1), out, 1e-10)
    close(S1, S, 1e-10)


def test_gates_at_the_floor_stay_finite():
    """Every gate at the floor (alpha = e^-5 per step at chunk 32) with large q, k: exact and finite gradients."""
    torch.manual_seed(3)
    net = family.Model({**SMALL, "chunk": 32}, vocab=50)
    with torch.no_grad():
        for layers in net.layers:
            layers[0].fn.gk_up.bias.fill_(-1e4)
            layers[0].fn.q_proj.weight.mul_(20)
            layers[0].fn.k_proj.weight.mul_(20)
    check_parallel_matches_sequential(net.eval(), 50, lengths=(7, 70), batch=2, tol=1e-4)
    ids = torch.randint(0, 50, (2, 70))
    net.train()
    net.head(net.hidden(ids)).logsumexp(-1).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name


@torch.no_grad()
def test_long_sequence_many_chunks():
    net = seeded_model(family.Model, SMALL, 50, seed=4, prepare=_sharpen)
    check_parallel_matches_sequential(net, 50, lengths=(8 * 150 + 5,), batch=1, tol=1e-4)


def test_onnx_prefill_dynamic_length(tmp_path):
    """prefill.onnx and step.onnx traced at 40 tokens equal PyTorch at 37 and 300 (see check_onnx_export)."""
    # One layer and 6 scan levels (up to 1024 tokens): the export's time is mostly per-node overhead.
    cfg = {"d_model": 16, "n_layers": 1, "n_heads": 2, "chunk": 16, "scan_levels": 6}
    check_onnx_export(seeded_model(family.Model, cfg, 20, seed=5, prepare=_sharpen), 20, tmp_path)
