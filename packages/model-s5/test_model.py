"""Parity of the S5 reference: the shared contract (chunked parallel-scan prefill vs the token-by-token recurrence,
step vs prefill), the layer against the paper's equations evaluated literally in complex128, the HiPPO-N init,
and an ONNX export of the prefill with a dynamic length."""
import math

import pytest
import torch

import model as s5
from ssmbench_trainer.contract import check_contract, check_default_config, check_onnx_export, close, seeded_model

torch.set_num_threads(1)


@pytest.mark.parametrize("cfg", [{}, {"blocks": 4, "d_state": 32}, {"clip_eigs": False, "mlp_factor": 2}])
def test_contract(cfg):
    """Chunk 8: the contract's lengths 1..100 are on and off chunk boundaries, one chunk and many."""
    check_contract(seeded_model(s5.Model, {"d_model": 16, "n_layers": 2, "chunk": 8, **cfg}, 30, seed=0), 30)


def test_default_config_contract():
    m = check_default_config(s5.Model, {"ssm.0": ["batch", 32, 2], "ssm.1": ["batch", 32, 2]}, seed=1)
    assert (m.config["d_state"], m.config["chunk"]) == (64, 32)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 9, 50])
def test_layer_is_the_papers_equations(T):
    """Lambdabar = exp(Lambda Delta), Bbar = Lambda^-1 (Lambdabar - 1) B~, x_t = Lambdabar x_{t-1} + Bbar u_t,
    y_t = 2 Re(C~ x_t) + D u_t, in complex128 with a Python loop, then the layer's own GELU -> GLU."""
    torch.manual_seed(T)
    layer = s5.S5Layer(8, 16, chunk=4).eval()
    layer.Lambda_re[0] = 0.3                                           # clipped to -1e-4 by clip_eigs
    u = torch.randn(2, T, 8)
    lam = torch.complex(layer.Lambda_re.double().clamp(max=-1e-4), layer.Lambda_im.double())
    delta = torch.exp(layer.log_step.double())
    lbar = torch.exp(lam * delta)
    bbar = ((lbar - 1) / lam)[:, None] * torch.view_as_complex(layer.B.double())
    C = torch.view_as_complex(layer.C.double())
    x = torch.zeros(2, layer.M, dtype=torch.complex128)
    ys = []
    for t in range(T):
        x = lbar * x + u[:, t].double().to(torch.complex128) @ bbar.T
        ys.append(2 * (x @ C.T).real + layer.D.double() * u[:, t].double())
    ref = layer.out(torch.stack(ys, 1).float())
    out, (state,) = layer(u)
    close(out, ref)
    close(torch.view_as_complex(state.double().contiguous()), x, 1e-5)


def test_hippo_n_init():
    """Lambda: eigenvalues of HiPPO-N = HiPPO-LegS + p p^T, all with real part -1/2; V its unitary eigenvectors;
    the layer keeps one eigenvalue of each conjugate pair."""
    n = 8
    lam, V = s5.hippo_n(n)
    q = torch.sqrt(2 * torch.arange(n, dtype=torch.float64) + 1)
    A = -(torch.tril(q[:, None] * q[None, :]) - torch.diag(torch.arange(n, dtype=torch.float64)))
    assert math.isclose(A[2, 2], -3) and math.isclose(A[3, 1], -math.sqrt(7 * 3)) and A[1, 3] == 0   # -(n+1) on the diagonal
    p = torch.sqrt(torch.arange(n, dtype=torch.float64) + 0.5)
    AN = (A + p[:, None] * p[None, :]).to(torch.complex128)
    close(AN @ V, V * lam, 1e-10)
    close(V.conj().T @ V, torch.eye(n, dtype=torch.complex128), 1e-10)
    close(lam.real, torch.full((n,), -0.5, dtype=torch.float64), 1e-12)
    close(torch.sort(lam.imag[: n // 2]).values, -torch.sort(lam.imag[n // 2:], descending=True).values, 1e-10)
    layer = s5.S5Layer(4, 2 * n)
    assert layer.M == n and (layer.Lambda_im < 0).all()
    dt = torch.exp(layer.log_step)
    assert ((dt >= 1e-3 - 1e-9) & (dt <= 0.1 + 1e-9)).all()


def test_onnx_prefill_dynamic_length(tmp_path):
    """prefill.onnx traced at 40 tokens runs at 37 and 300 (chunk 32, 4 scan levels: up to 512) and matches PyTorch
    within 1e-5 on onnxruntime, logits and final state."""
    net = seeded_model(s5.Model, {"d_model": 16, "n_layers": 1, "scan_levels": 4}, 20, seed=6)
    check_onnx_export(net, 20, tmp_path, step=False, logits_rtol=1e-5, opset=18)
