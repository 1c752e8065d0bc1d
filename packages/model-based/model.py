"""Based (Taylor linear attention + sliding-window attention), plain PyTorch reference for ssmbench.

After Arora, Eyuboglu, Zhang, Timalsina, Alberti, Zinsley, Zou, Rudra & Re, "Simple linear attention language
models balance the recall-throughput tradeoff", arXiv 2402.18668 (the Based architecture). Layers alternate between two mixers,
each followed by an MLP, all pre-norm residual (RMSNorm):

    X <- X + Mixer_l(RMSNorm(X)),  X <- X + FFN(RMSNorm(X))        FFN(x) = W_2 GELU(W_1 x)

with Mixer_l taken in turn from the config string `mixers` ("linear,window": layer 0 linear, layer 1 window, ...).

"linear": linear attention with the 2nd-order Taylor feature map. Per head, q_t, k_t in R^d (d =
feature_dim, 16: a small projection) and v_t in R^{d_model/H}:

    phi(x) . phi(y) = 1 + x.y / sqrt(d) + (x.y)^2 / (2 d)          ~ exp(x.y / sqrt(d))
    o_t = sum_{s<=t} phi(q_t).phi(k_s) v_s / sum_{s<=t} phi(q_t).phi(k_s)
        = phi(q_t) S_t / (phi(q_t) . z_t + eps),   S_t = S_{t-1} + phi(k_t)^T v_t,   z_t = z_{t-1} + phi(k_t)

phi(x) = [1, x / d^(1/4), (x_i x_j / sqrt(2d) for i = j, x_i x_j / sqrt(d) for i < j)]: the symmetric form of
[1, x / d^(1/4), (x outer x) / sqrt(2d)] (equal dot products; 1 + d + d(d+1)/2 = 153 features at d = 16 instead of
273). States per layer: `kv` [H, 153, d_model/H] and `z` [H, 153]. Prefill: chunked
(ssmbench_trainer.linattn.chunked_normalized, the kernel shared by the linear-attention families), dynamic length.

"window": causal softmax attention over the last W tokens (W = window, 64), H heads, rotary position
embedding on q and k (as the Based code's sliding attention). Score of query t on key s (t - W < s <= t):
q_t R((s - t) theta) k_s / sqrt(d_h), softmax over the window, times v_s. Written in relative positions only: the
prefill cuts the sequence into blocks of W and lets each block attend to itself and the block before (positions
relative to that pair, angles below 2 W theta), and the step keeps a fixed-size shift buffer of the last W keys
and values, the newest last, so slot i is always i - (W - 1) positions from the query. The step's state is
therefore constant in size, like every other state here: `window` key and value [H, W, d_h] and a 0/1 `valid`
[W] that marks the slots filled so far (the all-zero initial state is the empty window).

Deviations from the paper's LMs: its larger models also put gated short convolutions (BaseConv) in most layers
and use SwiGLU MLPs; here the layers alternate linear attention and sliding-window attention only (no BaseConv),
with GELU MLPs. eps = 1e-12 as the Based code (the Taylor kernel is >= 1/2, so the denominator is never small).
The LM shell (embedding, residual sub-layers, tied head, prefill/step contract) is ssmbench_trainer.lm.CausalLM.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer import linattn
from ssmbench_trainer.lm import CausalLM, GeluMLP, Stateless, state

FAMILY = "based"
VARIANT = "based (Taylor linear attention + sliding window)"
PAPER = {"title": "Simple linear attention language models balance the recall-throughput tradeoff", "arxiv": "2402.18668"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "mixers": "linear,window",   # cycled over the layers
    "n_heads": 2,                # linear attention: q, k of feature_dim per head, v of d_model / n_heads
    "feature_dim": 16,           # Taylor map of 16 -> 153 features
    "window": 64,                # sliding-window attention: the last 64 tokens
    "window_heads": 2,
    "ffn_factor": 2,             # MLP hidden = 2 d_model
    "eps": 1e-12,
    "chunk": 32,
    "rope_base": 10000.0,
}


# --- linear attention with the Taylor feature map ---------------------------------------------------------------------
class TaylorFeatureMap(nn.Module):
    """phi: [..., d] -> [..., 1 + d + d(d+1)/2] with phi(x) . phi(y) = 1 + x.y/sqrt(d) + (x.y)^2/(2d) (module docstring)."""

    def __init__(self, d: int):
        super().__init__()
        self.d = d
        i, j = torch.triu_indices(d, d)
        # The pairs (i <= j) are picked by products with one-hot [d, P] matrices (onnxruntime ran two index gathers
        # over every position as a third of a 16K prefill). The left one carries each pair's scale (forward).
        self.register_buffer("pick_i", F.one_hot(i, d).T.float(), persistent=False)
        self.register_buffer("pick_j", F.one_hot(j, d).T.float(), persistent=False)
        self.register_buffer("is_diag", i == j, persistent=False)

    @property
    def dim(self) -> int:
        return 1 + self.d + self.d * (self.d + 1) // 2

    def forward(self, x):
        # Scales 1/sqrt(2d) on the diagonal (x_i^2 / 2 over sqrt(d)) and 1/sqrt(d) off it (both orders of x_i x_j),
        # in x's dtype, folded into the [d, P] picking matrix (a constant once exported): a select between two scaled
        # copies of every pair was 15% of onnxruntime's 16K prefill.
        scale = torch.where(self.is_diag, x.new_tensor((2 * self.d) ** -0.5), x.new_tensor(self.d ** -0.5))
        quad = (x @ (self.pick_i.to(x.dtype) * scale)) * (x @ self.pick_j.to(x.dtype))
        return torch.cat([torch.ones_like(x[..., :1]), x * self.d ** -0.25, quad], dim=-1)


class TaylorLinearAttention(nn.Module):
    """Based's linear attention (module docstring). States: kv [B, H, F, d_v], z [B, H, F] (F = the feature count)."""

    def __init__(self, d_model: int, n_heads: int = 2, feature_dim: int = 16, eps: float = 1e-12, chunk: int = 32):
        super().__init__()
        assert d_model % n_heads == 0, "d_model must split over the heads"
        self.n_heads, self.feature_dim, self.dv, self.eps, self.chunk = n_heads, feature_dim, d_model // n_heads, eps, chunk
        self.feature_map = TaylorFeatureMap(feature_dim)
        self.q_proj = nn.Linear(d_model, n_heads * feature_dim, bias=False)
        self.k_proj = nn.Linear(d_model, n_heads * feature_dim, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model, bias=False)

    def state_spec(self, layer: int):
        F_ = self.feature_map.dim
        return [state("kv", layer, self.n_heads, F_, self.dv), state("z", layer, self.n_heads, F_)]

    def _project(self, u):
        """u [..., D] -> phi(q), phi(k) [..., H, F], v [..., H, d_v]."""
        heads = lambda x, d: x.reshape(*x.shape[:-1], self.n_heads, d)  # noqa: E731
        q = self.feature_map(heads(self.q_proj(u), self.feature_dim))
        k = self.feature_map(heads(self.k_proj(u), self.feature_dim))
        return q, k, heads(self.v_proj(u), self.dv)

    def forward(self, u):
        q, k, v = (t.transpose(1, 2) for t in self._project(u))            # [B, H, T, .]
        o, S, z = linattn.chunked_normalized(q, k, v, eps=self.eps, chunk=self.chunk)
        return self.out_proj(o.transpose(1, 2).flatten(-2)), [S, z]

    def step(self, u, states):
        q, k, v = self._project(u)
        o, S, z = linattn.step_normalized(states[0], states[1], q, k, v, eps=self.eps)
        return self.out_proj(o.flatten(-2)), [S, z]


# --- sliding-window softmax attention -----------------------------------------------------------------------------------
def rotate(x, cos, sin):
    """Rotary embedding on the last axis split in halves: (x1, x2) -> (x1 cos - x2 sin, x1 sin + x2 cos)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class SlidingWindowAttention(nn.Module):
    """Causal softmax attention over the last W tokens with rotary positions (module docstring).
    States: window key, value [B, H, W, d_h] (unrotated, newest last), valid [B, W]."""

    def __init__(self, d_model: int, n_heads: int = 2, window: int = 64, rope_base: float = 10000.0):
        super().__init__()
        assert d_model % n_heads == 0 and (d_model // n_heads) % 2 == 0, "d_model / n_heads must be even"
        self.n_heads, self.dh, self.window = n_heads, d_model // n_heads, window
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model, bias=False)
        # cos / sin of p * theta_i for relative positions p in [-W, W), computed in float64 (row p + W).
        theta = rope_base ** (-torch.arange(self.dh // 2, dtype=torch.float64) * 2 / self.dh)
        ang = torch.arange(-window, window, dtype=torch.float64).unsqueeze(-1) * theta
        self.register_buffer("rot_cos", torch.cos(ang).float(), persistent=False)
        self.register_buffer("rot_sin", torch.sin(ang).float(), persistent=False)

    def state_spec(self, layer: int):
        W = self.window
        return [state("window", layer, self.n_heads, W, self.dh, part="key"),
                state("window", layer, self.n_heads, W, self.dh, part="value"),
                state("window", layer, W, part="valid")]

    def _qkv(self, u):
        """u [B, ..., D] -> q, k, v [B, H, ..., d_h]."""
        q, k, v = self.qkv(u).reshape(*u.shape[:-1], 3, self.n_heads, self.dh).unbind(-3)
        return tuple(t.movedim(-2, 1) for t in (q, k, v))

    def _table(self, lo: int, hi: int, dtype):
        """cos, sin [hi - lo, d_h/2] for relative positions lo .. hi-1."""
        W = self.window
        return self.rot_cos[lo + W : hi + W].to(dtype), self.rot_sin[lo + W : hi + W].to(dtype)

    def forward(self, u):
        """u [B, T, D] -> (out [B, T, D], [key, value, valid]) from the empty window. Blocks of W, each query block
        against the key blocks (previous, own): scores [B, H, C, W, 2W], no loop over time."""
        Bsz, T, _ = u.shape
        W, H, dh = self.window, self.n_heads, self.dh
        q, k, v = self._qkv(u)                                            # [B, H, T, d_h]
        C = linattn.n_chunks(T, W)
        pad = C * W - T
        blocks = lambda x: F.pad(x, (0, 0, 0, pad)).view(Bsz, H, C, W, dh)  # noqa: E731
        qc, kc, vc = blocks(q), blocks(k), blocks(v)
        kk = torch.cat([linattn.previous_chunk(kc, 2), kc], dim=3)        # [B, H, C, 2W, d_h]: key j at j - W
        vv = torch.cat([linattn.previous_chunk(vc, 2), vc], dim=3)
        qr = rotate(qc, *self._table(0, W, u.dtype))                      # query i at relative position i
        kr = rotate(kk, *self._table(-W, W, u.dtype))
        scores = (qr @ kr.transpose(-1, -2)) * dh ** -0.5                # [B, H, C, W, 2W]
        i, j = torch.arange(W, device=u.device).view(-1, 1), torch.arange(2 * W, device=u.device).view(1, -1)
        lag = i + W - j                                                   # t - s
        in_window = (lag >= 0) & (lag < W)                                # [W, 2W]
        before_start = (torch.arange(C, device=u.device) == 0).view(-1, 1, 1) & (j < W).view(1, 1, -1)
        mask = in_window.unsqueeze(0) & ~before_start                     # [C, W, 2W]
        p = torch.softmax(torch.where(mask, scores, torch.full((), float("-inf"), dtype=u.dtype)), dim=-1)
        o = (p @ vv).reshape(Bsz, H, C * W, dh).index_select(2, torch.arange(T, device=u.device))
        # final state: the last W keys and values (slots before the sequence start are empty: zeros, valid 0)
        idx = torch.arange(W, device=u.device) + (T - W)
        valid = (idx >= 0).to(u.dtype)
        idx = idx.clamp(min=0)
        key = k.index_select(2, idx) * valid.view(-1, 1)
        value = v.index_select(2, idx) * valid.view(-1, 1)
        return self.out_proj(o.transpose(1, 2).flatten(-2)), [key, value, torch.ones_like(u[:, 0, :1]) * valid]

    def step(self, u, states):
        """u [B, D], states [key, value, valid]: shift the new key and value in (the oldest out), attend over the
        valid slots; slot i sits i - (W - 1) positions from the query."""
        key, value, valid = states
        q, k, v = self._qkv(u)                                            # [B, H, d_h]
        key = torch.cat([key[:, :, 1:], k.unsqueeze(2)], dim=2)
        value = torch.cat([value[:, :, 1:], v.unsqueeze(2)], dim=2)
        valid = torch.cat([valid[:, 1:], torch.ones_like(valid[:, :1])], dim=1)
        kr = rotate(key, *self._table(1 - self.window, 1, u.dtype))       # the query sits at relative position 0
        scores = (q.unsqueeze(2) @ kr.transpose(-1, -2)).squeeze(2) * self.dh ** -0.5   # [B, H, W]
        scores = torch.where(valid.unsqueeze(1) > 0.5, scores, torch.full((), float("-inf"), dtype=u.dtype))
        o = (torch.softmax(scores, dim=-1).unsqueeze(2) @ value).squeeze(2)  # [B, H, d_h]
        return self.out_proj(o.flatten(-2)), [key, value, valid]


MIXERS = {"linear", "window"}


class Model(CausalLM):
    """Based layers (a mixer from `mixers` in turn, then an MLP; each pre-norm residual) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d = c["d_model"]
        kinds = [m.strip() for m in c["mixers"].split(",")]
        unknown = set(kinds) - MIXERS
        if unknown or not kinds:
            raise ValueError(f"mixers must be a comma-separated list of {sorted(MIXERS)}, not {c['mixers']!r}")

        def mixer(kind):
            if kind == "linear":
                return TaylorLinearAttention(d, c["n_heads"], c["feature_dim"], c["eps"], c["chunk"])
            return SlidingWindowAttention(d, c["window_heads"], c["window"], c["rope_base"])
        layers = [[mixer(kinds[i % len(kinds)]), Stateless(GeluMLP(d, c["ffn_factor"] * d))] for i in range(c["n_layers"])]
        super().__init__(vocab, d, layers)
        self.config = c
