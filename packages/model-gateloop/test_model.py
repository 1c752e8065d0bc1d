"""Parity of the GateLoop reference: the shared contract (chunked prefill vs the token-by-token recurrence, step vs
prefill), the operator against a complex128 loop and against the quadratic surrogate-attention form, and the ONNX
prefill with a dynamic length."""
import pytest
import torch

import model as gateloop
from ssmbench_trainer.contract import check_contract, check_default_config, check_onnx_export, close, seeded_model

torch.set_num_threads(1)


def _faster_forgetting(m):
    """Faster forgetting and larger phases than at init."""
    for subs in m.layers:
        subs[0].fn.transition.weight.normal_(0, 0.5)
        subs[0].fn.transition.bias.normal_(0, 1)


@pytest.fixture(scope="module")
def net():
    cfg = {"d_model": 32, "n_layers": 2, "n_heads": 4, "chunk": 8}
    return seeded_model(gateloop.Model, cfg, 50, seed=0, prepare=_faster_forgetting)


def test_contract(net):
    """Lengths 1..100 at chunk 8: one chunk, many, multiples and not."""
    check_contract(net, 50, seed=1)


def test_default_config_contract():
    check_default_config(gateloop.Model, {"gateloop.0": ["batch", 2, 4, 16, 16], "gateloop.1": ["batch", 2, 4, 16, 16]})


@torch.no_grad()
def test_operator_matches_complex_recurrence_and_surrogate_attention(net):
    """y_t = Re(q_t S_t) with S_t = a_t S_{t-1} + k_t^T v_t in complex128, and the O(T^2) surrogate attention
    y_t = sum_{s<=t} Re(prod_{s<j<=t} a_j) (q_t . k_s) v_s (Section 3.3), equal the chunked prefill."""
    torch.manual_seed(3)
    mix = net.layers[0][0].fn
    u = torch.randn(2, 27, 32)
    q, k, v, g, log_mag, phase = mix._project(u)
    from ssmbench_trainer.gatedscan import gla_complex_chunked
    y, (Sr, Si) = gla_complex_chunked(q, k, v, log_mag, phase, mix.chunk, mix.scan_levels)
    a = torch.exp(torch.complex(log_mag.double(), phase.double()))               # [B, H, T]
    S = torch.zeros(2, 4, 8, 8, dtype=torch.complex128)
    ys = []
    for t in range(27):
        S = a[:, :, t, None, None] * S + (k[:, :, t, :, None] * v[:, :, t, None, :]).double()
        ys.append((q[:, :, t, None, :].double().to(S.dtype) @ S).squeeze(-2).real)
    close(y.double(), torch.stack(ys, 2))
    close(Sr.double(), S.real)
    close(Si.double(), S.imag)
    cum = torch.cumsum(torch.complex(log_mag.double(), phase.double()), -1)       # log prod a_j
    D = torch.exp(cum[..., :, None] - cum[..., None, :]).real.tril()
    att = ((q.double() @ k.double().transpose(-1, -2)) * D) @ v.double()
    close(y.double(), att)


@torch.no_grad()
def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill exported at T = 40 runs at T = 37 and 300 on onnxruntime and matches PyTorch within 1e-5."""
    cfg = {"d_model": 16, "n_layers": 1, "n_heads": 2, "chunk": 8, "scan_levels": 6}
    check_onnx_export(seeded_model(gateloop.Model, cfg, 20, seed=4), 20, tmp_path, batch=3, step=False,
                      logits_rtol=1e-5)
