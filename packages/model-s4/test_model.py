"""Parity of the S4 reference: the NPLR init against HiPPO-LegS itself; the DPLR (Woodbury) discretisation and the
Cauchy + Woodbury kernel against a dense reference (the full N x N complex system, linalg.solve, dense powers,
complex128); the FFT prefill against a direct convolution and the dense recurrence's final state; the shared
contract (prefill vs the token-by-token recurrence, step vs prefill) in float32 and float64; an ONNX export of
prefill and step at lengths other than the trace length."""
import math

import pytest
import torch

import model as s4
from ssmbench_trainer.contract import (check_contract, check_default_config, check_onnx_export,
                                      check_parallel_matches_sequential, close, seeded_model)

torch.set_num_threads(1)


def dense_system(layer):
    """The full (both conjugate halves) system in complex128: Abar [H, N, N], Bbar [H, N], C [H, N], discretised
    densely: Abar = (I - dt/2 A)^-1 (I + dt/2 A), Bbar = (I - dt/2 A)^-1 dt B, A = Lambda - P P^*."""
    dt, lam, p, b, c = layer.continuous()
    z = lambda x: torch.complex(*x)                                               # noqa: E731
    both = lambda x: torch.cat([z(x), z(x).conj()], -1)                           # noqa: E731
    lam, P, B, C = both(lam), both(p), both(b), both(c)
    A = torch.diag_embed(lam) - P.unsqueeze(-1) * P.conj().unsqueeze(-2)
    eye = torch.eye(A.shape[-1], dtype=A.dtype)
    h = (dt / 2).to(A.dtype).unsqueeze(-1)                                        # [H, 1, 1]
    Abar = torch.linalg.solve(eye - h * A, eye + h * A)
    Bbar = torch.linalg.solve(eye - h * A, (2 * h * B.unsqueeze(-1))).squeeze(-1)
    return Abar, Bbar, C


def naive_kernel(layer, L):
    """K_k = C Abar^k Bbar, k < L, by dense matrix powers: [H, L]."""
    Abar, Bbar, C = dense_system(layer)
    ks, x = [], Bbar
    for _ in range(L):
        ks.append((C * x).sum(-1))
        x = (Abar @ x.unsqueeze(-1)).squeeze(-1)
    K = torch.stack(ks, -1)
    assert K.imag.abs().max() < 1e-12 * max(1.0, float(K.real.abs().max()))      # conjugate symmetry: a real kernel
    return K.real


def perturbed_layer(H=4, N=8, seed=0, dt_max=0.5):
    """A float64 layer moved off its init (Lambda, P, B all random), so the checks see a general DPLR system."""
    torch.manual_seed(seed)
    layer = s4.S4Layer(H, N, dt_max=dt_max).double().eval()
    with torch.no_grad():
        layer.log_A_real.add_(0.5 * torch.randn_like(layer.log_A_real))
        layer.A_imag.mul_(1 + 0.3 * torch.randn_like(layer.A_imag))
        layer.P.add_(0.3 * torch.randn_like(layer.P))
        layer.B.add_(0.3 * torch.randn_like(layer.B))
    return layer


def test_nplr_is_hippo_legs():
    """V (Lambda - p p^*) V^* rebuilds HiPPO-LegS's A, V b its B, V p its P; Re Lambda = -1/2; V_full unitary."""
    for n in (2, 8, 64):
        lam, p, b, V = s4.nplr(n)
        A, B, P = s4.hippo_legs(n)
        Vf = torch.cat([V, V.conj()], 1)
        both = lambda x: torch.cat([x, x.conj()])                                 # noqa: E731
        close(Vf.conj().T @ Vf, torch.eye(n, dtype=Vf.dtype), 1e-12)
        rebuilt = Vf @ (torch.diag(both(lam)) - both(p)[:, None] * both(p).conj()[None]) @ Vf.conj().T
        close(rebuilt, A.to(rebuilt.dtype), 1e-11 * n)
        close(Vf @ both(b), B.to(Vf.dtype), 1e-11 * n)
        close(Vf @ both(p), P.to(Vf.dtype), 1e-11 * n)
        close(lam.real, torch.full((n // 2,), -0.5, dtype=torch.float64))
        assert (lam.imag > 0).all()
    A, _, _ = s4.hippo_legs(3)
    close(A, torch.tensor([[-1.0, 0, 0], [-math.sqrt(3), -2, 0], [-math.sqrt(5), -math.sqrt(15), -3]], dtype=torch.float64))


def test_layer_init():
    torch.manual_seed(1)
    layer = s4.S4Layer(4, 8)
    lam, p, b, _ = s4.nplr(8)
    close(-torch.exp(layer.log_A_real), torch.full((4, 4), -0.5))
    close(layer.A_imag, lam.imag.float().repeat(4, 1))
    close(torch.view_as_complex(layer.P), p.to(torch.complex64).repeat(4, 1))
    close(torch.view_as_complex(layer.B), b.to(torch.complex64).repeat(4, 1))
    dt = torch.exp(layer.log_dt)
    assert ((dt >= 1e-3 - 1e-9) & (dt <= 0.1 + 1e-9)).all()


@torch.no_grad()
@pytest.mark.parametrize("init", [True, False])
def test_dplr_discretisation_is_the_dense_bilinear(init):
    """The Woodbury form of Abar (step's a, w, q and dense_real) and Bbar equal the dense bilinear ones."""
    layer = s4.S4Layer(4, 8, dt_max=0.5).double() if init else perturbed_layer()
    Abar, Bbar, _ = dense_system(layer)
    M = layer.M
    a, w, q, bbar = layer.discrete()
    z = lambda x: torch.complex(*x)                                               # noqa: E731
    M11 = torch.diag_embed(z(a)) - z(w).unsqueeze(-1) * z(q).unsqueeze(-2)
    M12 = -z(w).unsqueeze(-1) * z(q).conj().unsqueeze(-2)
    close(M11, Abar[:, :M, :M], 1e-12)
    close(M12, Abar[:, :M, M:], 1e-12)
    close(z(bbar), Bbar[:, :M], 1e-12)
    M11, M12 = Abar[:, :M, :M], Abar[:, :M, M:]
    real = torch.cat([torch.cat([(M11 + M12).real, -(M11 - M12).imag], -1),
                      torch.cat([(M11 + M12).imag, (M11 - M12).real], -1)], -2)
    close(layer.dense_real(), real, 1e-12)


@torch.no_grad()
@pytest.mark.parametrize("L", [2, 3, 16, 37, 64, 100])
@pytest.mark.parametrize("init", [True, False])
def test_kernel_is_the_naive_kernel(L, init):
    """S4's Algorithm 1 (C~ correction, Cauchy kernel, Woodbury, iFFT) at L roots of unity = C Abar^k Bbar exactly
    (float64), at powers of two and other lengths; dt up to 0.5 so that the kernel does not decay within L."""
    layer = s4.S4Layer(4, 8, dt_max=0.5).double() if init else perturbed_layer(seed=L)
    ref = naive_kernel(layer, L)
    close(layer.kernel(L), ref, 1e-12 * max(1.0, float(ref.abs().max())))


@torch.no_grad()
def test_kernel_without_c_tilde_is_wrong():
    """The C~ correction matters: at small dt the kernel barely decays within L, and the aliased kernel
    (sum_j K_(k + jL), what the generating function gives without C~) is far off."""
    layer = s4.S4Layer(4, 8, dt_min=1e-3, dt_max=2e-3).double()
    L = 16
    ref = naive_kernel(layer, 4 * L)
    aliased = ref.view(4, 4, L).sum(1)                                            # first 4 periods of the alias sum
    assert float((aliased[:, :L] - ref[:, :L]).abs().max()) > 0.1 * float(ref.abs().max())
    close(layer.kernel(L), ref[:, :L], 1e-12)


@torch.no_grad()
def test_cauchy_products_are_the_complex_cauchy_matrix():
    """cauchy_times and cauchy_left (real weights 1 / |a - w|^2, numerators folded into the sums) equal products
    with the complex128 Cauchy matrix 1 / (a_n - w_j), including a close to the unit circle."""
    g = torch.Generator().manual_seed(3)
    H, m, M = 3, 16, 5
    a = torch.polar(1 - torch.logspace(-4, -0.3, H * M, dtype=torch.float64).view(H, M),
                    2 * math.pi * torch.rand(H, M, dtype=torch.float64, generator=g))
    w = torch.exp(2j * math.pi * torch.arange(m, dtype=torch.float64) / m)
    G = 1 / (a.unsqueeze(1) - w.view(-1, 1))                                     # [H, m, M]
    V = torch.randn(H, M, 4, dtype=torch.complex128, generator=g)
    X = torch.randn(H, 6, m, dtype=torch.complex128, generator=g)
    pair = lambda z: (z.real, z.imag)                                             # noqa: E731
    inv = s4.cauchy_weights(pair(a), pair(w))
    want = (-w.view(-1, 1) * G) @ V                                              # with the kernel's -conj(z_j)
    close(torch.complex(*s4.cauchy_times(inv, pair(a), pair(w), pair(V))), want, 1e-9 * float(want.abs().max()))
    close(torch.complex(*s4.cauchy_left(pair(X), inv, pair(a), pair(w))), X @ G, 1e-9 * float((X @ G).abs().max()))


@torch.no_grad()
@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("T", [1, 2, 5, 16, 17, 50])
def test_prefill_is_the_convolution_and_the_state_the_recurrence(T, chunked, monkeypatch):
    """ssm_forward equals the causal convolution with the naive kernel, and its final state the dense recurrence
    x_t = Abar x_(t-1) + Bbar u_t (kept half): the convolution mode (FFT conv of length 2m, final state through the
    Cauchy matrix) and the exported chunked recurrence (chunks of 4 here: lengths below, at and across chunks)."""
    monkeypatch.setattr(s4, "chunked_prefill", lambda: chunked)
    layer = perturbed_layer(seed=T)
    layer.chunk = 4
    u = torch.randn(2, T, 4, dtype=torch.float64)
    y, (xr, xi) = layer.ssm_forward(u)
    K = naive_kernel(layer, T)
    t = torch.arange(T)
    lag = t[:, None] - t[None, :]
    toe = torch.where(lag >= 0, K[:, lag.clamp(min=0)], torch.zeros((), dtype=K.dtype))      # [H, T, T]
    close(y, (toe @ u.permute(2, 1, 0)).permute(2, 1, 0), 1e-12)
    Abar, Bbar, _ = dense_system(layer)
    x = torch.zeros(2, 4, 8, dtype=Abar.dtype)
    for k in range(T):
        x = (Abar @ x.unsqueeze(-1)).squeeze(-1) + Bbar * u[:, k].unsqueeze(-1)
    close(torch.complex(xr, xi), x[..., :4], 1e-12)
    close(x[..., 4:], x[..., :4].conj(), 1e-12)                                  # the dropped half: conjugates


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-9)])
def test_contract(dtype, tol, chunked, monkeypatch):
    """The shared contract (lengths 1..100 cross several powers of two and chunks of 16): prefill (FFT, or the
    chunked recurrence) vs the recurrence, step after prefill, state_spec, hidden/head, in float32 (within 1e-5)
    and in float64 (within 1e-9)."""
    monkeypatch.setattr(s4, "chunked_prefill", lambda: chunked)
    net = seeded_model(s4.Model, {"d_model": 16, "n_layers": 2, "d_state": 16, "dt_max": 0.5, "chunk": 16}, 30,
                       seed=0).to(dtype)
    if dtype == torch.float32:
        check_contract(net, 30, tol=tol)
    else:
        check_parallel_matches_sequential(net, 30, tol=tol)


def test_default_config_contract():
    m = check_default_config(s4.Model, {"ssm.0": ["batch", 64, 32, 2], "ssm.1": ["batch", 64, 32, 2]}, seed=1)
    assert (m.config["d_state"], m.config["dt_min"], m.config["dt_max"]) == (64, 0.001, 0.1)
    assert m.variant == s4.VARIANT


def test_mlp_sublayer_option():
    m = seeded_model(s4.Model, {"d_model": 16, "n_layers": 1, "d_state": 8, "mlp_factor": 2}, 20, seed=2)
    assert len(m.layers[0]) == 2
    check_parallel_matches_sequential(m, 20, lengths=(5, 13), batch=2)


def test_onnx_export_dynamic_length(tmp_path):
    """prefill.onnx (traced at 40 tokens: m = 64) runs at 37 (m = 64) and 300 (m = 512), step.onnx steps through
    both; onnxruntime matches PyTorch within 1e-5 (logits and final states), the steps match the prefill too. Its
    recurrence runs in chunks of matmuls: no DFT op and no loop or branch in the graph."""
    import onnx

    net = seeded_model(s4.Model, {"d_model": 16, "n_layers": 1, "d_state": 16, "dt_max": 0.5}, 20, seed=6)
    check_onnx_export(net, 20, tmp_path)
    def op_types(graph):                                                          # with the If / Loop bodies
        for n in graph.node:
            yield n.op_type
            for a in n.attribute:
                for g in [a.g, *a.graphs]:
                    yield from op_types(g)

    model = onnx.load(str(tmp_path / "prefill.onnx"))
    ops = set(op_types(model.graph)) | {n.op_type for f in model.functions for n in f.node}
    assert "MatMul" in ops and not {"DFT", "If", "Loop", "Scan"} & ops
