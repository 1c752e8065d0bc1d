"""Hyena (order 2), plain PyTorch reference for ssmbench.

After Poli et al., "Hyena Hierarchy: Towards Larger Convolutional Language Models", arXiv 2302.10866
(Section 3 and its algorithms: projection, Hyena filter, forward pass). One Hyena operator of order N = 2 on
u [B, T, D]:

    v, x1, x2 = split(short_conv_3(in_proj(u)))          (projection: linear, then a causal depthwise conv of width 3)
    h1, h2    = HyenaFilter(t = 0 .. T-1)                  (implicit long filters, one per channel)
    z         = v
    z         = x1 * (h1 * z + D1 z)                       (the Hyena recurrence z^{n+1} = x^n . (h^n * z^n), "*" a
    z         = x2 * (h2 * z + D2 z)                        causal long convolution; D the per-channel skip ("bias")
    out       = out_proj(z)                                 term of the paper's code)

with the implicit filter (Section 3.3):

    PE(t)   = [t/L, cos(2 pi f t / L), -sin(2 pi f t / L)]  f = 1 .. n_bands   (the paper's "PositionalEmbedding")
    h(t)    = Window(FFN(PE(t)))                            FFN: Linear -> Sin -> (Linear -> Sin) x 2 -> Linear,
                                                            Sin(x) = sin(w * x) with a learnt frequency w per unit
    Window  = exp(-alpha_c t/L)                             (the paper's "ExponentialModulation": alpha_c fixed,
                                                            spread so that channels decay to 1e-2 between 0.3 L
                                                            and 1.5 L)

L (config "l_max") only scales positions, it is no limit on the length: a filter is defined for every t >= 0 and the
position of a tap never depends on the sequence length, so prefill and step agree. Each layer is a pre-norm Hyena
operator then a pre-norm MLP (GELU), in the shared LM shell (ssmbench_trainer.lm.CausalLM), tied embedding / head.

Long convolution (prefill and training): by FFT, y = irfft(rfft(z, n) * rfft(h, n))[:T], with n the smallest power
of two >= 2T (no circular wrap-around). Eager (training, the PyTorch baselines): torch.fft in float64, each real FFT
of length n done as one complex FFT of length n/2 (rfft_half / irfft_half). Exported: onnxruntime's CPU DFT op was
most of the prefill's time, so the graph computes the same transforms as dense matmuls (exported_dft; fftconv.rdft /
irdft: the four-step Cooley-Tukey decomposition over n = M1 M2 M3 M4, as in FlashFFTConv, arXiv 2311.05908, with the
DFT matrices built in the graph), about 2x faster at 1K-64K tokens on hyena-induction-heads (onnxruntime CPU, 2
threads). The factors of n are computed from the symbolic length inside the exported graph (fftconv.conv_factors,
unbacked SymInts as in fft_half_size), so the ONNX prefill keeps a dynamic length. The transforms run in float64
(EXPORT_DFT_DTYPE) and the result is cast back: the float32 matmul form was about 2x faster still but put up to
1.7e-4 between the exported prefill and PyTorch at 64K random tokens (float64: 5.7e-5; PyTorch's own float32-vs-
float64 gap there is 1.2e-4), and in float32 onnxruntime's DFT op had put 2.4e-4 on the d128 MQAR checkpoint at its
training length (the contract asks for 1e-4).

Step (decoding): the convolution needs the whole input history, so the state grows with the length. Per layer:
    short.<layer>     [batch, 3 D, 2]          the last two in-projected inputs of the short conv (fixed size)
    hist.<layer>.h1   [batch, D, past_seq]     the inputs of the first long conv  (v_0 .. v_{P-1}, in time order)
    hist.<layer>.h2   [batch, D, past_seq]     the inputs of the second long conv (z1_0 .. z1_{P-1})
    taps.<layer>      [batch, 2 D, past_seq]   the filters at lags P-1, P-2, .., 0 (channels [0, D): h1, [D, 2D): h2),
                                               aligned with hist: taps[..., s] = h(P-1-s) multiplies hist[..., s]
(state_spec kinds: "kind": "short", "kind": "hist", "kind": "taps"). The filters are fixed functions of the lag, so
the taps are kept rather than recomputed: step P evaluates the filter FFN at the one new lag P only, prepends it
(taps -> h(P), h(P-1), .., h(0), aligned with the history of length P + 1) and takes
y_P = sum_s h(P - s) z_s + D z_P as a direct dot product with the history. Per token that is O(P D) (the products
and the copies of the grown states) instead of O(P width^2) for evaluating the FFN at every lag (which was most of
the step: Sin, Gemm and Exp in onnxruntime's profile); the price is memory: the taps are as large as the two
histories, so the growing state doubles. The prefill returns the taps it already computed for its FFT (the filters
at t = 0 .. T-1, flipped), the same for every sequence of the batch.

Variant, Laughing Hyena (Massaroli et al., arXiv 2310.18780), config "modes" > 0: every long filter is a modal
state-space model h(t) = Re sum_n R_n g_n lambda_n^t (ModalFilter), fitted to a trained Hyena's filters by
`distill` (CLI: distill.py). Prefill is the same FFT convolution; decoding is the recurrence s_t = lambda s_{t-1} + g z_t
with fixed-size states "modal.<layer>.h1/.h2" [batch, D, 2, modes] ("kind": "modal"): O(1) per token.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer.fftconv import causal_conv, conv_factors, irfft_half, pow2_at_least, rfft_half  # noqa: F401 (rfft_half, irfft_half: tests)
from ssmbench_trainer.lm import CausalLM, GeluMLP, Stateless, state

FAMILY = "hyena"
VARIANT = "hyena (order 2)"
PAPER = {"title": "Hyena Hierarchy: Towards Larger Convolutional Language Models", "arxiv": "2302.10866"}
ONNX_OPSET = 20  # chosen for the DFT op of the long convolutions' earlier exported form (the matmul form needs 18)
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "order": 2,            # Hyena recurrence depth N (this reference implements N = 2)
    "short_conv": 3,       # width of the short causal depthwise conv
    "filter_width": 32,    # hidden width of the implicit filter FFN (the paper's "filter order")
    "pos_dim": 9,          # positional features: t/L plus 4 cos/sin pairs
    "filter_sin_freq": 1.0,  # initial frequency w of the Sin activations
    "l_max": 128,          # position scale L of the filter (the training length); not a length limit
    "fast_decay_pct": 0.3,   # ExponentialModulation: the fastest channel decays to `decay_target` at 0.3 L,
    "slow_decay_pct": 1.5,   # the slowest at 1.5 L
    "decay_target": 1e-2,
    "mlp_expand": 4,
    "modes": 0,            # 0: Hyena. > 0: Laughing Hyena, modal filters with this many complex modes (see distill)
}


def fft_half_size(T):
    """m = the smallest power of two >= T; the FFT length is n = 2m, the smallest power of two >= 2T.

    With a Python int this is exact bit arithmetic. Under torch.export T is a SymInt, and log2 of a SymInt
    specialises the length, so m is computed in the graph instead: ceil(log2(T)) in float64, corrected by one if
    the logarithm rounded up, then read out as an (unbacked) SymInt whose bounds are declared with torch._check.
    """
    if isinstance(T, int):
        return 1 << (T - 1).bit_length()
    m = pow2_at_least(torch.full((), T, dtype=torch.float64)).to(torch.int64).item()
    torch._check(m >= 1)
    torch._check(m >= T)
    torch._check(2 * m - T >= 1)
    return m


def fft_size(T):
    """The FFT length of a causal convolution of length T: the smallest power of two >= 2T."""
    return 2 * fft_half_size(T)


def fft_causal_conv(z, h):
    """Causal convolution y_t = sum_{s<=t} h_{t-s} z_s along the last axis, by FFT.

    z [..., C, T], h [C, T] -> [..., C, T]. Zero-padding both to n = 2m >= 2T makes the circular convolution
    linear. Equal to torch.fft.irfft(rfft(z, n) * rfft(h, n), n)[..., :T] (tested): eagerly with half-length complex
    FFTs (rfft_half), under export with the matmul DFT (module docstring; tested equal).
    """
    T = z.shape[-1]
    if exported_dft():  # matmul DFT (module docstring), in EXPORT_DFT_DTYPE or wider
        dtype = torch.promote_types(z.dtype, EXPORT_DFT_DTYPE)
        return causal_conv(z.to(dtype), h.to(dtype), conv_factors(T)).to(z.dtype)
    # float64 transforms (module docstring: float32 DFT round-off)
    return causal_conv(z.double(), h.double(), fft_half_size(T)).to(z.dtype)


EXPORT_DFT_DTYPE = torch.float64   # of the exported matmul DFT (module docstring: float32 vs float64)


def exported_dft() -> bool:
    """True while torch.export traces the model: the long convolutions then take the matmul form (module docstring).
    Eager runs (training, the PyTorch baselines) keep torch.fft, the fastest form there."""
    return torch.compiler.is_exporting()


def direct_causal_conv(z, h):
    """The same convolution as a T x T Toeplitz product (test reference, O(T^2))."""
    T = z.shape[-1]
    t = torch.arange(T, device=z.device)
    lag = t[:, None] - t[None, :]                                       # [T(out), T(in)]
    toeplitz = torch.where(lag >= 0, h[:, lag.clamp(min=0)], torch.zeros((), dtype=h.dtype))  # [C, T, T]
    return (toeplitz @ z.unsqueeze(-1)).squeeze(-1)


class Sin(nn.Module):
    """sin(w * x) with a learnt frequency per unit (the filter FFN's activation, Section 3.3)."""

    def __init__(self, dim: int, w: float):
        super().__init__()
        self.freq = nn.Parameter(torch.full((dim,), float(w)))

    def forward(self, x):
        return torch.sin(self.freq * x)


class HyenaFilter(nn.Module):
    """Implicit long filters h(t) = exp(-alpha t/L) * FFN(PE(t)) for `channels` channels (the paper's Hyena
    filter, Section 3.3)."""

    def __init__(self, channels: int, width: int = 32, pos_dim: int = 9, sin_freq: float = 1.0, l_max: int = 128,
                 fast_decay_pct: float = 0.3, slow_decay_pct: float = 1.5, decay_target: float = 1e-2,
                 inner_layers: int = 2):
        super().__init__()
        assert pos_dim >= 3 and pos_dim % 2 == 1, "pos_dim = 1 + 2 * bands"
        self.l_max = float(l_max)
        self.register_buffer("freqs", torch.arange(1, (pos_dim - 1) // 2 + 1, dtype=torch.float32), persistent=False)
        layers = [nn.Linear(pos_dim, width), Sin(width, sin_freq)]
        for _ in range(inner_layers):
            layers += [nn.Linear(width, width), Sin(width, sin_freq)]
        layers.append(nn.Linear(width, channels, bias=False))
        self.ffn = nn.Sequential(*layers)
        # ExponentialModulation: decay rates spread over channels; |alpha| t/L = -log(target) at t = pct * L.
        alpha = torch.linspace(-math.log(decay_target) / slow_decay_pct, -math.log(decay_target) / fast_decay_pct, channels)
        self.register_buffer("alpha", alpha, persistent=False)
        for p in self.ffn.parameters():  # the paper's code trains the implicit filter without weight decay
            p._no_weight_decay = True

    def positional(self, t):
        """t [P] float positions -> PE [P, pos_dim] = [t/L, cos(2 pi f t/L), -sin(2 pi f t/L)]."""
        s = (t / self.l_max).unsqueeze(-1)
        ang = 2 * math.pi * s * self.freqs
        return torch.cat([s, torch.cos(ang), -torch.sin(ang)], dim=-1)

    def window(self, t):
        """t [P] -> exp(-alpha_c t/L) [channels, P]."""
        return torch.exp(-self.alpha.unsqueeze(-1) * (t / self.l_max))

    def forward(self, t):
        """t [P] float positions (any order, any values >= 0) -> h(t) [channels, P]."""
        return self.ffn(self.positional(t)).transpose(0, 1) * self.window(t)


class HyenaOperator(nn.Module):
    """The order-2 Hyena operator (the paper's forward pass, Section 3) with implicit long filters."""

    def __init__(self, d_model: int, short_conv: int = 3, filter_width: int = 32, pos_dim: int = 9,
                 filter_sin_freq: float = 1.0, l_max: int = 128, fast_decay_pct: float = 0.3,
                 slow_decay_pct: float = 1.5, decay_target: float = 1e-2, order: int = 2):
        super().__init__()
        if order != 2:
            raise ValueError("this reference implements the order-2 Hyena operator")
        self.d_model, self.k = d_model, short_conv
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.short_filter = nn.Conv1d(3 * d_model, 3 * d_model, short_conv, groups=3 * d_model, bias=True)
        self.filter = HyenaFilter(2 * d_model, filter_width, pos_dim, filter_sin_freq, l_max, fast_decay_pct,
                                  slow_decay_pct, decay_target)
        self.D = nn.Parameter(torch.randn(2, d_model))  # skip term of each long convolution ("bias" in the paper's code)
        self.out_proj = nn.Linear(d_model, d_model)

    def state_spec(self, layer: int):
        d = self.d_model
        return [state("short", layer, 3 * d, self.k - 1),
                state("hist", layer, d, "past_seq", part="h1"),
                state("hist", layer, d, "past_seq", part="h2"),
                state("taps", layer, 2 * d, "past_seq")]

    def filters(self, t):
        """t [P] -> (h1 [D, P], h2 [D, P])."""
        h = self.filter(t)
        return h[: self.d_model], h[self.d_model:]

    def _streams(self, u):
        """u [B, T, D] -> v, x1, x2 [B, D, T] after the short conv, and the short-conv state [B, 3D, k-1]."""
        x = F.pad(self.in_proj(u).transpose(1, 2), (self.k - 1, 0))   # causal: zero history before t = 0
        short = x[:, :, -(self.k - 1):]
        x = F.conv1d(x, self.short_filter.weight, self.short_filter.bias, groups=3 * self.d_model)
        v, x1, x2 = x.split(self.d_model, dim=1)                      # [B, D, T] each
        return v, x1, x2, short

    def _short_step(self, u, short):
        window = torch.cat([short, self.in_proj(u).unsqueeze(-1)], dim=-1)      # [B, 3D, k]
        x = (window * self.short_filter.weight.squeeze(1)).sum(-1) + self.short_filter.bias
        v, x1, x2 = x.split(self.d_model, dim=-1)
        return v, x1, x2, window[:, :, 1:]

    def forward(self, u):
        """u [B, T, D] -> (out [B, T, D], [short [B, 3D, 2], hist_h1 [B, D, T], hist_h2 [B, D, T], taps [B, 2D, T]])."""
        v, x1, x2, short = self._streams(u)
        h1, h2 = self._prefill_filters(u.shape[1], u)
        z1 = x1 * (fft_causal_conv(v, h1) + self.D[0].unsqueeze(-1) * v)
        z2 = x2 * (fft_causal_conv(z1, h2) + self.D[1].unsqueeze(-1) * z1)
        return self.out_proj(z2.transpose(1, 2)), [short, *self._final_states(v, z1, h1, h2)]

    def _prefill_filters(self, T, like):
        return self.filters(torch.arange(T, device=like.device, dtype=like.dtype))

    def _final_states(self, v, z1, h1, h2):
        """The whole inputs of both long convolutions (the decoding history) and the filters at lags T-1 .. 0."""
        taps = torch.cat([h1, h2], dim=0).flip(-1)                               # [2D, T]: lag T-1-s at s
        return [v, z1, taps.unsqueeze(0).expand(v.shape[0], -1, -1)]

    def step(self, u, states):
        """u [B, D]; states [short [B, 3D, 2], hist_h1 [B, D, P], hist_h2 [B, D, P], taps [B, 2D, P]]
        -> histories and taps of length P + 1. The filter FFN runs at the new lag P only."""
        short, hist1, hist2, taps = states
        v, x1, x2, short = self._short_step(u, short)
        P = hist1.shape[-1]
        lag = torch.arange(P, P + 1, device=u.device).to(u.dtype)                # [1]: the lag of z_0 at step P
        h = self.filter(lag)                                                     # [2D, 1]
        taps = torch.cat([h.unsqueeze(0).expand(u.shape[0], -1, -1), taps], dim=-1)   # lags P, P-1, .., 0
        h1, h2 = taps[:, : self.d_model], taps[:, self.d_model:]
        hist1 = torch.cat([hist1, v.unsqueeze(-1)], dim=-1)
        z1 = x1 * ((hist1 * h1).sum(-1) + self.D[0] * v)
        hist2 = torch.cat([hist2, z1.unsqueeze(-1)], dim=-1)
        z2 = x2 * ((hist2 * h2).sum(-1) + self.D[1] * z1)
        return self.out_proj(z2), [short, hist1, hist2, taps]


# --- Laughing Hyena (Massaroli et al., "Laughing Hyena Distillery: Extracting Compact Recurrences From Convolutions",
# arXiv 2310.18780): each long filter is replaced by a small diagonal (modal) state-space model, fitted to it after
# training, so decoding costs O(1) per token and the state no longer grows. ---------------------------------------

class ModalFilter(nn.Module):
    """h_c(t) = Re sum_n R_cn g_cn lambda_cn^t, lambda = exp(-r + i theta) (r > 0), g = 1 - |lambda|: the modal
    canonical form of the Laughing Hyena paper, i.e. the impulse response of s_t = lambda s_{t-1} + g z_t,
    y_t = Re sum_n R_n s_t,n.
    The input gain g keeps every state an average of past inputs (|s| <= max |z|) however slow its pole.
    channels x modes complex poles; the state methods take a channel slice `sl` (one ModalFilter holds both h1, h2)."""

    def __init__(self, channels: int, modes: int):
        super().__init__()
        self.log_rate = nn.Parameter(torch.log(torch.logspace(-3, -0.5, modes)).repeat(channels, 1))   # r = exp(.)
        self.angle = nn.Parameter(torch.linspace(0, math.pi, modes).repeat(channels, 1))
        self.residue = nn.Parameter(torch.randn(2, channels, modes) / modes)                        # (Re R, Im R)
        for p in self.parameters():
            p._no_weight_decay = True

    def powers(self, t, sl=slice(None)):
        """t [P] -> Re, Im of g lambda^t, each [C, N, P]."""
        rate = torch.exp(self.log_rate[sl]).unsqueeze(-1)
        mag = -torch.expm1(-rate) * torch.exp(-t * rate)
        ang = t * self.angle[sl].unsqueeze(-1)
        return mag * torch.cos(ang), mag * torch.sin(ang)

    def forward(self, t):
        """t [P] -> h(t) [C, P]."""
        pr, pi = self.powers(t)
        return (self.residue[0].unsqueeze(-1) * pr - self.residue[1].unsqueeze(-1) * pi).sum(1)

    def read(self, s, sl=slice(None)):
        """s [B, C, 2, N] (Re, Im of the modal state) -> y [B, C] = Re sum_n R_n s_n."""
        return (self.residue[0, sl] * s[:, :, 0] - self.residue[1, sl] * s[:, :, 1]).sum(-1)

    def advance(self, s, z, sl=slice(None)):
        """s_t = lambda s_{t-1} + g z_t; s [B, C, 2, N], z [B, C]."""
        rate = torch.exp(self.log_rate[sl])
        mag = torch.exp(-rate)
        c, si = mag * torch.cos(self.angle[sl]), mag * torch.sin(self.angle[sl])
        re, im = s[:, :, 0], s[:, :, 1]
        return torch.stack([c * re - si * im - torch.expm1(-rate) * z.unsqueeze(-1), si * re + c * im], dim=2)

    # Blocked forms for prefill: with t = aQ + b, lambda^t = lambda^(aQ) lambda^b, so the T x modes powers need
    # exp/cos/sin only at Q + T/Q points and the rest is matmuls (the elementwise form spent most of the
    # prefill in Sin/Cos/Exp in onnxruntime).
    block = 64

    def _block_powers(self, T, like, sl=slice(None)):
        """-> (Re, Im of lambda^b, b < Q, each [C, N, Q]), (Re, Im of lambda^(aQ), a < A, [C, N, A]), A = ceil(T/Q)."""
        Q = self.block
        A = torch.sym_max((T + Q - 1) // Q, 2)  # at least 2 blocks, so torch.export keeps T symbolic
        rate, ang = torch.exp(self.log_rate[sl]).unsqueeze(-1), self.angle[sl].unsqueeze(-1)

        def pw(t):
            mag = torch.exp(-rate * t)
            return mag * torch.cos(ang * t), mag * torch.sin(ang * t)
        return pw(torch.arange(Q, device=like.device, dtype=like.dtype)), pw(torch.arange(A, device=like.device, dtype=like.dtype) * Q), A

    def filter_range(self, T, like):
        """h(t) at t = 0 .. T-1 [C, T], equal to forward(arange(T))."""
        (br, bi), (ar, ai), A = self._block_powers(T, like)
        g = -torch.expm1(-torch.exp(self.log_rate))                      # [C, N]
        rr, ri = (self.residue[0] * g).unsqueeze(-1), (self.residue[1] * g).unsqueeze(-1)
        xr, xi = rr * ar - ri * ai, rr * ai + ri * ar                     # R g lambda^(aQ) [C, N, A]
        h = xr.transpose(1, 2) @ br - xi.transpose(1, 2) @ bi            # Re sum_n [C, A, Q]
        return h.flatten(1).narrow(-1, 0, T)

    def final_state_range(self, z, sl=slice(None)):
        """final_state(z, sl) by blocks: with k' = T-1-k = aQ + b, s = g sum_a lambda^(aQ) sum_b lambda^b zrev[aQ+b]."""
        Bsz, C, T = z.shape
        (br, bi), (ar, ai), A = self._block_powers(T, z, sl)
        Q = self.block
        zr = F.pad(z.flip(-1), (0, A * Q - T)).view(Bsz, C, A, Q).permute(1, 3, 0, 2).reshape(C, Q, Bsz * A)
        yr, yi = (br @ zr).view(C, -1, Bsz, A), (bi @ zr).view(C, -1, Bsz, A)   # [C, N, Bsz, A]
        ar, ai = ar.unsqueeze(2), ai.unsqueeze(2)
        g = -torch.expm1(-torch.exp(self.log_rate[sl])).unsqueeze(-1)             # [C, N, 1]
        sr = (ar * yr - ai * yi).sum(-1) * g
        si = (ar * yi + ai * yr).sum(-1) * g                                       # [C, N, Bsz]
        return torch.stack([sr, si], dim=1).permute(3, 0, 1, 2)                   # [Bsz, C, 2, N]

    def final_state(self, z, sl=slice(None)):
        """The state after a whole sequence, sum_k g lambda^{T-1-k} z_k: z [B, C, T] -> [B, C, 2, N] (two matmuls)."""
        T = z.shape[-1]
        lags = (T - 1 - torch.arange(T, device=z.device)).to(z.dtype)
        pr, pi = self.powers(lags, sl)                                     # [C, N, T]
        zc = z.permute(1, 2, 0)                                            # [C, T, B]
        return torch.stack([pr @ zc, pi @ zc], dim=1).permute(3, 0, 1, 2)  # [C, 2, N, B] -> [B, C, 2, N]


class DistilledHyenaOperator(HyenaOperator):
    """The Hyena operator with modal filters (Laughing Hyena). Prefill is still an FFT convolution (the filter
    evaluated at t = 0 .. T-1); decoding is the recurrence, with O(1) states per layer:
        short.<layer> [batch, 3D, 2], modal.<layer>.h1 / modal.<layer>.h2 [batch, D, 2, modes] (Re, Im)
    ("kind": "modal"), and neither the history nor the taps of the plain operator (state_spec, _final_states and
    step are its own)."""

    def __init__(self, d_model: int, modes: int, **kw):
        super().__init__(d_model, **kw)
        self.modes = modes
        self.filter = ModalFilter(2 * d_model, modes)         # channels [0, D): h1, [D, 2D): h2
        self.sl1, self.sl2 = slice(0, d_model), slice(d_model, 2 * d_model)

    def state_spec(self, layer: int):
        d = self.d_model
        return [state("short", layer, 3 * d, self.k - 1),
                state("modal", layer, d, 2, self.modes, part="h1"),
                state("modal", layer, d, 2, self.modes, part="h2")]

    def _prefill_filters(self, T, like):
        h = self.filter.filter_range(T, like)
        return h[: self.d_model], h[self.d_model:]

    def _final_states(self, v, z1, h1, h2):
        return [self.filter.final_state_range(v, self.sl1), self.filter.final_state_range(z1, self.sl2)]

    def step(self, u, states):
        """u [B, D]; states [short, modal_h1, modal_h2] -> the same shapes: O(1) per token."""
        short, s1, s2 = states
        v, x1, x2, short = self._short_step(u, short)
        s1 = self.filter.advance(s1, v, self.sl1)
        z1 = x1 * (self.filter.read(s1, self.sl1) + self.D[0] * v)
        s2 = self.filter.advance(s2, z1, self.sl2)
        z2 = x2 * (self.filter.read(s2, self.sl2) + self.D[1] * z1)
        return self.out_proj(z2), [short, s1, s2]


def fit_modal(target, modes: int, steps: int = 300, lr: float = 0.05, ridge: float = 1e-6, seed: int = 0):
    """Fit h_c(t) ~ Re sum_n R_cn g_cn lambda_cn^t to target [C, L] (Laughing Hyena's distillation of a filter into
    modes; here by gradient descent on the poles with the residues solved exactly by least squares at every step,
    since for fixed poles h is linear in (Re R, Im R)). Returns a ModalFilter and the relative L2 error per channel."""
    C, L = target.shape
    g = torch.Generator().manual_seed(seed)
    f = ModalFilter(C, modes).double()
    with torch.no_grad():  # start the poles spread in rate and angle, jittered per channel
        f.log_rate.add_(0.1 * torch.randn(f.log_rate.shape, generator=g, dtype=torch.float64))
        f.angle.add_(0.05 * torch.randn(f.angle.shape, generator=g, dtype=torch.float64))
    y = target.detach().double()
    t = torch.arange(L, dtype=torch.float64)
    norm = y.pow(2).sum(-1).clamp(min=1e-30)

    def solve():
        pr, pi = f.powers(t)                                          # [C, N, L]
        A = torch.cat([pr, -pi], 1).transpose(1, 2)                   # [C, L, 2N]
        AtA = A.transpose(1, 2) @ A + ridge * torch.eye(2 * modes, dtype=A.dtype) * norm.view(-1, 1, 1)
        R = torch.linalg.solve(AtA, A.transpose(1, 2) @ y.unsqueeze(-1)).squeeze(-1)   # [C, 2N]
        fit = (A @ R.unsqueeze(-1)).squeeze(-1)
        return R, ((fit - y).pow(2).sum(-1) / norm)

    opt = torch.optim.Adam([f.log_rate, f.angle], lr=lr)
    for _ in range(steps):
        _, err = solve()
        opt.zero_grad()
        err.sum().backward()
        opt.step()
        with torch.no_grad():
            f.log_rate.clamp_(min=-12.0, max=3.0)        # keep every pole strictly inside the unit circle
    with torch.no_grad():
        R, err = solve()
        f.residue.copy_(torch.stack([R[:, :modes], R[:, modes:]]))
    return f.float(), err.sqrt().float()


def distill(model: "Model", modes: int = 16, fit_len: int | None = None, steps: int = 300, seed: int = 0):
    """A Laughing Hyena copy of a trained Hyena `model`: every implicit filter is fitted on t = 0 .. fit_len-1
    (default 4 l_max: the slowest window is then below 1e-5) by `modes` complex modes; every other weight is copied.
    Returns (distilled model, {layer: max relative L2 error of its filters})."""
    c = {**model.config, "modes": modes}
    out = Model(c, model.vocab)
    sd = {k: v for k, v in model.state_dict().items() if ".filter." not in k}
    missing, unexpected = out.load_state_dict(sd, strict=False)
    assert not unexpected and all(".filter." in k for k in missing), (missing, unexpected)
    L = fit_len or 4 * int(c["l_max"])
    errors = {}
    for i, subs in enumerate(model.layers):
        op, new = subs[0].fn, out.layers[i][0].fn
        with torch.no_grad():
            target = op.filter(torch.arange(L, dtype=torch.float32))
        fitted, err = fit_modal(target, modes, steps=steps, seed=seed + i)
        new.filter.load_state_dict(fitted.state_dict())
        errors[i] = float(err.max())
    return out.eval(), errors


class Model(CausalLM):
    """Per layer: pre-norm Hyena operator, then pre-norm MLP, in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d = c["d_model"]
        op = dict(short_conv=c["short_conv"], filter_width=c["filter_width"], pos_dim=c["pos_dim"],
                  filter_sin_freq=c["filter_sin_freq"], l_max=c["l_max"], fast_decay_pct=c["fast_decay_pct"],
                  slow_decay_pct=c["slow_decay_pct"], decay_target=c["decay_target"], order=c["order"])
        mixer = (lambda: DistilledHyenaOperator(d, c["modes"], **op)) if c["modes"] else (lambda: HyenaOperator(d, **op))
        layers = [[mixer(), Stateless(GeluMLP(d, c["mlp_expand"] * d))] for _ in range(c["n_layers"])]
        super().__init__(vocab, d, layers)
        self.config = c
