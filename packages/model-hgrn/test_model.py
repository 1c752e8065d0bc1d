"""Parity of the HGRN reference: the shared contract (chunked-scan prefill vs the token-by-token recurrence, step vs
prefill), the lower bounds' shape across layers, the recurrence against a complex128 loop, and the ONNX prefill
with a dynamic length."""
import pytest
import torch

import model as hgrn
from ssmbench_trainer.contract import check_contract, check_default_config, check_onnx_export, close, seeded_model

torch.set_num_threads(1)


def _bounds_and_rotations(m):
    """Non-trivial lower bounds and rotations."""
    m.lower_bounds.gamma.normal_()
    for subs in m.layers:
        subs[0].fn.theta.uniform_(-3, 3)


@pytest.fixture(scope="module")
def net():
    cfg = {"d_model": 32, "n_layers": 3, "chunk": 8}
    return seeded_model(hgrn.Model, cfg, 50, seed=0, prepare=_bounds_and_rotations)


def test_contract(net):
    """Lengths 1..100 at chunk 8: one chunk, many, multiples and not."""
    check_contract(net, 50, seed=1)


def test_default_config_contract():
    check_default_config(hgrn.Model, {"hidden.0": ["batch", 2, 64], "hidden.1": ["batch", 2, 64]})


def test_lower_bounds_are_monotone_from_zero(net):
    """gamma^1 = 0 and gamma^k increases with depth, below 1 (Section 3.2); zeros init gives k / n_layers."""
    b = torch.stack([net.lower_bounds(k) for k in range(3)])
    assert torch.all(b[0] == 0)
    assert torch.all(b[1:] >= b[:-1]) and torch.all(b < 1)
    fresh = hgrn.LowerBounds(4, 3)
    close(torch.stack([fresh(k) for k in range(4)]), torch.arange(4.0).view(4, 1).expand(4, 3) / 4, 1e-7)


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
    close(h_last.double(), torch.stack([h.real, h.imag], 1))
    g = torch.sigmoid(mix.gate_proj(u))
    ref = mix.out_proj(mix.out_norm(g * torch.cat([hs.real, hs.imag], -1).float()))
    close(out, ref)


@torch.no_grad()
def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill exported at T = 40 runs at T = 37 and 300 on onnxruntime and matches PyTorch within 1e-5."""
    cfg = {"d_model": 16, "n_layers": 2, "chunk": 8, "scan_levels": 6}
    check_onnx_export(seeded_model(hgrn.Model, cfg, 20, seed=4), 20, tmp_path, batch=3, step=False,
                      logits_rtol=1e-5)
