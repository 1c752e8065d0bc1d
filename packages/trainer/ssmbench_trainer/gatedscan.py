"""Chunked linear recurrences shared by several families, exportable with a dynamic length (no loop over time).

Complex numbers are (re, im) pairs of real tensors; an `im` of None means real (and its terms are skipped). Every
function here has a naive token-by-token counterpart in test_gatedscan.py that it is checked against.

- `scan(a, x, dim, levels)`: the inclusive linear scan h_c = a_c h_{c-1} + x_c (h_{-1} = 0) along one axis. It
  carries the states across chunks in every kernel below. Eager runs (training, the PyTorch baseline) use
  Hillis-Steele doubling, ceil(log2 C) levels: level k adds a-products applied to the partial sums 2^k places back.
  Under export the number of chunks C is symbolic, and the scan becomes one ONNX `Scan` node (torch's scan
  operator, `in_graph_scan`): C sequential element-wise steps. The doubling form would have to run a fixed
  `levels` passes over all C chunk states whatever C is (16 for up to 2^16 chunks), which made it the largest
  cost of a 16K-token prefill on onnxruntime (docs/speed.md).
- `diag_scan(a, x, chunk, levels)`: the element-wise, data-dependent recurrence h_t = a_t * h_{t-1} + x_t
  (HGRN). Inside a chunk a doubling scan over the chunk's Q positions gives each position's local state and its
  cumulative decay prod_{i<=j} a_i; chunk ends are combined by `scan`; then h_t = local_t + cumdecay_t * H_{c-1}.
  Only products of the a's are formed (never divisions or exp of differences): exact up to round-off for any
  |a| <= 1, memory O(T * features).
- `lti_chunked(u, log_mag, phase, b, c, chunk, levels)`: a diagonal linear time-invariant SSM per channel,
  s_t = lambda s_{t-1} + b u_t, y_t = Re(sum_n c_n s_t,n), lambda = exp(log_mag + i phase) (H3's diagonal SSM,
  Mega's damped EMA). Within a chunk the convolution with the kernel K_l = Re(sum_n c_n b_n lambda_n^l) as a
  Q x Q Toeplitz matmul per channel; the chunk's own end state sum_s lambda^(Q-1-s) b u_s as a matmul; chunk
  states combined by `scan` with the constant lambda^Q; the carried state's contribution Re(c lambda^(j+1) S).
  Memory O(T * channels * (Q + N / Q)).
- `gla_complex_chunked(q, k, v, log_mag, phase, chunk, levels)`: linear attention with a data-dependent complex
  scalar decay per head, S_t = a_t S_{t-1} + k_t^T v_t (complex [d_k, d_v]), o_t = Re(q_t S_t) (GateLoop).
  Within a chunk the attention-like form with D[t,s] = Re(prod_{s<j<=t} a_j) = exp(L_t - L_s) cos(P_t - P_s)
  (L, P: within-chunk cumulative log-magnitude and phase; L_t - L_s <= 0 where it is used, so no overflow);
  chunk states combined by `scan`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def cmul(ar, ai, br, bi):
    """(ar + i ai)(br + i bi) with None for a zero imaginary part -> (re, im or None)."""
    if ai is None and bi is None:
        return ar * br, None
    if ai is None:
        return ar * br, ar * bi
    if bi is None:
        return ar * br, ai * br
    return ar * br - ai * bi, ar * bi + ai * br


def n_levels(n, levels: int) -> int:
    """Doubling levels for n chunks: exact in eager mode, the fixed `levels` when n is symbolic (export)."""
    if isinstance(n, int):
        need = max(1, (n - 1).bit_length())
        assert need <= levels, f"{n} chunks need {need} scan levels, more than the {levels} configured"
        return need
    return levels


def n_chunks(T, chunk: int):
    """ceil(T / chunk), at least 2 (a count that can be 1 gets specialised away on export: export-notes.md)."""
    return torch.sym_max((T + chunk - 1) // chunk, 2)


def in_graph_scan(step, init, xs, dim: int):
    """Runs `step(carry, slices) -> carry` over the slices of the tensors `xs` along `dim` and returns every carry,
    stacked along `dim`. It is torch's scan operator, which torch.onnx (dynamo) exports as one ONNX `Scan` node: a
    loop inside the graph over a symbolic count, with no fixed bound."""
    from torch._higher_order_ops.scan import scan as scan_op

    def body(carry, sl):
        new = step(carry, sl)
        return new, tuple(t.clone() for t in new)  # the stacked outputs must not alias the carry

    return scan_op(body, init, xs, dim=dim)[1]


def scan(a, x, dim: int, levels: int):
    """Inclusive scan h_c = a_c h_{c-1} + x_c along `dim` (h_{-1} = 0): Hillis-Steele doubling in eager mode, an
    ONNX Scan under export (module docstring). `levels` bounds the doubling's depth (C <= 2^levels).

    a = (ar, ai), x = (xr, xi): complex pairs (im None = real); a broadcasts against x, and may have size 1 along
    `dim` (a constant decay: then its powers are formed by squaring). Returns (hr, hi)."""
    ar, ai = a
    xr, xi = x
    n = xr.shape[dim]
    if not isinstance(n, int):
        return sequential_scan(a, x, dim)
    constant = ar.shape[dim] == 1
    idx = torch.arange(n, device=xr.device)
    view = [1] * xr.dim()
    view[dim] = -1
    for lvl in range(n_levels(n, levels)):
        src = (idx - (1 << lvl)).clamp(min=0)
        valid = (idx >= (1 << lvl)).view(view)
        pr = xr.index_select(dim, src)
        pi = xi.index_select(dim, src) if xi is not None else None
        ur, ui = cmul(ar, ai, pr, pi)
        zero = torch.zeros((), dtype=xr.dtype, device=xr.device)
        xr = xr + torch.where(valid, ur, zero)
        if ui is not None:
            xi = (xi if xi is not None else torch.zeros_like(xr)) + torch.where(valid, ui, zero)
        if constant:
            ar, ai = cmul(ar, ai, ar, ai)
        else:
            # Positions whose range already reaches the start keep their product (they take nothing more).
            qr, qi = cmul(ar, ai, ar.index_select(dim, src), ai.index_select(dim, src) if ai is not None else None)
            ar = torch.where(valid, qr, ar)
            ai = torch.where(valid, qi, ai) if ai is not None else None
    return xr, xi


def sequential_scan(a, x, dim: int):
    """scan() as one in-graph loop over `dim`: h_c = a_c h_{c-1} + x_c, complex where a or x is."""
    ar, ai = a
    xr, xi = x
    shape = torch.broadcast_shapes(ar.shape, xr.shape)
    full = lambda t: None if t is None else t.expand(shape)  # noqa: E731  a constant decay (size 1) repeats
    parts = [full(t) for t in (ar, ai, xr, xi)]
    present = [t is not None for t in parts]
    cplx = ai is not None or xi is not None
    h0 = torch.zeros_like(parts[2].select(dim, 0))
    init = (h0, torch.zeros_like(h0)) if cplx else (h0,)

    def step(h, sl):
        it = iter(sl)
        a_r, a_i, x_r, x_i = (next(it) if p else None for p in present)
        h_r, h_i = cmul(a_r, a_i, h[0], h[1] if cplx else None)
        h_r = h_r + x_r
        if not cplx:
            return (h_r,)
        h_i = h_i if h_i is not None else torch.zeros_like(h_r)
        return (h_r, h_i + x_i if x_i is not None else h_i)

    out = in_graph_scan(step, init, tuple(t for t in parts if t is not None), dim)
    return (out[0], out[1] if cplx else None)


def _shift_in_chunk(t, s: int, fill: float):
    """t [B, C, Q, F] shifted s places later along the chunk axis (2), the first s filled with `fill`."""
    return F.pad(t[:, :, : t.shape[2] - s], (0, 0, s, 0), value=fill)


def previous_chunk(t, dim: int):
    """The value of the previous chunk along `dim` (zeros before the first), by a gather (n stays symbolic)."""
    n = t.shape[dim]
    idx = torch.arange(n, device=t.device)
    view = [1] * t.dim()
    view[dim] = -1
    prev = t.index_select(dim, (idx - 1).clamp(min=0))
    return torch.where((idx >= 1).view(view), prev, torch.zeros((), dtype=t.dtype, device=t.device))


def diag_scan(a, x, chunk: int, levels: int = 16):
    """h_t = a_t * h_{t-1} + x_t element-wise over time (axis 1), h_{-1} = 0.

    a = (ar, ai), x = (xr, xi): [B, T, *F] (im None = real; a real and x complex, or both complex, are fine).
    Returns ((hr, hi) [B, T, *F], (last_r, last_i) [B, *F])."""
    ar, ai = a
    xr, xi = x
    B, T = xr.shape[:2]
    feat = xr.shape[2:]
    Q = chunk
    n = n_chunks(T, Q)
    pad = n * Q - T

    def prep(t, fill):  # left-pad to n whole chunks: x = 0 (nothing enters), a = 1 (nothing decays)
        if t is None:
            return None
        return F.pad(t.reshape(B, T, -1), (0, 0, pad, 0), value=fill).view(B, n, Q, -1)

    ar, ai, xr, xi = prep(ar, 1.0), prep(ai, 0.0), prep(xr, 0.0), prep(xi, 0.0)
    # 1. Within each chunk: local states (from zero at the chunk's start) and cumulative decays.
    s = 1
    while s < Q:
        pr, pi = cmul(ar, ai, _shift_in_chunk(xr, s, 0.0), _shift_in_chunk(xi, s, 0.0) if xi is not None else None)
        qr, qi = cmul(ar, ai, _shift_in_chunk(ar, s, 1.0), _shift_in_chunk(ai, s, 0.0) if ai is not None else None)
        xr = xr + pr
        xi = pi if xi is None else (xi + pi if pi is not None else xi)
        ar, ai = qr, qi
        s *= 2
    # 2. Across chunks: H_c = A_c H_{c-1} + X_c over the chunk ends.
    end = Q - 1
    Ar, Ai = ar[:, :, end], (ai[:, :, end] if ai is not None else None)
    Hr, Hi = scan((Ar, Ai), (xr[:, :, end], xi[:, :, end] if xi is not None else None), 1, levels)
    # 3. Every position: its local state plus its cumulative decay times the state entering its chunk.
    Pr = previous_chunk(Hr, 1).unsqueeze(2)
    Pi = previous_chunk(Hi, 1).unsqueeze(2) if Hi is not None else None
    cr, ci = cmul(ar, ai, Pr, Pi)
    hr = xr + cr
    hi = (xi + ci if ci is not None else xi) if xi is not None else ci
    keep = torch.arange(T, device=hr.device) + pad

    def out(t):
        return None if t is None else t.reshape(B, n * Q, -1).index_select(1, keep).view(B, T, *feat)

    last = (Hr[:, -1].view(B, *feat), Hi[:, -1].view(B, *feat) if Hi is not None else None)
    return (out(hr), out(hi)), last


def lti_powers(log_mag, phase, L: int):
    """lambda^l for l = 0..L-1, lambda = exp(log_mag + i phase) [..., N] -> (re, im) [..., N, L] (im None if phase
    is None)."""
    l = torch.arange(L, device=log_mag.device, dtype=log_mag.dtype)
    mag = torch.exp(log_mag.unsqueeze(-1) * l)
    if phase is None:
        return mag, None
    ang = phase.unsqueeze(-1) * l
    return mag * torch.cos(ang), mag * torch.sin(ang)


def causal_toeplitz(K):
    """The causal convolution with the taps K [..., Q] as a matrix [..., Q (t), Q (s)]: K_(t-s) where s <= t, else 0
    (so that x @ its transpose convolves the chunk x [..., Q])."""
    j = torch.arange(K.shape[-1], device=K.device)
    lag = j[:, None] - j[None, :]
    return torch.where(lag >= 0, K[..., lag.clamp(min=0)], torch.zeros((), dtype=K.dtype, device=K.device))


def lti_chunked(u, log_mag, phase, b, c, chunk: int, levels: int = 16):
    """Diagonal LTI SSM per channel over time: s_t = lambda s_{t-1} + b u_t, y_t = Re(sum_n c_n s_t,n), s_{-1} = 0.

    u [B, T, D] real; log_mag, phase [D, N] (phase None: real lambda = exp(log_mag)); b = (br, bi), c = (cr, ci):
    [D, N] (im None = real). Returns y [B, T, D] and the final state (sr, si) [B, D, N] (si None if everything
    is real)."""
    B, T, D = u.shape
    Q = chunk
    n = n_chunks(T, Q)
    pad = n * Q - T
    # Channels lead (the matmuls' batch axis), so no per-channel matrix is broadcast over batch and chunks.
    uc = F.pad(u, (0, 0, pad, 0)).view(B, n, Q, D).permute(3, 0, 1, 2).reshape(D, B * n, Q)
    Pr, Pi = lti_powers(log_mag, phase, Q + 1)                                   # [D, N, Q+1]
    br, bi = b
    cr, ci = c
    N = Pr.shape[1]
    # Intra-chunk: causal convolution with K_l = Re(sum_n c_n b_n lambda_n^l), as a Toeplitz matmul.
    cbr, cbi = cmul(cr, ci, br, bi)
    K = (cmul(cbr.unsqueeze(-1), None if cbi is None else cbi.unsqueeze(-1), Pr[..., :Q], None if Pi is None else Pi[..., :Q])[0]).sum(1)   # [D, Q]
    y = uc @ causal_toeplitz(K).transpose(-1, -2)                                 # [D, B n, Q]
    # The chunk's own end state U = sum_s lambda^(Q-1-s) b u_s = u @ W^T, W[n, s] = b_n lambda_n^(Q-1-s).
    rev = torch.arange(Q - 1, -1, -1, device=u.device)
    Wr, Wi = cmul(br.unsqueeze(-1), None if bi is None else bi.unsqueeze(-1), Pr.index_select(-1, rev),
                  None if Pi is None else Pi.index_select(-1, rev))               # [D, N, Q]
    Ur = (uc @ Wr.transpose(-1, -2)).view(D, B, n, N)
    Ui = (uc @ Wi.transpose(-1, -2)).view(D, B, n, N) if Wi is not None else None
    # Across chunks (axis 2): S_c = lambda^Q S_{c-1} + U_c.
    lamQ = (Pr[..., Q].view(D, 1, 1, N), None if Pi is None else Pi[..., Q].view(D, 1, 1, N))
    Sr, Si = scan(lamQ, (Ur, Ui), 2, levels)
    # Inter-chunk: + Re(sum_n c_n lambda_n^(j+1) S_prev,n) = S_prev @ V, V[n, j] = c_n lambda_n^(j+1).
    Vr, Vi = cmul(cr.unsqueeze(-1), None if ci is None else ci.unsqueeze(-1), Pr[..., 1:], None if Pi is None else Pi[..., 1:])
    y = y + previous_chunk(Sr, 2).reshape(D, B * n, N) @ Vr
    if Si is not None and Vi is not None:
        y = y - previous_chunk(Si, 2).reshape(D, B * n, N) @ Vi
    y = y.view(D, B, n * Q).permute(1, 2, 0).index_select(1, torch.arange(T, device=u.device) + pad)
    last = lambda S: S[:, :, -1].transpose(0, 1)                                  # noqa: E731  [D, B, N] -> [B, D, N]
    return y, (last(Sr), last(Si) if Si is not None else None)


def lti_step(u, state, log_mag, phase, b, c):
    """One token of lti_chunked: u [B, D], state (sr, si) [B, D, N] -> (y [B, D], (sr, si))."""
    mag = torch.exp(log_mag)
    lam = (mag, None) if phase is None else (mag * torch.cos(phase), mag * torch.sin(phase))
    dr, di = cmul(*lam, *state)
    ur, ui = cmul(*b, u.unsqueeze(-1), None)
    sr = dr + ur
    si = di + ui if di is not None and ui is not None else (di if di is not None else ui)
    y = cmul(c[0], c[1], sr, si)[0].sum(-1)
    return y, (sr, si)


def gla_complex_chunked(q, k, v, log_mag, phase, chunk: int, levels: int = 16):
    """Linear attention with a complex scalar decay per head and position:
        S_t = a_t S_{t-1} + k_t^T v_t,  o_t = Re(q_t S_t),  a_t = exp(log_mag_t + i phase_t)   (S_{-1} = 0)
    q, k [B, H, T, dk], v [B, H, T, dv] real; log_mag (<= 0), phase [B, H, T].
    Returns o [B, H, T, dv] and the final state (Sr, Si) [B, H, dk, dv]."""
    B, H, T, dk = q.shape
    dv = v.shape[-1]
    Q = chunk
    n = n_chunks(T, Q)
    pad = n * Q - T
    qc = F.pad(q, (0, 0, pad, 0)).view(B, H, n, Q, dk)
    kc = F.pad(k, (0, 0, pad, 0)).view(B, H, n, Q, dk)
    vc = F.pad(v, (0, 0, pad, 0)).view(B, H, n, Q, dv)
    Lm = torch.cumsum(F.pad(log_mag, (pad, 0)).view(B, H, n, Q), -1)             # within-chunk cumulative
    Lp = torch.cumsum(F.pad(phase, (pad, 0)).view(B, H, n, Q), -1)
    zero = torch.zeros((), dtype=q.dtype, device=q.device)
    j = torch.arange(Q, device=q.device)
    causal = j[:, None] >= j[None, :]
    dm = torch.where(causal, Lm.unsqueeze(-1) - Lm.unsqueeze(-2), zero)          # [B, H, n, Q(t), Q(s)], <= 0
    D = torch.where(causal, torch.exp(dm) * torch.cos(Lp.unsqueeze(-1) - Lp.unsqueeze(-2)), zero)
    o = ((qc @ kc.transpose(-1, -2)) * D) @ vc                                    # [B, H, n, Q, dv]
    # The chunk's own end state: sum_s prod_{s<j<=end} a_j k_s^T v_s.
    em = torch.exp(Lm[..., -1:] - Lm)
    ep = Lp[..., -1:] - Lp
    Ur = (kc * (em * torch.cos(ep)).unsqueeze(-1)).transpose(-1, -2) @ vc        # [B, H, n, dk, dv]
    Ui = (kc * (em * torch.sin(ep)).unsqueeze(-1)).transpose(-1, -2) @ vc
    mag_end = torch.exp(Lm[..., -1]).view(B, H, n, 1, 1)
    A = (mag_end * torch.cos(Lp[..., -1]).view(B, H, n, 1, 1), mag_end * torch.sin(Lp[..., -1]).view(B, H, n, 1, 1))
    Sr, Si = scan(A, (Ur, Ui), 2, levels)
    # The state entering each chunk, decayed to position j: Re(prod_{i<=j} a_i q_j S_prev).
    g = torch.exp(Lm)
    gr, gi = (g * torch.cos(Lp)).unsqueeze(-1), (g * torch.sin(Lp)).unsqueeze(-1)
    o = o + gr * (qc @ previous_chunk(Sr, 2)) - gi * (qc @ previous_chunk(Si, 2))
    o = o.reshape(B, H, n * Q, dv).index_select(2, torch.arange(T, device=q.device) + pad)
    return o, (Sr[:, :, -1], Si[:, :, -1])
