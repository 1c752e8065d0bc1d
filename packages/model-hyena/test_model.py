"""Checks of the Hyena reference: the shared contract (FFT prefill vs token-by-token steps with a growing history),
FFT convolution vs a direct causal convolution, the decay of the implicit filters, the growing state and its filter
taps (prefill's taps are the filters at the right lags; decoding from a prefilled state continues the prefill)."""
import pytest
import torch

import model as hyena
from ssmbench_trainer.contract import check_contract, check_onnx_export, check_parallel_matches_sequential

VOCAB = 50
# Tiny ops: one thread. With several threads on a busy 2-core machine the token-by-token loops ran 50x slower.
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return hyena.Model({"d_model": 32, "n_layers": 2, "l_max": 64}, vocab=VOCAB).eval()


def test_contract(net):
    torch.manual_seed(1)
    check_contract(net, VOCAB)


def test_long_prefill_matches_steps(net):
    """Beyond l_max, at a length that is not a power of two (FFT size 1024)."""
    torch.manual_seed(2)
    check_parallel_matches_sequential(net, VOCAB, lengths=(300,), batch=1, tol=1e-4)


@pytest.mark.parametrize("T", [1, 2, 3, 5, 16, 37, 64, 100, 128, 257, 1024])
def test_fft_conv_equals_direct_conv(T):
    torch.manual_seed(T)
    z, h = torch.randn(2, 6, T, dtype=torch.float64), torch.randn(6, T, dtype=torch.float64)
    torch.testing.assert_close(hyena.fft_causal_conv(z, h), hyena.direct_causal_conv(z, h), atol=1e-9, rtol=1e-9)
    # and against a plain loop, so the reference itself is checked
    want = torch.stack([(z[..., : t + 1] * h[:, : t + 1].flip(-1)).sum(-1) for t in range(T)], -1)
    torch.testing.assert_close(hyena.direct_causal_conv(z, h), want, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("n", [2, 4, 8, 64, 1024])
def test_half_length_real_fft_equals_torch_rfft(n):
    torch.manual_seed(n)
    x = torch.randn(2, 3, n, dtype=torch.float64)
    re, im, nyq = hyena.rfft_half(x, n // 2)
    X = torch.fft.rfft(x)
    torch.testing.assert_close(torch.complex(re, im) / 2, X[..., :-1], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(nyq[..., 0] / 2, X[..., -1].real, atol=1e-10, rtol=1e-10)
    back = hyena.irfft_half(X.real[..., :-1], X.imag[..., :-1], X.real[..., -1:], n // 2)
    torch.testing.assert_close(back, x, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("T", [1, 2, 3, 4, 5, 63, 64, 65, 1000, 1024, 1025])
def test_fft_size_is_next_power_of_two_at_least_2T(T):
    n = hyena.fft_size(T)
    assert n >= 2 * T and n & (n - 1) == 0 and n < 4 * T


def test_fft_conv_in_float32_is_as_accurate_as_torch_fft():
    """The half-length FFT form loses no accuracy against torch's own rfft/irfft (float64 reference)."""
    torch.manual_seed(5)
    T = 3000
    z = torch.randn(1, 8, T, dtype=torch.float64)
    h = torch.randn(8, T, dtype=torch.float64) * torch.exp(-torch.arange(T, dtype=torch.float64) / 500)
    n = hyena.fft_size(T)
    ref = torch.fft.irfft(torch.fft.rfft(z, n=n) * torch.fft.rfft(h, n=n), n=n)[..., :T]  # float64: ~1e-15
    native = torch.fft.irfft(torch.fft.rfft(z.float(), n=n) * torch.fft.rfft(h.float(), n=n), n=n)[..., :T]
    ours = hyena.fft_causal_conv(z.float(), h.float())
    err = lambda y: (y.double() - ref).abs().max().item() / ref.abs().max().item()
    assert err(ours) < 2 * err(native) + 1e-7 and err(ours) < 1e-5


@pytest.mark.parametrize("T", [1, 2, 37, 300, 1024])
def test_exported_conv_form_equals_eager_form(T, monkeypatch):
    """Under export the long convolutions take the matmul DFT (fftconv.rdft), in eager mode torch.fft: same math."""
    torch.manual_seed(T)
    z, h = torch.randn(2, 6, T), torch.randn(6, T) * torch.exp(-torch.arange(T) / 50.0)
    eager = hyena.fft_causal_conv(z, h)
    monkeypatch.setattr(hyena, "exported_dft", lambda: True)
    exported = hyena.fft_causal_conv(z, h)
    assert exported.dtype == eager.dtype == torch.float32
    torch.testing.assert_close(exported, eager, atol=1e-6, rtol=1e-6)
    want = hyena.direct_causal_conv(z.double(), h.double())
    torch.testing.assert_close(exported.double(), want, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill exported at T = 40 runs at T = 1, 37 and 300 on onnxruntime and matches PyTorch within 1e-5; its long
    convolutions are matmuls (no DFT op). One layer: the export of the matmul form takes a while."""
    import onnx

    torch.manual_seed(11)
    small = hyena.Model({"d_model": 16, "n_layers": 1, "l_max": 32}, vocab=VOCAB).eval()
    check_onnx_export(small, VOCAB, tmp_path, lengths=(1, 37, 300), batch=2, step=False, opset=hyena.ONNX_OPSET)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "prefill.onnx")).graph.node}
    assert "MatMul" in ops and "DFT" not in ops


def test_filter_decays_with_t():
    """|h_c(t)| <= sum_j |W_cj| exp(-alpha_c t/L) (the FFN's last layer reads Sin outputs in [-1, 1]), and the
    filters' energy far from t = 0 is a tiny fraction of their energy near it."""
    torch.manual_seed(3)
    f = hyena.HyenaFilter(16, width=32, l_max=64)
    t = torch.arange(0, 64 * 8, dtype=torch.float32)
    with torch.no_grad():
        h = f(t)                                                   # [16, T]
        bound = f.ffn[-1].weight.abs().sum(-1, keepdim=True) * f.window(t)
    assert (h.abs() <= bound + 1e-6).all()
    w = f.window(t)
    assert (w[:, 1:] <= w[:, :-1]).all() and (w[:, 1:64] < w[:, :63]).all() and torch.allclose(w[:, 0], torch.ones(16))
    head, tail = h[:, :32].pow(2).mean(), h[:, -64:].pow(2).mean()
    assert tail < 1e-6 * head
    # slowest channel reaches the target (1e-2) at 1.5 L, the fastest at 0.3 L
    torch.testing.assert_close(f.window(torch.tensor([1.5 * 64]))[0, 0], torch.tensor(1e-2))
    torch.testing.assert_close(f.window(torch.tensor([0.3 * 64]))[-1, 0], torch.tensor(1e-2))


@torch.no_grad()
def test_history_grows_by_one_per_step(net):
    torch.manual_seed(4)
    spec = net.state_spec()
    assert [s["name"] for s in spec[:4]] == ["short.0", "hist.0.h1", "hist.0.h2", "taps.0"]
    assert spec[3]["kind"] == "taps" and spec[3]["shape"] == ["batch", 2 * 32, "past_seq"]
    grows = [i for i, s in enumerate(spec) if "past_seq" in s["shape"]]
    assert len(grows) == 6  # two histories and the taps per layer
    ids = torch.randint(0, VOCAB, (2, 9))
    _, *st = net(ids[:, :4])
    assert all(st[i].shape[-1] == 4 for i in grows)
    for k in range(5):
        _, *st = net(ids[:, 4 + k : 5 + k], *st)
        assert all(st[i].shape[-1] == 5 + k for i in grows)
        assert all(st[i].shape == (2, 3 * 32, 2) for i in range(len(spec)) if i not in grows)
    # stepping from the empty state: history length == steps taken
    st = net.init_state(2)
    for k in range(3):
        _, *st = net(ids[:, k : k + 1], *st)
    assert all(st[i].shape[-1] == 3 for i in grows)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 7, 150])
def test_prefill_taps_are_the_filters_at_lags_T_minus_1_to_0(net, T):
    """taps.<l>[b, :, s] = (h1, h2)(T-1-s) for every sequence b: the filter at the lag that multiplies hist[..., s]."""
    torch.manual_seed(9)
    spec = net.state_spec()
    _, *st = net(torch.randint(0, VOCAB, (3, T)))
    for layer, subs in enumerate(net.layers):
        op = subs[0].fn
        taps = st[[s["name"] for s in spec].index(f"taps.{layer}")]
        assert taps.shape == (3, 2 * 32, T)
        for s in sorted({0, T // 2, T - 1}):  # one lag at a time, as a step evaluates it
            h1, h2 = op.filters(torch.tensor([float(T - 1 - s)]))              # [D, 1] each
            for b in range(3):
                torch.testing.assert_close(taps[b, :32, s], h1[:, 0], atol=1e-6, rtol=1e-5)
                torch.testing.assert_close(taps[b, 32:, s], h2[:, 0], atol=1e-6, rtol=1e-5)


@torch.no_grad()
def test_decode_from_prefilled_state_equals_longer_prefill(net):
    """Prefill 150 tokens (beyond l_max), step 50 more: logits and every final state (histories, taps) equal one
    prefill of all 200."""
    torch.manual_seed(10)
    ids = torch.randint(0, VOCAB, (2, 200))
    full, *want = net(ids)
    _, *st = net(ids[:, :150])
    logits = []
    for t in range(150, 200):
        lg, *st = net(ids[:, t : t + 1], *st)
        logits.append(lg)
    torch.testing.assert_close(torch.cat(logits, 1), full[:, 150:], atol=1e-4, rtol=1e-4)
    for s, a, b in zip(net.state_spec(), st, want):
        assert a.shape == b.shape, s["name"]
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=s["name"])


# --- Laughing Hyena variant (modal filters, O(1) decoding state) ------------------------------------------------

def test_laughing_hyena_contract_with_constant_state():
    torch.manual_seed(6)
    lh = hyena.Model({"d_model": 32, "n_layers": 2, "l_max": 64, "modes": 8}, vocab=VOCAB).eval()
    assert all("past_seq" not in s["shape"] for s in lh.state_spec())
    assert [s["name"] for s in lh.state_spec()] == ["short.0", "modal.0.h1", "modal.0.h2", "short.1", "modal.1.h1", "modal.1.h2"]
    assert all(s["kind"] != "taps" for s in lh.state_spec())
    check_contract(lh, VOCAB)
    check_parallel_matches_sequential(lh, VOCAB, lengths=(300,), batch=1, tol=1e-4)


@torch.no_grad()
def test_modal_blocked_forms_equal_elementwise_forms():
    torch.manual_seed(7)
    f = hyena.ModalFilter(6, 5)
    for T in (1, 2, 63, 64, 65, 200):
        torch.testing.assert_close(f.filter_range(T, torch.zeros(())), f(torch.arange(T, dtype=torch.float32)))
        z = torch.randn(3, 4, T)
        torch.testing.assert_close(f.final_state_range(z, slice(1, 5)), f.final_state(z, slice(1, 5)))


def test_distill_reproduces_the_hyena_model():
    """Fitting the implicit filters with a few modes keeps the model's outputs (Laughing Hyena distillation)."""
    torch.manual_seed(8)
    base = hyena.Model({"d_model": 16, "n_layers": 1, "l_max": 32}, vocab=VOCAB).eval()
    lh, errors = hyena.distill(base, modes=8, steps=100)
    assert max(errors.values()) < 0.1, errors
    ids = torch.randint(0, VOCAB, (2, 100))
    with torch.no_grad():
        a, b = base(ids)[0], lh(ids)[0]
    assert (a - b).abs().max() < 0.05 * a.abs().max()
    assert lh.state_spec()[1]["shape"] == ["batch", 16, 2, 8]
