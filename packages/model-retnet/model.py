"""RetNet (multi-scale retention), plain PyTorch reference for ssmbench.

After Sun et al., "Retentive Network: A Successor to Transformer for Large Language Models", arXiv 2307.08621
(Sections 2.1-2.3). One layer is two pre-norm residual sub-layers (LayerNorm, as the paper):

    X  <- X + MSR(LN(X))              multi-scale retention
    X  <- X + FFN(LN(X))              FFN(x) = W_2 GELU(W_1 x), hidden 2 d_model

Multi-scale retention (eq. 8), H heads, head h with a fixed decay gamma_h = 1 - 2^(-5-h):

    q_t = W_Q x_t,  k_t = W_K x_t / sqrt(d_k),  v_t = W_V x_t          (d_k = d_model/H, d_v = 2 d_k per head)
    retention:  o_t = sum_{s<=t} gamma^(t-s) (R_t q_t)^T (R_s k_s) v_s      (eq. 5, the parallel form)
    Y = W_O( swish(W_G x) * GroupNorm_H(o) )                                 (GroupNorm: one group per head)

R_t is the position rotation of RoPE/xPos (pairs (i, i + d_k/2) rotated by t*theta_i, theta_i = 10000^(-2i/d_k)),
"xPos-free": without xPos's extra length scaling (the complex e^(i n theta) of eq. 3 written with real rotations).
Since R_t^T R_s = R(theta (s - t)), the score depends on t - s only.

Three equivalent forms of retention are implemented:
  1. `retention_parallel`: the quadratic parallel form (Q K^T * D) V with D[t,s] = gamma^(t-s) (s <= t) (eq. 5);
     the tests' reference.
  2. `retention_chunkwise`: the chunkwise recurrent form (eq. 7), used by forward (prefill and training): within a
     chunk of L tokens the parallel form; across chunks a carried state S_c = gamma^L S_{c-1} + U_c, computed in
     eager mode for all chunks at once by a log-depth (Hillis-Steele) scan over chunks, and in exported graphs by
     one ONNX Scan node over the symbolic chunk count (no Python loop over time either way). Everything is written
     in relative frames (angles at most L theta).
  3. `step`: the recurrent form (eq. 6) with the rotation folded into the state. With S_t the usual state
     sum_s gamma^(t-s) (R_s k_s) v_s^T, keep instead the rotating-frame state S~_t = R_t^T S_t:
         S~_t = gamma R(-theta) S~_{t-1} + k_t v_t^T,      o_t = q_t^T S~_t      (unrotated q_t and k_t)
     because R_t^T R_{t-1} = R(-theta) and (R_t q_t)^T S_t = q_t^T R_t^T S_t. The step needs no absolute
     position; the chunkwise prefill produces its final state directly in this frame. test_model.py checks it.

Why a scan across chunks and not the [C, C] decay matrix S_in = M U, M[c,c'] = gamma^(L(c-1-c')): that matrix
works with absolutely rotated q and k (R_t q_t, R_s k_s), and float32 angles t*theta at t ~ 4096 carry
ulp(4096) ~ 2.4e-4 rad of error: 6e-5 on the logits at T = 4096 (15x the step form's error). In the rotating
frame the cross-chunk factor is gamma^L R(-L theta), a rotation, so M would hold a 2x2 block per (head, frequency):
H * d_k/2 * C^2 entries (537 MB at 64K tokens). The scan applies the same factor elementwise in O(C log C).

Deviations from the paper: none in the function computed, except that the paper's extra normalisations of the
parallel form (D divided by sqrt(sum D), scores by max(|row sum|, 1)) are left out: they rescale each head's
output per position, which the GroupNorm removes (up to its eps). GroupNorm has nn.GroupNorm's per-channel affine.
Numerics: GroupNorm after retention is ill-conditioned where a head's output is nearly zero (typically position 0,
o_0 = (q_0 . k_0) v_0 with q_0 . k_0 ~ 0): float32 and float64 of the same weights differ by ~1e-5 there.

The LM shell (embedding, residual sub-layers, tied head, prefill/step contract) is ssmbench_trainer.lm.CausalLM.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer import linattn, ortops
from ssmbench_trainer.gatedscan import in_graph_scan
from ssmbench_trainer.lm import CausalLM, GeluMLP, Stateless, state, head_norm
from ssmbench_trainer.numerics import silu

FAMILY = "retnet"
VARIANT = "retnet (multi-scale retention, xPos-free rotation)"
PAPER = {"title": "Retentive Network: A Successor to Transformer for Large Language Models", "arxiv": "2307.08621"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 2,
    "v_factor": 2,       # value dim = v_factor * d_model (d_v = 2 d_k per head, as the paper)
    "ffn_factor": 2,     # FFN hidden = ffn_factor * d_model
    "chunk": 32,
    "scan_levels": 16,   # exported prefill handles up to chunk * 2^scan_levels tokens (2M)
    "norm": "layer",     # pre-norm: "layer" (LayerNorm, the paper) or "rms"
}


def rotate(x, cos, sin):
    """R x on the last axis, split in halves (x1, x2) -> (x1 cos - x2 sin, x1 sin + x2 cos); cos/sin broadcast
    against each half."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def decay_rotate(S, a, b, dim: int):
    """(a, b) = gamma^s (cos, sin)(s theta) applied to the state's d_k axis `dim` (split in halves S1, S2):
    gamma^s R(-s theta) S = (a S1 + b S2, a S2 - b S1), the cross-chunk factor of the scans over chunks."""
    p1, p2 = S.chunk(2, dim=dim)
    return torch.cat([p1 * a + p2 * b, p2 * a - p1 * b], dim=dim)


class MultiScaleRetention(nn.Module):
    """MSR sub-layer (Section 2.2). State: the rotating-frame retention state S~ [B, H, d_k, d_v]."""

    def __init__(self, d_model: int, n_heads: int = 2, v_factor: int = 2, chunk: int = 32, scan_levels: int = 16,
                 gn_eps: float = 1e-5):
        super().__init__()
        assert d_model % n_heads == 0 and (d_model // n_heads) % 2 == 0, "d_model / n_heads must be even"
        self.d_model, self.n_heads, self.chunk, self.gn_eps = d_model, n_heads, chunk, gn_eps
        self.d_k = d_model // n_heads
        self.value_dim = v_factor * d_model
        self.d_v = self.value_dim // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, self.value_dim, bias=False)
        self.g_proj = nn.Linear(d_model, self.value_dim, bias=False)
        self.out_proj = nn.Linear(self.value_dim, d_model, bias=False)
        self.gn_weight = nn.Parameter(torch.ones(self.value_dim))   # GroupNorm(H, value_dim) affine
        self.gn_bias = nn.Parameter(torch.zeros(self.value_dim))
        # Fixed per-head decays gamma_h = 1 - 2^(-5-h) (Section 2.2), stored as log(gamma).
        h = torch.arange(n_heads, dtype=torch.float64)
        log_gamma = torch.log1p(-torch.pow(2.0, -5.0 - h)).float().double()
        self.register_buffer("log_gamma", log_gamma, persistent=False)
        # RoPE frequencies theta_i = 10000^(-2i/d_k), i < d_k/2, rounded to float32; every constant below derives
        # from these float32 values in float64, so all forms use the same theta and gamma. The buffers stay float64
        # and are cast to the input's dtype where used: a float32 model sees exactly the float32 constants, and a
        # float64 one (export --precision float64) the same constants without float32 rounding between its forms.
        half = self.d_k // 2
        theta = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64) * 2 / self.d_k).float().double()
        self.register_buffer("theta", theta, persistent=False)
        th, lg = theta.double(), log_gamma.double()
        # The step's one-token rotation R(theta) (applied as R(-theta)).
        self.register_buffer("cos1", torch.cos(th), persistent=False)
        self.register_buffer("sin1", torch.sin(th), persistent=False)
        # Scan constants G^(2^k) = gamma^(L 2^k) R(-L 2^k theta), k < scan_levels, as [levels, H, 1, d_k/2, 1] cos and
        # sin parts times the decay (angles reduced mod 2 pi in float64; magnitudes underflow to 0 harmlessly).
        self.scan_levels = scan_levels
        span = chunk * torch.pow(2.0, torch.arange(scan_levels, dtype=torch.float64)).view(-1, 1, 1)   # L 2^k
        mag = torch.exp(span * lg.view(1, -1, 1))                                                  # [lv, H, 1]
        ang = torch.remainder(span * th.view(1, 1, -1), 2 * math.pi)                               # [lv, 1, dk/2]
        shape = (scan_levels, n_heads, 1, half, 1)                                                # broadcast on [B,H,C,dk/2,dv]
        self.register_buffer("scan_cos", (mag * torch.cos(ang)).view(shape), persistent=False)
        self.register_buffer("scan_sin", (mag * torch.sin(ang)).view(shape), persistent=False)

    def state_spec(self, layer: int):
        """One state tensor per layer, {"kind": "retention"}: S~ [batch, H, d_k, d_v]."""
        return [state("retention", layer, self.n_heads, self.d_k, self.d_v)]

    # --- shared pieces -------------------------------------------------------------------------------------
    def _qkv(self, u):
        """u [B, T, D] -> q, k [B, H, T, d_k] (unrotated; k scaled by d_k^-1/2), v [B, H, T, d_v]."""
        B, T, _ = u.shape
        q = self.q_proj(u).view(B, T, self.n_heads, self.d_k).transpose(1, 2)
        k = self.k_proj(u).view(B, T, self.n_heads, self.d_k).transpose(1, 2) * self.d_k ** -0.5
        v = self.v_proj(u).view(B, T, self.n_heads, self.d_v).transpose(1, 2)
        return q, k, v

    def _angles(self, pos):
        """pos float [T] -> cos, sin [T, d_k/2] of pos * theta."""
        a = pos.unsqueeze(-1) * self.theta.to(pos.dtype)
        return torch.cos(a), torch.sin(a)

    def group_norm(self, o):
        """GroupNorm with one group per head: o [..., H, d_v] normalised over each head's d_v channels, then the
        per-channel affine. -> [..., H * d_v]."""
        return head_norm(o, self.gn_eps).flatten(-2) * self.gn_weight + self.gn_bias

    def _output(self, u, o):
        """u [..., D], o [..., H, d_v] -> W_O(swish(W_G u) * GroupNorm(o))."""
        return self.out_proj(silu(self.g_proj(u)) * self.group_norm(o))

    # --- form 1: quadratic parallel (reference) ------------------------------------------------------------
    def retention_parallel(self, q, k, v):
        """(R q)(R k)^T * D then @ v, D[t,s] = gamma^(t-s) for s <= t (eq. 5). q, k [B,H,T,d_k], v [B,H,T,d_v]
        -> o [B, H, T, d_v], S~_{T-1} [B, H, d_k, d_v] computed directly as sum_s gamma^(T-1-s) R_{s-T+1} k_s v_s^T."""
        T = q.shape[2]
        pos = torch.arange(T, device=q.device, dtype=q.dtype)
        cos, sin = self._angles(pos)
        lag = pos[:, None] - pos[None, :]
        g = self.log_gamma.to(q.dtype).view(-1, 1, 1)
        D = torch.where(lag >= 0, torch.exp(lag.clamp(min=0) * g), torch.zeros((), dtype=q.dtype))   # [H, T, T]
        o = ((rotate(q, cos, sin) @ rotate(k, cos, sin).transpose(-1, -2)) * D) @ v
        rc, rs = self._angles(pos - (T - 1))                          # rotation by (s - (T-1)) theta
        w = torch.exp((T - 1 - pos) * g.view(-1, 1)).unsqueeze(-1)      # [H, T, 1]: gamma^(T-1-s)
        S = rotate(k, rc, rs).transpose(-1, -2) @ (w * v)
        return o, S

    # --- form 2: chunkwise recurrent (prefill) ------------------------------------------------------------
    def retention_chunkwise(self, q, k, v):
        """Chunkwise retention (eq. 7), same inputs and outputs as retention_parallel, in relative frames only.

        The sequence is left-padded with zeros to C >= 2 whole chunks of L (zero keys/values add nothing, and
        nothing below depends on absolute positions). With j the position inside chunk c (t = cL + j) and
        S~_c the rotating-frame state at the end of chunk c (the step's state, S~ = R_t^T S_t):
            intra:  ((R_j q)(R_i k)^T * D_L) v        the parallel form inside the chunk, D_L[j,i] = gamma^(j-i)
            U~_c  = sum_i gamma^(L-1-i) (R_{i-(L-1)} k_i) v_i^T          the chunk's own state at its end
            S~_c  = gamma^L R(-L theta) S~_{c-1} + U~_c                  across chunks (chunk_scan)
            inter:  gamma^(j+1) (R_{j+1} q_t)^T S~_{c-1}                 since R_t^T R_{cL-1} = R_{-(j+1)}
        Every rotation angle is at most L theta (the module docstring says why that matters in float32).
        """
        Bsz, H, T, dk = q.shape
        dv = v.shape[-1]
        L = self.chunk
        n_chunks = torch.sym_max((T + L - 1) // L, 2)                 # >= 2 keeps the length symbolic on export
        pad = n_chunks * L - T
        qc = F.pad(q, (0, 0, pad, 0)).view(Bsz, H, n_chunks, L, dk)
        kc = F.pad(k, (0, 0, pad, 0)).view(Bsz, H, n_chunks, L, dk)
        vc = F.pad(v, (0, 0, pad, 0)).view(Bsz, H, n_chunks, L, dv)
        g = self.log_gamma.to(q.dtype).view(H, 1)
        j = torch.arange(L, device=q.device, dtype=q.dtype)
        lag = j[:, None] - j[None, :]
        D = torch.where(lag >= 0, torch.exp(lag.clamp(min=0) * g.view(H, 1, 1)), torch.zeros((), dtype=q.dtype))
        cj, sj = self._angles(j)
        intra = ((rotate(qc, cj, sj) @ rotate(kc, cj, sj).transpose(-1, -2)) * D.view(H, 1, L, L)) @ vc
        ck, sk = self._angles(j - (L - 1))
        zeta = torch.exp((L - 1 - j) * g).view(H, 1, L, 1)                              # gamma^(L-1-i)
        U = rotate(kc, ck, sk).transpose(-1, -2) @ (zeta * vc)                          # [B, H, C, dk, dv]
        if isinstance(n_chunks, int):
            levels = max(1, (n_chunks - 1).bit_length())
            assert levels <= self.scan_levels, f"{T} tokens need scan_levels >= {levels} at chunk {L}"
            S_end = self.chunk_scan(U, levels)                                          # S~ at each chunk's end
        else:
            S_end = self.chunk_scan_in_graph(U)                                         # export: one ONNX Scan
        S_in = F.pad(S_end, (0, 0, 0, 0, 1, 0))[:, :, :n_chunks]                        # ... entering each chunk
        cq, sq = self._angles(j + 1)
        inter = (rotate(qc, cq, sq) * torch.exp((j + 1) * g).view(H, 1, L, 1)) @ S_in    # [B, H, C, L, dv]
        o = (intra + inter).reshape(Bsz, H, n_chunks * L, dv)
        o = o.index_select(2, torch.arange(T, device=q.device) + pad)
        return o, S_end[:, :, -1]

    def chunk_scan(self, U, levels: int):
        """Inclusive scan S~_c = G S~_{c-1} + U~_c over chunks (U [B, H, C, dk, dv], S~_{-1} = 0), G = gamma^L
        R(-L theta) acting on the d_k axis. Hillis-Steele doubling, no loop over time: level k adds G^(2^k) applied
        to the partial sums 2^k chunks back. G^(2^k) is a constant (scan_cos/scan_sin, from float64 at init); a
        fixed number of levels when exporting (C <= 2^scan_levels), the exact number in eager mode (the extra
        levels only add zeros)."""
        C = U.shape[2]
        idx = torch.arange(C, device=U.device)
        e = U
        for lvl in range(levels):
            src = idx - (1 << lvl)
            valid = (src >= 0).view(1, 1, -1, 1, 1)
            prev = e.index_select(2, src.clamp(min=0))
            a, b = self.scan_cos[lvl].to(U.dtype), self.scan_sin[lvl].to(U.dtype)                             # [H, 1, dk/2, 1]
            rot = decay_rotate(prev, a, b, dim=3)                                       # gamma^(L 2^k) R(-L 2^k theta)
            e = e + torch.where(valid, rot, torch.zeros((), dtype=U.dtype))
        return e

    def chunk_scan_in_graph(self, U):
        """chunk_scan as the sequential recurrence S~_c = G S~_{c-1} + U~_c, one chunk at a time in an ONNX Scan
        node (gatedscan.in_graph_scan): what exported prefills run, since there the chunk count is symbolic and a
        doubling scan would run all scan_levels passes at every length."""
        H, half = self.n_heads, self.d_k // 2
        a = self.scan_cos[0].to(U.dtype).view(H, half, 1)                                # G = gamma^L R(-L theta)
        b = self.scan_sin[0].to(U.dtype).view(H, half, 1)

        def step(S, sl):
            return (decay_rotate(S[0], a, b, dim=2) + sl[0],)                           # S~ [B, H, dk, dv]

        return in_graph_scan(step, (torch.zeros_like(U[:, :, 0]),), (U,), 2)[0]

    # --- form 2b: the recurrence in the absolute frame, as onnxruntime's fused node (exported float32 graphs) -----
    def retention_fused(self, q, k, v):
        """Same inputs and outputs as retention_parallel. With q'_t = R_t q_t and k'_s = R_s k_s, eq. 5 is the
        recurrence S_t = gamma S_{t-1} + k'_t^T v_t, o_t = q'_t S_t: one onnxruntime LinearAttention node
        (linattn.fused). Its final state is in the absolute frame; the contract's rotating-frame state is
        S~_{T-1} = R(-(T-1) theta) S_{T-1} on the d_k axis. The angles t theta are formed in float64 (t up to 2^20)."""
        B, H, T, _ = q.shape
        pos = torch.arange(T, device=q.device, dtype=torch.float64)
        cos, sin = (t.to(q.dtype) for t in self._angles(pos))
        g = self.log_gamma.to(q.dtype).view(1, H, 1).expand(B, H, T)
        o, S = linattn.fused(v.new_zeros(B, H, self.d_k, self.d_v), rotate(q, cos, sin), rotate(k, cos, sin), v, g)
        S = rotate(S.transpose(-1, -2), cos[-1], -sin[-1]).transpose(-1, -2)
        return o, S

    # --- full sequence from the zero state ------------------------------------------------------------------
    def forward(self, u, form: str = "chunkwise"):
        """u [B, T, D] -> (out [B, T, D], [S~ [B, H, d_k, d_v]]). form: "chunkwise" (default) or "parallel"; an
        exported float32 graph runs retention_fused."""
        q, k, v = self._qkv(u)
        if form == "chunkwise" and ortops.exporting(q):
            o, S = self.retention_fused(q, k, v)
        else:
            o, S = (self.retention_chunkwise if form == "chunkwise" else self.retention_parallel)(q, k, v)
        return self._output(u, o.transpose(1, 2)), [S]

    # --- form 3: one token ----------------------------------------------------------------------------------
    def step(self, u, states):
        """u [B, D], states [S~ [B, H, d_k, d_v]]: S~ <- gamma R(-theta) S~ + k v^T, o = q^T S~ (eq. 6)."""
        (S,) = states
        q, k, v = self._qkv(u.unsqueeze(1))                             # [B, H, 1, d]
        S_rot = rotate(S.transpose(-1, -2), self.cos1.to(S.dtype), -self.sin1.to(S.dtype)).transpose(-1, -2)   # R(-theta), d_k axis
        S = torch.exp(self.log_gamma.to(S.dtype)).view(-1, 1, 1) * S_rot + k.transpose(-1, -2) @ v
        o = (q @ S).squeeze(2)                                          # [B, H, d_v]
        return self._output(u, o), [S]


class Model(CausalLM):
    """RetNet layers (MSR then FFN, each pre-norm residual) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d = c["d_model"]
        layers = [[MultiScaleRetention(d, c["n_heads"], c["v_factor"], c["chunk"], c["scan_levels"]), Stateless(GeluMLP(d, c["ffn_factor"] * d))]
                  for _ in range(c["n_layers"])]
        super().__init__(vocab, d, layers, norm=c["norm"])
        self.config = c
