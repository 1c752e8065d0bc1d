"""Parity of the H3 reference: the shared contract (chunked prefill vs the token-by-token recurrence, step vs
prefill), the layer against a direct complex128 transcription of the paper's algorithm, the shift SSM as a shift
register, and the ONNX prefill with a dynamic length."""
import pytest
import torch

import model as h3
from ssmbench_trainer.contract import check_contract, check_default_config, check_onnx_export, close, seeded_model

torch.set_num_threads(1)


def _longer_memories(m):
    """Longer memories than the S4D init's smallest steps give, and a random shift kernel."""
    for subs in m.layers:
        subs[0].fn.log_dt.uniform_(-3, -1)
        subs[0].fn.shift_kernel.normal_()


@pytest.fixture(scope="module")
def net():
    cfg = {"d_model": 32, "n_layers": 2, "head_dim": 4, "d_state": 8, "shift_state": 3, "chunk": 8}
    return seeded_model(h3.Model, cfg, 50, seed=0, prepare=_longer_memories)


def test_contract(net):
    """Lengths 1..100 at chunk 8: one chunk, many, multiples and not."""
    check_contract(net, 50, seed=1)


def test_default_config_contract():
    layer = {"shift": ["batch", 64, 3], "ssm": ["batch", 2, 8, 8, 8, 16]}
    check_default_config(h3.Model, {f"{name}.{i}": shape for i in range(2) for name, shape in layer.items()})


@torch.no_grad()
def test_layer_matches_the_papers_algorithm(net):
    """Algorithm 1 in complex128, token by token: shift register -> K~, per-head outer products K~^T V, S4D-ZOH diagonal
    SSM per channel (lambda = exp(Delta A), b = (lambda - 1)/A, y = 2 Re(C s) + D KV), O = Q KV~, W_O."""
    torch.manual_seed(3)
    mix = net.layers[0][0].fn
    T, H, dh, N, Ns = 21, mix.H, mix.dh, mix.N, mix.Ns
    u = torch.randn(2, T, 32)
    out, (shift_state, ssm_state) = mix(u)
    q, k, v = (t.double() for t in mix.qkv(u).chunk(3, -1))
    A = torch.complex(-torch.exp(mix.A_log.double()), mix.A_im.double())           # [H, N]
    lam = torch.exp(torch.exp(mix.log_dt.double())[:, None] * A)
    b = (lam - 1) / A
    C = torch.complex(mix.C[0].double(), mix.C[1].double())
    reg = torch.zeros(2, 32, Ns, dtype=torch.float64)                               # x_t = [K_t, K_{t-1}, ...]
    s = torch.zeros(2, H, dh, dh, N, dtype=torch.complex128)
    outs = []
    for t in range(T):
        reg = torch.cat([k[:, t, :, None], reg[:, :, :-1]], -1)
        ks = (reg * mix.shift_kernel.double()).sum(-1).view(2, H, dh, 1)
        kv = ks * v[:, t].view(2, H, 1, dh)                                          # [2, H, dh(k), dh(v)]
        s = lam[:, None, None, :] * s + b[:, None, None, :] * kv[..., None]
        kvt = 2 * (C[:, None, None, :] * s).sum(-1).real + mix.D.double().view(H, 1, 1) * kv
        o = (q[:, t].view(2, H, 1, dh) @ kvt).reshape(2, 32)
        outs.append(mix.out_proj(o.float()))
    close(out, torch.stack(outs, 1))
    close(ssm_state.double(), torch.stack([s.real, s.imag], 1))
    close(shift_state.double(), k[:, T - Ns + 1:].transpose(1, 2))


@torch.no_grad()
def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill exported at T = 40 runs at T = 37 and 300 on onnxruntime and matches PyTorch within 1e-5."""
    cfg = {"d_model": 16, "n_layers": 1, "head_dim": 4, "d_state": 4, "chunk": 8, "scan_levels": 6}
    check_onnx_export(seeded_model(h3.Model, cfg, 20, seed=4), 20, tmp_path, lengths=(1, 37, 300), batch=3, step=False,
                      logits_rtol=1e-5)
