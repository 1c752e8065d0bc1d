"""xLSTM (mLSTM blocks), plain PyTorch reference for ssmbench.

After Beck, Poeppel, Spanring, Auer, Prudnikova, Kopp, Klambauer, Brandstetter and Hochreiter, "xLSTM: Extended
Long Short-Term Memory", NeurIPS 2024, arXiv 2405.04517 (Section 2.3 and Appendix A.3 for the mLSTM, Figure 10
for its pre-up-projection block). Every layer is one mLSTM block in a pre-norm residual (LayerNorm); the block has
its own up- and down-projection, so there is no separate FFN (as the paper's mLSTM-only models, xLSTM[1:0]).

mLSTM cell, per head (H heads of size d = inner / H), with q, k, v, and scalar gate pre-activations i~, f~:

    C_t = f_t C_{t-1} + i_t v_t k_t^T             matrix memory          (k scaled by 1/sqrt(d))
    n_t = f_t n_{t-1} + i_t k_t                   normaliser
    h~_t = C_t q_t / max(|n_t^T q_t|, 1)
    i_t = exp(i~_t),  f_t = sigmoid(f~_t)          exponential input gate, sigmoid forget gate (log f = logsigmoid)

stabilised (the paper's eq. for the mLSTM): m_t = max(log f_t + m_{t-1}, i~_t), i'_t = exp(i~_t - m_t),
f'_t = exp(log f_t + m_{t-1} - m_t), and C', n' updated with i', f' in place of i, f: C'_t = e^(-m_t) C_t, so
h~_t = C'_t q_t / max(|n'_t^T q_t|, e^(-m_t)) equals the unstabilised value. The states are C' [H, d, d] (state kind mem; stored as
sum k v^T, the paper's C transposed), n' [H, d] and m [H]; the all-zero initial state is C = n = 0 with m = 0.
As the reference code, 1e-6 is added to the denominator.

mLSTM block (Figure 10): x -> up-projection to 2 * inner (proj_factor 2) = (x_m, z); x_c = SiLU(causal conv4(x_m));
q = W_q x_c, k = W_k x_c (block-diagonal, blocks of 4), v = W_v x_m (block-diagonal); i~, f~ = linear maps of
[q, k, v] (one scalar per head); h = MultiHeadLayerNorm(h~) + s * x_c (learnable skip); y = W_down(h * SiLU(z)).
Init as the reference: f~ bias linspace(3, 6) over heads and zero weights, i~ bias N(0, 0.1) and zero weights.

Prefill (no loop over time, dynamic length), chunks of Q tokens; within a chunk the parallel form of Appendix
A.3 with the matrix of log gates D[j, s] = b_j - b_s + i~_s (s <= j; b the within-chunk cumulative log f), and
the state carried in from the previous chunk as one more term:

    m_j   = max(b_j + m_in, max_{s<=j} D[j, s])                           the recurrence's m, unrolled
    num_j = e^(b_j + m_in - m_j) q_j C'_in + sum_s e^(D[j,s] - m_j) (q_j . k_s) v_s
    den_j = e^(b_j + m_in - m_j) q_j . n'_in + sum_s e^(D[j,s] - m_j) (q_j . k_s)
    h~_j  = num_j / (max(|den_j|, e^(-m_j)) + 1e-6)

Across chunks: m at chunk ends is a (max, +) recurrence m_c = max(B_c + m_{c-1}, M_c) (B_c the chunk's total
log f, M_c its own max_s D[Q-1, s]) solved by `maxplus_scan`; then C'_c = g_c C'_{c-1} + U_c with
g_c = e^(B_c + m_{c-1} - m_c) <= 1 and U_c = sum_s e^(D[Q-1, s] - m_c) k_s v_s^T (every exponent <= 0), by the
shared scan (ssmbench_trainer.gatedscan.scan); the same for n'. Eager runs these by doubling (ceil(log2 chunks)
levels); the exported graph runs all three as one ONNX Scan loop over the symbolic chunk count
(_chunk_ends_in_graph). Every exponent is <= 0, so the chunked form needs no floor and equals
the recurrence up to round-off (the tests check 1e-5). One float32 caveat: where m follows the forget gates alone
for thousands of tokens (input gates far below the accumulated log f) m grows large and the two forms round its
sums differently (~1e-7 |m| relative); with input gates of order 1, m stays of order 1.

sLSTM blocks (Section 2.2, Figure 9; optional: config "slstm_at" lists the layers that are sLSTM blocks, comma-separated, none by
default, i.e. xLSTM[1:0]). A scalar memory per unit with recurrent connections R (block-diagonal per head, H heads):

    z~, i~, f~, o~ = W x_t + R h_{t-1} + b          (i~, f~ from SiLU(causal conv4(x)), z~, o~ from x)
    m_t = max(log sigmoid(f~) + m_{t-1}, i~),  i' = exp(i~ - m_t),  f' = exp(log sigmoid(f~) + m_{t-1} - m_t)
    c_t = f' c_{t-1} + i' tanh(z~),  n_t = f' n_{t-1} + i',  h_t = sigmoid(o~) c_t / n_t
    out = GroupNorm_H(h);  then a pre-norm residual gated FFN: W_down(GELU(W_g x) * W_u x), hidden 4/3 d_model

h_{t-1} enters the gates through a non-linearity, so there is no parallel form: the prefill runs the exact
recurrence as torch's scan operator (torch._higher_order_ops.scan), which exports as one ONNX Scan node with a
dynamic length (export-notes.md); the input projections W x_t are computed for all positions outside it. The states
are conv [d, 3] and h, c, n, m [d] (kinds slstm_h, slstm_c, slstm_n, slstm_m). Init: f~ bias linspace(3, 6) over
heads, R ~ N(0, 0.1 / d_head) (the reference code's inits differ in details).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from torch._higher_order_ops.scan import scan as time_scan

from ssmbench_trainer.gatedscan import in_graph_scan, n_chunks, n_levels, previous_chunk, scan
from ssmbench_trainer.lm import CausalLM, Stateless, state, head_norm

FAMILY = "xlstm"
VARIANT = "xlstm[1:0] (mLSTM blocks; sLSTM blocks optional)"
PAPER = {"title": "xLSTM: Extended Long Short-Term Memory", "arxiv": "2405.04517"}
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 4,
    "proj_factor": 2,     # inner = proj_factor * d_model
    "conv_kernel": 4,
    "qkv_blocksize": 4,   # block-diagonal q, k, v projections
    "chunk": 32,
    "scan_levels": 16,    # exported prefill handles up to chunk * 2^scan_levels tokens (2M)
    "norm": "layer",
    "slstm_at": "",       # layers that are sLSTM blocks, comma-separated (e.g. "1": xLSTM[1:1] at 2 layers); "": xLSTM[1:0]
}
EPS = 1e-6


def maxplus_scan(B, M, dim: int, levels: int):
    """Inclusive scan of m_c = max(B_c + m_{c-1}, M_c) from m_{-1} = 0 along `dim`: returns max(sum_{c'<=c} B, M_incl)
    where (B, M) are combined pairwise as (B1 + B2, max(M1 + B2, M2)) by Hillis-Steele doubling (eager only: the
    exported graph runs the recurrence in _chunk_ends_in_graph's loop)."""
    n = B.shape[dim]
    idx = torch.arange(n, device=B.device)
    view = [1] * B.dim()
    view[dim] = -1
    for lvl in range(n_levels(n, levels)):
        src = (idx - (1 << lvl)).clamp(min=0)
        valid = (idx >= (1 << lvl)).view(view)
        Bp, Mp = B.index_select(dim, src), M.index_select(dim, src)
        M = torch.where(valid, torch.maximum(Mp + B, M), M)
        B = torch.where(valid, Bp + B, B)
    return torch.maximum(B, M)


def mlstm_chunked(q, k, v, ig, lf, chunk: int, levels: int = 16, eps: float = EPS):
    """The mLSTM cell over a sequence from the zero state. q, k (already scaled), v [B, H, T, d]; ig = i~, lf = log f
    [B, H, T]. Returns h~ [B, H, T, d] and the final (C' [B, H, d, d], n' [B, H, d], m [B, H])."""
    Bsz, H, T, d = q.shape
    Q = chunk
    n = n_chunks(T, Q)
    pad = n * Q - T
    # Left padding: zero q, k, v with log f = 0 and i~ = 0 leaves the zero state (C = n = 0, m = 0) unchanged.
    qc, kc, vc = (F.pad(t, (0, 0, pad, 0)).view(Bsz, H, n, Q, d) for t in (q, k, v))
    igc = F.pad(ig, (pad, 0)).view(Bsz, H, n, Q)
    b = torch.cumsum(F.pad(lf, (pad, 0)).view(Bsz, H, n, Q), -1)                  # within-chunk cumulative log f
    j = torch.arange(Q, device=q.device)
    causal = j[:, None] >= j[None, :]
    neg_inf = torch.full((), float("-inf"), dtype=q.dtype, device=q.device)
    D = torch.where(causal, b.unsqueeze(-1) - b.unsqueeze(-2) + igc.unsqueeze(-2), neg_inf)   # [B, H, n, Q, Q]
    # Chunk ends: m_c by the (max, +) scan, then C', n' by the linear scan.
    Bc, Mc = b[..., -1], D[..., -1, :].amax(-1)                                   # [B, H, n]
    ends = _chunk_ends_doubling if isinstance(n, int) else _chunk_ends_in_graph
    m_end, m_in, C_end, n_end = ends(kc, vc, D[..., -1, :], Bc, Mc, levels)
    C_in, n_in = previous_chunk(C_end, 2), previous_chunk(n_end, 2)
    # Within each chunk.
    m = torch.maximum(b + m_in.unsqueeze(-1), D.amax(-1))                         # [B, H, n, Q]
    W = torch.exp(D - m.unsqueeze(-1))                                            # 0 above the diagonal
    S = (qc @ kc.transpose(-1, -2)) * W
    carry = torch.exp(b + m_in.unsqueeze(-1) - m).unsqueeze(-1)                   # [B, H, n, Q, 1]
    num = S @ vc + carry * (qc @ C_in)
    den = S.sum(-1, keepdim=True) + carry * (qc * n_in.unsqueeze(-2)).sum(-1, keepdim=True)
    h = num / (torch.maximum(den.abs(), torch.exp(-m).unsqueeze(-1)) + eps)
    h = h.reshape(Bsz, H, n * Q, d).index_select(2, torch.arange(T, device=q.device) + pad)
    return h, (C_end[:, :, -1], n_end[:, :, -1], m_end[:, :, -1])


def _chunk_ends_doubling(kc, vc, D_end, Bc, Mc, levels: int):
    """The chunk-end states of mlstm_chunked by doubling scans (eager): kc, vc [B, H, n, Q, d]; D_end = D[..., Q-1, :]
    [B, H, n, Q]; Bc, Mc [B, H, n]. Returns m at chunk ends, m entering each chunk, C' and n' at chunk ends."""
    m_end = maxplus_scan(Bc, Mc, 2, levels)
    m_in = previous_chunk(m_end, 2)                                               # m entering each chunk (0 first)
    w_end = torch.exp(D_end - m_end.unsqueeze(-1)).unsqueeze(-1)                  # [B, H, n, Q, 1]
    U = (kc * w_end).transpose(-1, -2) @ vc                                       # [B, H, n, d, d]
    u_n = (kc * w_end).sum(-2)                                                    # [B, H, n, d]
    g = torch.exp(Bc + m_in - m_end).unsqueeze(-1)
    C_end = scan((g.unsqueeze(-1), None), (U, None), 2, levels)[0]
    n_end = scan((g, None), (u_n, None), 2, levels)[0]
    return m_end, m_in, C_end, n_end


def _chunk_ends_in_graph(kc, vc, D_end, Bc, Mc, levels: int = 0):
    """The chunk-end states of mlstm_chunked as ONE in-graph loop over the (symbolic) chunks, for export: the three
    doubling scans of the eager form would each be a separate ONNX Scan. Each chunk's contribution is first formed
    against its own max, U'_c = sum_s e^(D[Q-1, s] - M_c) k_s v_s^T; the loop then runs the stabilised recurrence
    at chunk level: m_c = max(B_c + m_{c-1}, M_c), C'_c = e^(B_c + m_{c-1} - m_c) C'_{c-1} + e^(M_c - m_c) U'_c
    (and n' alike). Every exponent is <= 0. Returns m_end, m_in, C_end, n_end as the eager branch does."""
    w = torch.exp(D_end - Mc.unsqueeze(-1)).unsqueeze(-1)                          # [B, H, n, Q, 1]
    U = (kc * w).transpose(-1, -2) @ vc                                           # [B, H, n, d, d]
    u_n = (kc * w).sum(-2)                                                        # [B, H, n, d]

    def step(carry, sl):
        m, C, nn_ = carry
        b_c, M_c, U_c, u_c = sl
        m_new = torch.maximum(b_c + m, M_c)
        a, w_c = torch.exp(b_c + m - m_new), torch.exp(M_c - m_new)
        C = a[..., None, None] * C + w_c[..., None, None] * U_c
        return m_new, C, a[..., None] * nn_ + w_c[..., None] * u_c

    init = (torch.zeros_like(Bc[:, :, 0]), torch.zeros_like(U[:, :, 0]), torch.zeros_like(u_n[:, :, 0]))
    m_end, C_end, n_end = in_graph_scan(step, init, (Bc, Mc, U, u_n), 2)
    return m_end, previous_chunk(m_end, 2), C_end, n_end


def mlstm_step(q, k, v, ig, lf, C, nrm, m, eps: float = EPS):
    """One token of the stabilised recurrence: q, k, v [B, H, d]; ig, lf, m [B, H]; C [B, H, d, d]; nrm [B, H, d]."""
    m_new = torch.maximum(lf + m, ig)
    fp = torch.exp(lf + m - m_new).unsqueeze(-1)
    ip = torch.exp(ig - m_new).unsqueeze(-1)
    C = fp.unsqueeze(-1) * C + ip.unsqueeze(-1) * (k.unsqueeze(-1) * v.unsqueeze(-2))
    nrm = fp * nrm + ip * k
    num = (q.unsqueeze(-2) @ C).squeeze(-2)
    den = (q * nrm).sum(-1, keepdim=True)
    h = num / (torch.maximum(den.abs(), torch.exp(-m_new).unsqueeze(-1)) + eps)
    return h, C, nrm, m_new


class BlockDiagonal(nn.Module):
    """x [..., n_blocks * bs] -> block-diagonal linear map (the reference's LinearHeadwiseExpand, no bias)."""

    def __init__(self, dim: int, bs: int):
        super().__init__()
        self.bs = bs
        self.weight = nn.Parameter(torch.randn(dim // bs, bs, bs) * (2 / (5 * dim)) ** 0.5)   # small_init

    def forward(self, x):
        # As one dense matmul with the block-diagonal matrix spelt out (zeros off the blocks): the same sums, but
        # one GEMM instead of T * n_blocks batched 1 x bs x bs products (70% of an exported 16K prefill's time).
        G, bs = self.weight.shape[0], self.bs
        eye = torch.eye(G, dtype=x.dtype, device=x.device)
        dense = (self.weight.unsqueeze(2) * eye.view(G, 1, G, 1)).reshape(G * bs, G * bs)   # [g i, h j]
        return x @ dense


class MLSTMBlock(nn.Module):
    """The mLSTM block (pre up-projection). States: conv [B, inner, k-1], C [B, H, d, d], n [B, H, d], m [B, H]."""

    def __init__(self, d_model: int, n_heads: int = 4, proj_factor: int = 2, conv_kernel: int = 4, qkv_blocksize: int = 4,
                 chunk: int = 32, scan_levels: int = 16):
        super().__init__()
        inner = proj_factor * d_model
        assert inner % n_heads == 0 and inner % qkv_blocksize == 0
        self.inner, self.H, self.dh, self.K = inner, n_heads, inner // n_heads, conv_kernel
        self.chunk, self.scan_levels = chunk, scan_levels
        self.up = nn.Linear(d_model, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, conv_kernel, groups=inner)
        self.q_proj, self.k_proj, self.v_proj = (BlockDiagonal(inner, qkv_blocksize) for _ in range(3))
        self.igate = nn.Linear(3 * inner, n_heads)
        self.fgate = nn.Linear(3 * inner, n_heads)
        self.norm_weight = nn.Parameter(torch.ones(inner))
        self.skip = nn.Parameter(torch.ones(inner))
        self.down = nn.Linear(inner, d_model, bias=False)
        with torch.no_grad():
            self.igate.weight.zero_()
            self.igate.bias.normal_(0, 0.1)
            self.fgate.weight.zero_()
            self.fgate.bias.copy_(torch.linspace(3.0, 6.0, n_heads))

    def state_spec(self, layer: int):
        return [state("conv", layer, self.inner, self.K - 1), state("mem", layer, self.H, self.dh, self.dh),
                state("n", layer, self.H, self.dh), state("m", layer, self.H)]

    def _cell_inputs(self, xc, xm):
        """conv branch xc, inner branch xm [..., inner] -> q, k (scaled), v [..., H, d], i~, log f [..., H]."""
        q, k, v = self.q_proj(xc), self.k_proj(xc), self.v_proj(xm)
        qkv = torch.cat([q, k, v], -1)
        heads = lambda t: t.view(*t.shape[:-1], self.H, self.dh)  # noqa: E731
        return heads(q), heads(k) * self.dh ** -0.5, heads(v), self.igate(qkv), F.logsigmoid(self.fgate(qkv))

    def _output(self, h, xc, z):
        """h~ [..., H, d] -> W_down((MultiHeadLayerNorm(h~) + skip * x_c) * SiLU(z))."""
        h = head_norm(h, 1e-5).flatten(-2) * self.norm_weight
        return self.down((h + self.skip * xc) * F.silu(z))

    def forward(self, u):
        """u [B, T, D] -> (out [B, T, D], [conv, C, n, m]) from the zero state."""
        xm, z = self.up(u).chunk(2, dim=-1)
        xp = F.pad(xm.transpose(1, 2), (self.K - 1, 0))
        conv_state = xp[:, :, -(self.K - 1):]
        xc = F.silu(F.conv1d(xp, self.conv.weight, self.conv.bias, groups=self.inner)).transpose(1, 2)
        q, k, v, ig, lf = self._cell_inputs(xc, xm)
        h, (C, nrm, m) = mlstm_chunked(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), ig.transpose(1, 2),
                                       lf.transpose(1, 2), self.chunk, self.scan_levels)
        return self._output(h.transpose(1, 2), xc, z), [conv_state, C, nrm, m]

    def step(self, u, states):
        conv_state, C, nrm, m = states
        xm, z = self.up(u).chunk(2, dim=-1)
        window = torch.cat([conv_state, xm.unsqueeze(-1)], dim=-1)               # [B, inner, K]
        xc = F.silu((window * self.conv.weight.squeeze(1)).sum(-1) + self.conv.bias)
        q, k, v, ig, lf = self._cell_inputs(xc, xm)
        h, C, nrm, m = mlstm_step(q, k, v, ig, lf, C, nrm, m)
        return self._output(h, xc, z), [window[:, :, 1:], C, nrm, m]


class SLSTMLayer(nn.Module):
    """The sLSTM layer of an sLSTM block (conv, gates, cell, GroupNorm). States: conv [B, d, k-1], h, c, n, m [B, d]."""

    def __init__(self, d_model: int, n_heads: int = 4, conv_kernel: int = 4):
        super().__init__()
        assert d_model % n_heads == 0
        self.d, self.H, self.dh, self.K = d_model, n_heads, d_model // n_heads, conv_kernel
        self.conv = nn.Conv1d(d_model, d_model, conv_kernel, groups=d_model)
        self.w_if = nn.Parameter(torch.randn(2, n_heads, self.dh, self.dh) * self.dh ** -0.5)   # from the conv branch
        self.w_zo = nn.Parameter(torch.randn(2, n_heads, self.dh, self.dh) * self.dh ** -0.5)   # from x
        self.R = nn.Parameter(torch.randn(4, n_heads, self.dh, self.dh) * 0.1 / self.dh)         # z, i, f, o
        bias = torch.zeros(4, n_heads, self.dh)
        bias[2] = torch.linspace(3.0, 6.0, n_heads).view(n_heads, 1)
        self.bias = nn.Parameter(bias)
        self.norm_weight = nn.Parameter(torch.ones(d_model))

    def state_spec(self, layer: int):
        return [state("conv", layer, self.d, self.K - 1), state("slstm_h", layer, self.d), state("slstm_c", layer, self.d),
                state("slstm_n", layer, self.d), state("slstm_m", layer, self.d)]

    def _input_gates(self, x, xc):
        """x, conv branch xc [..., d] -> W x + b as [..., 4 (z, i, f, o), H, d_h]."""
        hx = x.view(*x.shape[:-1], self.H, 1, self.dh)
        hc = xc.view(*xc.shape[:-1], self.H, 1, self.dh)
        zo = (hx.unsqueeze(-4) @ self.w_zo).squeeze(-2)                       # [..., 2, H, dh]
        i_f = (hc.unsqueeze(-4) @ self.w_if).squeeze(-2)
        return torch.stack([zo[..., 0, :, :], i_f[..., 0, :, :], i_f[..., 1, :, :], zo[..., 1, :, :]], -3) + self.bias

    def _cell(self, carry, gx):
        """One step: carry (h, c, n, m) [B, H, d_h], gx [B, 4, H, d_h] -> (carry, h)."""
        h, c, n, m = carry
        raw = gx + (h.unsqueeze(1).unsqueeze(-2) @ self.R).squeeze(-2)
        z, i, f, o = raw.unbind(1)
        logf = F.logsigmoid(f) + m
        m_new = torch.maximum(logf, i)
        ip, fp = torch.exp(i - m_new), torch.exp(logf - m_new)
        c = fp * c + ip * torch.tanh(z)
        n = fp * n + ip
        h = torch.sigmoid(o) * c / n
        return (h, c, n, m_new), h

    def _output(self, h):
        return head_norm(h, 1e-5).flatten(-2) * self.norm_weight

    def forward(self, u):
        B, T, _ = u.shape
        xp = F.pad(u.transpose(1, 2), (self.K - 1, 0))
        conv_state = xp[:, :, -(self.K - 1):]
        xc = F.silu(F.conv1d(xp, self.conv.weight, self.conv.bias, groups=self.d)).transpose(1, 2)
        gx = self._input_gates(u, xc)                                          # [B, T, 4, H, dh]
        zero = u.new_zeros(B, self.H, self.dh)

        def cell(carry, g):
            new, h = self._cell(carry, g)
            return new, h.clone()
        carry, hs = time_scan(cell, (zero, zero.clone(), zero.clone(), zero.clone()), gx.transpose(0, 1))
        return self._output(hs.transpose(0, 1)), [conv_state, *(t.reshape(B, self.d) for t in carry)]

    def step(self, u, states):
        conv_state, *carry = states
        B = u.shape[0]
        window = torch.cat([conv_state, u.unsqueeze(-1)], dim=-1)
        xc = F.silu((window * self.conv.weight.squeeze(1)).sum(-1) + self.conv.bias)
        carry, h = self._cell(tuple(t.view(B, self.H, self.dh).to(u.dtype) for t in carry), self._input_gates(u, xc))
        return self._output(h), [window[:, :, 1:], *(t.reshape(B, self.d) for t in carry)]


class GatedFFN(nn.Module):
    """W_down(GELU(x W_g) * x W_u), the sLSTM block's post up-projection."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.up = nn.Linear(d_model, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x):
        g, u = self.up(x).chunk(2, dim=-1)
        return self.down(F.gelu(g) * u)


def slstm_layers(spec: str) -> set[int]:
    """The layer indices of config "slstm_at" ("1,3" -> {1, 3}; "" -> none)."""
    return {int(part) for part in str(spec).split(",") if part.strip()}


class Model(CausalLM):
    """mLSTM blocks (and sLSTM blocks at the layers in "slstm_at"), each pre-norm residual, in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d = c["d_model"]
        ffn = -(-4 * d // 48) * 16                                              # 4/3 d rounded up to a multiple of 16
        layers = [[SLSTMLayer(d, c["n_heads"], c["conv_kernel"]), Stateless(GatedFFN(d, ffn))] if i in slstm_layers(c["slstm_at"]) else
                  [MLSTMBlock(d, c["n_heads"], c["proj_factor"], c["conv_kernel"], c["qkv_blocksize"], c["chunk"], c["scan_levels"])]
                  for i in range(c["n_layers"])]
        super().__init__(vocab, d, layers, norm=c["norm"])
        self.config = c
