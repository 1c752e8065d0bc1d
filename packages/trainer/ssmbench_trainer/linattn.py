"""Chunked causal linear attention with an optional per-step decay: the kernel shared by the linear-attention
families (model-mamba2, model-gla, model-linear-attention, model-based).

Per head, with q_t, k_t in R^{d_k}, v_t in R^{d_v} and a log-decay g_t (scalar per head, a vector in R^{d_k}, or
none), the state S_t in R^{d_k x d_v} and the output o_t are

    S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t          (S_{-1} = 0)
    o_t = q_t S_t                                      (inclusive: o_t sees k_t v_t)

which is Mamba-2's SSD (g_t = dt_t A, q = C, k = B, v = dt x), Gated Linear Attention (g_t = log alpha_t, a vector),
and plain linear attention (no decay; with v extended by a column of ones the same state carries the normaliser
z_t = sum_s k_s: see `chunked_normalized`).

`chunked` computes all positions at once without a Python loop over time, so torch.export keeps the length
dynamic (export-notes.md): the sequence is padded at its end to C >= 2 chunks of Q (gatedscan.n_chunks), and with
L_t the inclusive cumulative log-decay inside a chunk,

    intra:  o_t += sum_{s<=t in chunk} (q_t diag(exp(L_t - L_s)) k_s^T) v_s
    inter:  o_t += (q_t exp(L_t)) S_in(c)
    local:  U_c  = sum_s (k_s exp(L_Q - L_s))^T v_s            the chunk's own contribution to its end state
    across: S_c  = exp(L_Q(c)) S_{c-1} + U_c                   a log-depth (Hillis-Steele) scan over chunks
                                                               (gatedscan.scan, shared with the other kernels)

The intra-chunk decay matrix is computed three ways:
  - none: the causal mask only;
  - scalar per head ([B, H, T]): the exact segment sum seg[t, s] = sum_{s<j<=t} g_j as a masked cumsum (the
    "stable segsum" of the SSD paper's minimal code): no clamp, any decay, no cancellation of large L_t - L_s;
  - vector ([B, H, T, d_k]): the Q x Q x d_k tensor is avoided by factoring exp(L_t - L_s) =
    exp(L_t - L_m) exp(L_m - L_s) with L_m the log-decay at mid-chunk, so each factor stays below
    exp(Q/2 * |floor|) when every step's log-decay is >= floor. The caller must clamp g_t at >= `vector_floor(Q)`
    = -160/Q (both factors <= exp(80), inside float32) in every path (chunked, step, training) so they agree.
    Entries s > t of the factored product may overflow; torch.where drops them (forward and backward stay finite).

Padding at the end has k = v = 0 and g = 0, so the final state is the last chunk's end state. q and k may have a
head axis of 1 that broadcasts against v's heads (Mamba-2's B and C shared by all heads).

Also here: the normalised form o_t = q_t S_t / (q_t . z_t) (Katharopoulos et al.; Based).

Exported graphs run `step`, and `chunked` with a decay, as one onnxruntime LinearAttention node
(ortops.linear_attention: the same recurrence, computed by onnxruntime's kernel token by token): GLA's 16K prefill
~1.5x faster on onnxruntime, Mamba-2's too, and fewer nodes per decode step. Eager PyTorch (training, the speed
suite's baseline) keeps the forms above.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import ortops
from .gatedscan import n_chunks, previous_chunk, scan  # noqa: F401  (n_chunks, previous_chunk: used by the families too)


def vector_floor(chunk: int) -> float:
    """Lowest per-step log-decay the vector-decay chunked form supports at chunk length Q (module docstring)."""
    return -160.0 / chunk


def chunk_scan(G, E, levels: int, dim: int = 2):
    """Inclusive scan along `dim` of S_c = exp(G_c) * S_{c-1} + E_c (S_{-1} = 0); G broadcasts against E, or is None
    (no decay: a cumulative sum). The doubling scan is gatedscan.scan's (eager: ceil(log2 C) levels; exported: the
    fixed `levels`, bounding the chunk count at 2^levels)."""
    if G is None:
        return torch.cumsum(E, dim)
    return scan((torch.exp(G), None), (E, None), dim, levels)[0]


def _chunks(x, C, Q: int, pad):
    """[B, H, T, ...] -> [B, H, C, Q, ...] padded with zeros at the end."""
    widths = [0, 0] * (x.dim() - 3) + [0, pad]
    return F.pad(x, widths).view(x.shape[0], x.shape[1], C, Q, *x.shape[3:])


def chunked(q, k, v, log_decay=None, *, chunk: int = 32, levels: int = 16):
    """q, k [B, Hq, T, d_k] (Hq = H or 1), v [B, H, T, d_v], log_decay None | [B, H, T] | [B, H, T, d_k]
    -> (o [B, H, T, d_v], S_T [B, H, d_k, d_v]) from the zero state.

    levels: the fixed scan depth used under export (at most chunk * 2^levels tokens)."""
    if log_decay is not None and ortops.exporting(v):
        # With a decay only: without one, the op made linear attention's 16K prefill slower (0.83x in ab_ort) and
        # Based's 1.01-1.03x faster (docs/speed.md), so those keep the chunked cumulative-sum form.
        return fused(v.new_zeros(v.shape[0], v.shape[1], q.shape[-1], v.shape[-1]), q, k, v, log_decay)
    B, H, T, dv = v.shape
    dk = q.shape[-1]
    Q = chunk
    C = n_chunks(T, Q)
    pad = C * Q - T
    qc, kc, vc = _chunks(q, C, Q, pad), _chunks(k, C, Q, pad), _chunks(v, C, Q, pad)
    i = torch.arange(Q, device=v.device)
    causal = i.view(-1, 1) >= i.view(1, -1)                                # [Q, Q]: s <= t
    zero = torch.zeros((), dtype=v.dtype, device=v.device)
    if log_decay is None:
        A = torch.where(causal, qc @ kc.transpose(-1, -2), zero)
        qin, kout, G = qc, kc, None
    elif log_decay.dim() == 3:                                             # scalar per head
        a = _chunks(log_decay.unsqueeze(-1), C, Q, pad).squeeze(-1)       # [B, H, C, Q]
        L = torch.cumsum(a, dim=-1)
        strict = i.view(-1, 1) > i.view(1, -1)
        seg = torch.cumsum(torch.where(strict, a.unsqueeze(-1), zero), dim=-2)   # seg[t, s] = sum_{s<j<=t} a_j
        A = torch.where(causal, (qc @ kc.transpose(-1, -2)) * torch.exp(seg), zero)
        Lq = L[..., Q - 1 :]                                               # [B, H, C, 1]
        qin = qc * torch.exp(L).unsqueeze(-1)
        kout = kc * torch.exp(Lq - L).unsqueeze(-1)
        G = Lq.unsqueeze(-1)                                               # [B, H, C, 1, 1]
    else:                                                                  # vector over d_k
        a = _chunks(log_decay, C, Q, pad)                                  # [B, H, C, Q, d_k]
        L = torch.cumsum(a, dim=3)
        mid = L[:, :, :, Q // 2 : Q // 2 + 1]
        A = torch.where(causal, (qc * torch.exp(L - mid)) @ (kc * torch.exp(mid - L)).transpose(-1, -2), zero)
        Lq = L[:, :, :, Q - 1 :]                                           # [B, H, C, 1, d_k]
        qin = qc * torch.exp(L)
        kout = kc * torch.exp(Lq - L)
        G = Lq.transpose(-1, -2)                                           # [B, H, C, d_k, 1]
    o = A @ vc                                                             # [B, H, C, Q, d_v]
    U = kout.transpose(-1, -2) @ vc                                        # [B, H, C, d_k, d_v]
    S_end = chunk_scan(G, U, levels, dim=2)                               # state at each chunk's end
    S_in = previous_chunk(S_end, 2)                                       # ... entering each chunk
    o = o + qin @ S_in
    o = o.reshape(B, H, C * Q, dv).index_select(2, torch.arange(T, device=v.device))
    return o, S_end[:, :, -1]


def step(S, q, k, v, log_decay=None):
    """One token of the recurrence: q, k [B, Hq, d_k], v [B, H, d_v], log_decay None | [B, H] | [B, H, d_k],
    S [B, H, d_k, d_v] -> (o [B, H, d_v], S')."""
    if ortops.exporting(v):
        B, H, dv = v.shape

        def packed(x):                              # [B, H or 1, d] -> [B, 1, H * d]: a reshape, no transpose
            return x.expand(B, H, x.shape[-1]).reshape(B, 1, H * x.shape[-1])

        decay = None if log_decay is None else packed(log_decay.unsqueeze(-1) if log_decay.dim() == 2 else log_decay)
        o, S = ortops.linear_attention(packed(q), packed(k), packed(v), S, decay, H)
        return o.view(B, H, dv), S
    if log_decay is not None:
        S = S * torch.exp(log_decay.view(*log_decay.shape[:2], -1, 1))
    S = S + k.unsqueeze(-1) * v.unsqueeze(-2)
    return (q.unsqueeze(-2) @ S).squeeze(-2), S


def fused(S, q, k, v, log_decay=None):
    """The recurrence from state S over T tokens as onnxruntime's LinearAttention node (in an exported graph; the
    op's eager body elsewhere). Arguments as `chunked`, plus S [B, H, d_k, d_v] -> (o [B, H, T, d_v], S_T)."""
    B, H, T, dv = v.shape

    def packed(x):                                  # [B, H or 1, T, d] -> [B, T, H * d], the op's layout
        x = x.expand(B, H, T, x.shape[-1])
        return x.transpose(1, 2).reshape(B, T, H * x.shape[-1])

    decay = None if log_decay is None else packed(log_decay.unsqueeze(-1) if log_decay.dim() == 3 else log_decay)
    o, S = ortops.linear_attention(packed(q), packed(k), packed(v), S, decay, H)
    return o.view(B, T, H, dv).transpose(1, 2), S


def recurrent(q, k, v, log_decay=None):
    """The naive reference: `step` in a Python loop over time (tests only). Same arguments as `chunked`."""
    B, H, T, dv = v.shape
    S = v.new_zeros(B, H, q.shape[-1], dv)
    outs = []
    for t in range(T):
        o, S = step(S, q[:, :, t], k[:, :, t], v[:, :, t], None if log_decay is None else log_decay[:, :, t])
        outs.append(o)
    return torch.stack(outs, 2), S


# --- normalised linear attention (Katharopoulos et al.; Based) ------------------------------------------------------
def chunked_normalized(q, k, v, *, eps: float, chunk: int = 32, levels: int = 16):
    """o_t = q_t S_t / (q_t . z_t + eps) with S_t = sum_{s<=t} k_s^T v_s, z_t = sum_{s<=t} k_s (feature maps already
    applied; q . k > 0 assumed). The normaliser rides along as an extra value column of ones.
    -> (o [B, H, T, d_v], S_T [B, H, d_k, d_v], z_T [B, H, d_k])."""
    o, S = chunked(q, k, torch.cat([v, torch.ones_like(v[..., :1])], -1), None, chunk=chunk, levels=levels)
    dv = v.shape[-1]
    return o[..., :dv] / (o[..., dv:] + eps), S[..., :dv], S[..., dv]


def step_normalized(S, z, q, k, v, *, eps: float):
    """One token of normalised linear attention: S [B, H, d_k, d_v], z [B, H, d_k], q, k [B, H, d_k], v [B, H, d_v]
    -> (o [B, H, d_v], S', z')."""
    S = S + k.unsqueeze(-1) * v.unsqueeze(-2)
    z = z + k
    num = (q.unsqueeze(-2) @ S).squeeze(-2)
    den = (q * z).sum(-1, keepdim=True)
    return num / (den + eps), S, z
