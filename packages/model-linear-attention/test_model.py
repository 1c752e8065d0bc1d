"""Parity of the linear-attention reference: the shared contract (chunked prefill vs the token-by-token recurrence,
step vs prefill), the chunked layer against the paper's masked quadratic form (eq. 9), and the ONNX export with a
dynamic length."""
import pytest
import torch

import model as family
from ssmbench_trainer.contract import (check_contract, check_default_config, check_onnx_export,
                                       check_parallel_matches_sequential, close, seeded_model)

torch.set_num_threads(1)

SMALL = {"d_model": 32, "n_layers": 2, "n_heads": 2, "chunk": 8}


def test_contract():
    check_contract(seeded_model(family.Model, SMALL, 50, seed=0), 50)


def test_default_config():
    check_default_config(family.Model, {"kv.0": ["batch", 2, 32, 32], "z.0": ["batch", 2, 32],
                                        "kv.1": ["batch", 2, 32, 32], "z.1": ["batch", 2, 32]}, seed=1)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 7, 8, 9, 24, 50])
def test_chunked_equals_quadratic_form(T):
    """V'_i = sum_{j<=i} (phi(Q_i) . phi(K_j)) V_j / sum_{j<=i} phi(Q_i) . phi(K_j) (eq. 9 with the causal mask),
    in float64, and the final states are sum_j phi(K_j) V_j^T and sum_j phi(K_j)."""
    torch.manual_seed(T)
    att = family.LinearAttention(32, n_heads=2, chunk=8).double().eval()
    u = torch.randn(2, T, 32, dtype=torch.float64)
    out, (S, z) = att(u)
    q, k, v = (t.transpose(1, 2) for t in att._project(u))
    i = torch.arange(T)
    A = (q @ k.transpose(-1, -2)) * (i.view(-1, 1) >= i.view(1, -1))
    ref = (A @ v) / (A.sum(-1, keepdim=True) + att.eps)
    close(out, att.o_proj(ref.transpose(1, 2).flatten(-2)), 1e-10)
    close(S, k.transpose(-1, -2) @ v, 1e-10)
    close(z, k.sum(2), 1e-10)


def test_feature_map_is_positive():
    """phi > 0 (in float32 it underflows to 0 below x ~ -17: eps keeps the denominator positive then)."""
    x = torch.linspace(-15, 50, 131)
    phi = family.elu_feature_map(x)
    assert (phi > 0).all() and (family.elu_feature_map(torch.tensor([-1e4])) >= 0).all()
    close(phi[x >= 0], x[x >= 0] + 1, 0)


@torch.no_grad()
def test_long_sequence_many_chunks():
    net = seeded_model(family.Model, SMALL, 50, seed=3)
    check_parallel_matches_sequential(net, 50, lengths=(8 * 150 + 5,), batch=1, tol=1e-4)


def test_onnx_prefill_dynamic_length(tmp_path):
    """prefill.onnx and step.onnx traced at 40 tokens equal PyTorch at 37 and 300 (see check_onnx_export)."""
    cfg = {"d_model": 16, "n_layers": 1, "n_heads": 2, "chunk": 16}
    check_onnx_export(seeded_model(family.Model, cfg, 20, seed=4), 20, tmp_path)
