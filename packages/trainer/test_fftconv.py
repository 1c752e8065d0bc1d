"""The matmul DFT of ssmbench_trainer.fftconv (rdft / irdft, the exported form of the causal convolutions) against
torch.fft, the causal convolution's two forms against each other and a direct sum, the factors of the FFT length,
and the ONNX export of a convolution module with a dynamic length (factors computed in the graph)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ssmbench_trainer import fftconv as fc

torch.set_num_threads(1)
# non-square splits, factors of 1, two to four digits; N = 2 .. 512 (complex length m = N/2 = 1 .. 256)
FACTORS = [(2, 1), (2, 2), (4, 2), (2, 4), (8, 2), (8, 4), (2, 8), (16, 4), (2, 1, 1), (2, 2, 2),
           (4, 1, 2), (16, 2, 4), (4, 4, 4), (8, 8, 8), (8, 2, 2, 2)]
LENGTHS = [1, 2, 3, 4, 5, 8, 16, 37, 64, 100, 128, 257, 1000, 1024]


def stored_frequencies(factors):
    """The frequency k at each digit position of rdft's output: k = k1 + M1 k2 + M1 M2 k3 .. over [M1/2 + 1, M2, ..]."""
    k, stride = torch.arange(factors[0] // 2 + 1), factors[0]
    for f in factors[1:]:
        k = k.unsqueeze(-1) + torch.arange(f) * stride
        stride *= f
    return k


def to_rdft_layout(a, d):
    """[*L, *digits] -> rdft's layout [digits 1 .. d-1, *L, digit d]."""
    nl = a.dim() - d
    return a.permute(*range(nl, nl + d - 1), *range(nl), nl + d - 1)


@pytest.mark.parametrize("factors", FACTORS)
def test_rdft_is_torch_fft_of_the_zero_padded_signal(factors):
    N = math.prod(factors)
    x = torch.randn(2, 3, N // 2, dtype=torch.float64, generator=torch.Generator().manual_seed(N))
    want = torch.fft.fft(F.pad(x, (0, N // 2)))[..., stored_frequencies(factors)]    # [2, 3, *digits]
    re, im = fc.rdft(x, fc.dft_plan(factors, x.dtype))
    assert re.shape == im.shape == (factors[0] // 2 + 1, *factors[1:-1], 2, 3, *factors[-1:])
    torch.testing.assert_close(torch.complex(re, im), to_rdft_layout(want, len(factors)), atol=1e-12, rtol=1e-12)
    # every frequency is held, or its mirror N - k (conjugate: the signal is real)
    held = set(stored_frequencies(factors).flatten().tolist())
    assert all(k in held or N - k in held for k in range(N))


@pytest.mark.parametrize("factors", FACTORS)
def test_irdft_is_torch_ifft_first_half(factors):
    N = math.prod(factors)
    z = torch.randn(2, N, dtype=torch.float64, generator=torch.Generator().manual_seed(N + 1))
    Z = to_rdft_layout(torch.fft.fft(z)[..., stored_frequencies(factors)], len(factors))
    plan = fc.dft_plan(factors, z.dtype)
    torch.testing.assert_close(fc.irdft(Z.real, Z.imag, plan, scale=0.5), 0.5 * z[..., : N // 2],
                               atol=1e-12, rtol=1e-12)
    want = torch.fft.ifft(torch.fft.fft(z)).real                       # the same through torch.fft.ifft
    torch.testing.assert_close(fc.irdft(Z.real, Z.imag, plan), want[..., : N // 2], atol=1e-12, rtol=1e-12)


def test_dft_matrices_are_accurate_in_float32():
    """Angles reduced mod n in integers and evaluated in float64: float32 entries within one rounding of exact."""
    for n in (8, 256, 4096):
        j = torch.arange(n)
        re, im = fc._unit_powers(j.unsqueeze(-1) * j, n, torch.float32)
        exact = torch.exp(-2j * math.pi * ((j.unsqueeze(-1) * j) % n).double() / n)
        assert re.dtype == torch.float32
        assert (re.double() - exact.real).abs().max() < 6e-8 and (im.double() - exact.imag).abs().max() < 6e-8


@pytest.mark.parametrize("parts", [2, 3, 4])
def test_conv_factors(parts):
    for T in [*LENGTHS, 4095, 4096, 4097, 65536, 1 << 20]:
        f = fc.conv_factors(T, parts)
        m = 1 << (T - 1).bit_length()
        assert len(f) == parts and math.prod(f) == 2 * m and f[0] % 2 == 0 and min(f) >= 1, (T, f)
        assert all(v & (v - 1) == 0 for v in f)
    assert fc.conv_factors(16384) == (32, 8, 8, 16) and fc.conv_factors(65536) == (64, 8, 16, 16)
    assert fc.conv_factors(1) == (2, 1, 1, 1) and fc.conv_factors(16384, 3, 4) == (64, 16, 32)


@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("T", LENGTHS)
def test_matmul_conv_equals_fft_conv(T, parts):
    """causal_conv's exported form (factors) equals its eager form (torch.fft) and a direct causal sum, with a kernel
    broadcast over the batch and shorter than the input."""
    g = torch.Generator().manual_seed(T)
    u, k = torch.randn(2, 5, T, dtype=torch.float64, generator=g), torch.randn(5, T, dtype=torch.float64, generator=g)
    m = 1 << (T - 1).bit_length()
    got, want = fc.causal_conv(u, k, fc.conv_factors(T, parts)), fc.causal_conv(u, k, m)
    torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)
    direct = torch.stack([(u[..., : t + 1] * k[:, : t + 1].flip(-1)).sum(-1) for t in range(T)], -1)
    torch.testing.assert_close(got, direct, atol=1e-10, rtol=1e-10)
    short = k[:, : (T + 1) // 2]
    torch.testing.assert_close(fc.causal_conv(u, short, fc.conv_factors(T, parts)), fc.causal_conv(u, short, m),
                               atol=1e-10, rtol=1e-10)


def test_matmul_conv_in_float32_is_as_accurate_as_torch_fft():
    """float32 matmul DFT vs float64: no worse than torch's own float32 rfft / irfft (a decaying kernel, as Hyena's)."""
    g = torch.Generator().manual_seed(5)
    T = 3000
    u = torch.randn(1, 8, T, dtype=torch.float64, generator=g)
    k = torch.randn(8, T, dtype=torch.float64, generator=g) * torch.exp(-torch.arange(T, dtype=torch.float64) / 500)
    n = 2 * (1 << (T - 1).bit_length())
    ref = fc.causal_conv(u, k, n // 2)
    native = torch.fft.irfft(torch.fft.rfft(u.float(), n=n) * torch.fft.rfft(k.float(), n=n), n=n)[..., :T]
    ours = fc.causal_conv(u.float(), k.float(), fc.conv_factors(T))
    err = lambda y: (y.double() - ref).abs().max().item() / ref.abs().max().item()
    assert ours.dtype == torch.float32 and err(ours) < 2 * err(native) + 1e-7 and err(ours) < 1e-6


class _Factors(torch.nn.Module):
    def forward(self, x):
        return torch.stack([torch.full((), f, dtype=torch.int64) for f in fc.conv_factors(x.shape[-1])])


def test_factors_computed_in_the_graph_are_the_python_ones(tmp_path):
    """conv_factors under export (float64 log2 / exp2 in the graph, unbacked SymInts) gives the ints' factors on
    onnxruntime, around every power of two up to the declared maximum length."""
    from ssmbench_trainer import export

    seq = torch.export.Dim("seq", min=1, max=export.MAX_SEQ)
    path = tmp_path / "factors.onnx"
    export.export_graph(_Factors(), (torch.zeros(1, 40),), ({1: seq},), ["x"], ["f"], path, {}, 18)
    sess = export.ort_session(path)
    lengths = sorted({max(1, (1 << e) + d) for e in range(21) for d in (-1, 0, 1)} - {export.MAX_SEQ + 1})
    for T in lengths:
        (got,) = sess.run(None, {"x": torch.zeros(1, T).numpy()})
        assert tuple(got.tolist()) == fc.conv_factors(T), T


class _Conv(torch.nn.Module):
    """u [B, C, T], k [C, T] -> the matmul-form causal convolution in float64, factors computed from the symbolic
    length."""

    def __init__(self, parts: int):
        super().__init__()
        self.parts = parts

    def forward(self, u, k):
        return fc.causal_conv(u.double(), k.double(), fc.conv_factors(u.shape[-1], self.parts))


@pytest.mark.parametrize("parts", [2, 4])
def test_onnx_export_with_dynamic_length(tmp_path, parts):
    """Exported once at T = 40, the graph (no DFT op) runs on onnxruntime at other lengths, including 1 and a power of
    two, and matches the eager torch.fft form to float64 round-off."""
    import onnx

    from ssmbench_trainer import export

    g = torch.Generator().manual_seed(0)
    u, k = torch.randn(2, 3, 40, generator=g), torch.randn(3, 40, generator=g)
    seq = torch.export.Dim("seq", min=1, max=export.MAX_SEQ)
    path = tmp_path / "conv.onnx"
    export.export_graph(_Conv(parts), (u, k), ({2: seq}, {1: seq}), ["u", "k"], ["y"], path, {}, 18)
    assert not {n.op_type for n in onnx.load(str(path)).graph.node} & {"DFT", "STFT"}
    sess = export.ort_session(path)
    for T in (1, 37, 256, 1000):
        u, k = torch.randn(2, 3, T, generator=g), torch.randn(3, T, generator=g)
        (y,) = sess.run(None, {"u": u.numpy(), "k": k.numpy()})
        want = fc.causal_conv(u.double(), k.double(), 1 << (T - 1).bit_length())
        torch.testing.assert_close(torch.from_numpy(y), want, atol=1e-10, rtol=1e-10, msg=f"T={T}")
