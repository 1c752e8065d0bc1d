"""Parity of the LRU reference: the shared contract (chunked parallel-scan prefill vs the token-by-token recurrence,
step vs prefill), the layer against the paper's equations evaluated literally in complex128, the ring
initialisation and gamma normalisation, and an ONNX export of the prefill with a dynamic length."""
import math

import pytest
import torch

import model as lru
from ssmbench_trainer.contract import check_contract, check_default_config, check_onnx_export, close, seeded_model

torch.set_num_threads(1)


@pytest.mark.parametrize("cfg", [{}, {"r_min": 0.0, "r_max": 1.0, "mlp_factor": 2}])
def test_contract(cfg):
    """Chunk 8: the contract's lengths 1..100 are on and off chunk boundaries, one chunk and many."""
    check_contract(seeded_model(lru.Model, {"d_model": 16, "n_layers": 2, "chunk": 8, **cfg}, 30, seed=0), 30)


def test_default_config_contract():
    """Default config (|Lambda| up to 0.999: long memories) at lengths around the chunk and well past it."""
    m = check_default_config(lru.Model, {"ssm.0": ["batch", 64, 2], "ssm.1": ["batch", 64, 2]}, seed=1,
                             lengths=(1, 31, 32, 33, 70, 300))
    assert (m.config["d_state"], m.config["chunk"]) == (64, 32)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 9, 50])
def test_layer_is_the_papers_equations(T):
    """Lambda = exp(-exp(nu_log) + i exp(theta_log)), h_t = Lambda h_{t-1} + gamma (B u_t), y_t = Re(C h_t) + D u_t,
    in complex128 with a Python loop, then the layer's own GELU -> GLU."""
    torch.manual_seed(T)
    layer = lru.LRULayer(8, 12, chunk=4).eval()
    u = torch.randn(2, T, 8)
    lam = torch.exp(torch.complex(-torch.exp(layer.nu_log.double()), torch.exp(layer.theta_log.double())))
    gamma = torch.exp(layer.gamma_log.double())
    B, C = torch.view_as_complex(layer.B.double()), torch.view_as_complex(layer.C.double())
    h = torch.zeros(2, 12, dtype=torch.complex128)
    ys = []
    for t in range(T):
        h = lam * h + gamma * (u[:, t].double().to(torch.complex128) @ B.T)
        ys.append((h @ C.T).real + layer.D.double() * u[:, t].double())
    ref = layer.out(torch.stack(ys, 1).float())
    out, (state,) = layer(u)
    close(out, ref)
    close(torch.view_as_complex(state.double().contiguous()), h, 1e-5)


@torch.no_grad()
def test_ring_init_and_normalisation():
    torch.manual_seed(2)
    r_min, r_max, max_phase = 0.4, 0.9, math.pi / 10
    layer = lru.LRULayer(16, 4000, r_min=r_min, r_max=r_max, max_phase=max_phase)
    mod = torch.exp(-torch.exp(layer.nu_log.double()))
    phase = torch.exp(layer.theta_log.double())
    assert (mod >= r_min - 1e-6).all() and (mod <= r_max + 1e-6).all()
    assert (phase >= 0).all() and (phase <= max_phase + 1e-6).all()
    # uniform on the ring in area: |Lambda|^2 is uniform on [r_min^2, r_max^2]
    mid = (r_min ** 2 + r_max ** 2) / 2
    assert abs(float((mod ** 2 < mid).double().mean()) - 0.5) < 0.04
    close(torch.exp(layer.gamma_log.double()), torch.sqrt(1 - mod ** 2), 1e-6)
    # B and C scales: E|B_ij|^2 = 1/H, E|C_ij|^2 = 2/N
    assert abs(float(layer.B.pow(2).sum(-1).mean()) * 16 - 1) < 0.05
    assert abs(float(layer.C.pow(2).sum(-1).mean()) * 4000 / 2 - 1) < 0.05


def test_onnx_prefill_dynamic_length(tmp_path):
    """prefill.onnx traced at 40 tokens runs at 37 and 300 (chunk 32, 4 scan levels: up to 512) and matches PyTorch
    within 1e-5 on onnxruntime, logits and final state."""
    net = seeded_model(lru.Model, {"d_model": 16, "n_layers": 1, "scan_levels": 4}, 20, seed=6)
    check_onnx_export(net, 20, tmp_path, step=False, logits_rtol=1e-5, opset=18)
