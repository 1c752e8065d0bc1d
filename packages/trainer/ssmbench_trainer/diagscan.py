"""The diagonal linear recurrence shared by the diagonal state space families (S4D/DSS, S5, LRU):

    h_t = a_t * h_{t-1} + b_t,      h_{-1} = 0,      elementwise over the state axes (a diagonal transition)

with complex a, b, h held as real pairs (re, im) of tensors, since ONNX has no complex dtype. `a` is either
time-invariant (one value per state entry, as in every LTI SSM) or time-varying (one value per position).

Forms computed here, all without a Python loop over time, so an exported graph keeps a dynamic length:
  * `diag_scan`: every h_t. The sequence is left-padded with zeros to C >= 2 chunks of Q positions; inside a
    chunk a Hillis-Steele (log-depth) scan, log2(Q) levels; across chunks a scan over the C chunk-end states
    (`scan_chunks`, or `scan_chunks_varying`); then h_t = h_t^intra + (a^(j+1) or the running
    product) * S_{c-1}. Left padding keeps a zero state through the pad, so the last position is the final state.
  * `scan_chunks`: only the scan across chunks, S_c = a^span S_{c-1} + U_c, for families that form the
    chunk-end states U_c and the within-chunk outputs themselves (S4D's chunked convolution).
Powers of a time-invariant `a` (a^k, a^(Q 2^l)) are computed in float64 from the float32 `a` the step uses, by
doubling and squaring (no angles): the prefill then applies exactly the powers of the step's multiplier, and the
two forms differ only by the step's per-token rounding. Across chunks, eager mode runs the ceil(log2 C) doubling
levels it needs; an exported graph, where C is symbolic, runs the recurrence over the chunks as one ONNX Scan
node (gatedscan.sequential_scan) instead of a fixed `levels` doubling passes over every chunk.

Also here, because all three families use them: complex helpers (cmul, cexp, cexpm1, cdiv, rc_linear,
re_linear), the "GELU then GLU" output block that the S4D, S5 and LRU papers' code put after the SSM, the MIMO
layer that S5 and LRU share (DiagSSM: the scan or the step, Re(C h) + D u, GELU -> GLU) and the LM that stacks
the three families' layers (DiagLM).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .gatedscan import sequential_scan
from .lm import CausalLM, GeluMLP, Stateless
from .numerics import gelu  # exports in float64 too (onnxruntime has no double Erf)

Complex = tuple[torch.Tensor, torch.Tensor]   # (re, im)


# --- complex arithmetic on (re, im) pairs ------------------------------------------------------------------------
def _wide(a: Complex) -> Complex:
    return a[0].double(), a[1].double()


def _narrow(z: Complex, like: torch.Tensor) -> Complex:
    return z[0].to(like.dtype), z[1].to(like.dtype)


def cmul(x: Complex, y: Complex) -> Complex:
    return x[0] * y[0] - x[1] * y[1], x[0] * y[1] + x[1] * y[0]


def cexp(z: Complex) -> Complex:
    """exp(z), computed in float64 and returned in z's dtype (see cexpm1)."""
    x, y = _wide(z)
    m = torch.exp(x)
    return _narrow((m * torch.cos(y), m * torch.sin(y)), z[0])


def cexpm1(z: Complex) -> Complex:
    """exp(z) - 1 without cancellation for small |z|: Re = expm1(x) cos y - 2 sin^2(y/2), Im = e^x sin y.

    Both are computed in float64 and returned in z's dtype: they make an SSM's discrete parameters from its
    continuous ones (parameter-sized tensors, so the cost is nil), and in float32 onnxruntime's Sin/Cos are
    several ulp off at arguments of a few radians while ONNX has no Expm1 (exp(x) - 1 loses ~1e-4 relative at
    x ~ 1e-3): errors that powers a^k multiply by k. In float64 both runtimes round the same values to float32."""
    x, y = _wide(z)
    s = torch.sin(y * 0.5)
    return _narrow((torch.expm1(x) * torch.cos(y) - 2 * s * s, torch.exp(x) * torch.sin(y)), z[0])


def cdiv(x: Complex, y: Complex, eps: float = 0.0) -> Complex:
    """x / y = x conj(y) / (|y|^2 + eps) (eps > 0: DSS's bounded reciprocal)."""
    d = y[0] * y[0] + y[1] * y[1] + eps
    re, im = cmul(x, (y[0], -y[1]))
    return re / d, im / d


def rc_linear(x: torch.Tensor, W: Complex) -> Complex:
    """A real input through a complex matrix, as nn.Linear does: x [..., K], W [N, K] -> x W^T [..., N] complex."""
    n = W[0].shape[0]
    y = x @ torch.cat([W[0], W[1]], 0).T
    return y[..., :n], y[..., n:]


def re_linear(h: Complex, W: Complex) -> torch.Tensor:
    """Re(W h) for complex h [..., N] and W [K, N] -> real [..., K] (one matmul)."""
    return torch.cat(h, -1) @ torch.cat([W[0], -W[1]], 1).T


def stack(z: Complex) -> torch.Tensor:
    """(re, im) -> one real tensor [..., 2] (how a complex state crosses the ONNX graph boundary)."""
    return torch.stack(z, dim=-1)


def unstack(t: torch.Tensor) -> Complex:
    return t[..., 0], t[..., 1]


# --- powers of a time-invariant a, in float64 ---------------------------------------------------------------------
def powers(a: Complex, n: int) -> Complex:
    """a^0, a^1, ..., a^n stacked on a new leading axis: [n+1, *a.shape], computed in float64 by doubling
    ([a^0..a^(m-1)] -> [a^0..a^(2m-1)] times a^m), returned in a's dtype."""
    w = _wide(a)
    p: Complex = (torch.ones_like(w[0]).unsqueeze(0), torch.zeros_like(w[1]).unsqueeze(0))
    m: Complex = w
    while p[0].shape[0] < n + 1:
        q = cmul(p, (m[0].unsqueeze(0), m[1].unsqueeze(0)))
        p = (torch.cat([p[0], q[0]]), torch.cat([p[1], q[1]]))
        m = cmul(m, m)
    return _narrow((p[0][: n + 1], p[1][: n + 1]), a[0])


def pow_squares(a: Complex, span: int, levels: int) -> list[Complex]:
    """[a^span, a^(2 span), a^(4 span), ...] (levels entries), float64 repeated squaring, in a's dtype."""
    m = _wide(a)
    r: Complex = (torch.ones_like(m[0]), torch.zeros_like(m[1]))
    e = span
    while e:                                   # a^span by binary exponentiation (span is a Python int)
        if e & 1:
            r = cmul(r, m)
        m = cmul(m, m)
        e >>= 1
    out = []
    for _ in range(levels):
        out.append(_finite(_narrow(r, a[0])))
        r = cmul(r, r)
    return out


def _finite(z: Complex) -> Complex:
    """Overflowed powers of a growing mode (|a| > 1, e.g. DSS_softmax with Re Lambda > 0) made finite: an exported
    scan multiplies its unused levels by zeros, and inf * 0 would be NaN."""
    big = torch.finfo(z[0].dtype).max
    return tuple(torch.nan_to_num(x, nan=0.0, posinf=big, neginf=-big) for x in z)


# --- chunking ----------------------------------------------------------------------------------------------------
def n_chunks(T, chunk: int):
    """ceil(T / chunk), at least 2: a count that could be 1 would be specialised away on export."""
    return torch.sym_max((T + chunk - 1) // chunk, 2)


def n_levels(C, max_levels: int) -> int:
    """Doubling levels across C chunks: exactly ceil(log2 C) in eager mode, max_levels when C is symbolic."""
    if isinstance(C, int):
        need = max(1, (C - 1).bit_length())
        assert need <= max_levels, f"{C} chunks need levels >= {need}"
        return need
    return max_levels


def left_pad(x: torch.Tensor, dim: int, pad, value: float = 0.0) -> torch.Tensor:
    """Left-pad x along dim by pad (may be symbolic)."""
    spec = [0, 0] * (x.dim() - 1 - dim) + [pad, 0]
    return F.pad(x, spec, value=value)


def _shifted(x: torch.Tensor, dim: int, k: int, fill: float = 0.0) -> torch.Tensor:
    """x moved k positions later along dim, the first k filled with `fill` (a pad and a narrow: no mask, and the
    length stays symbolic on export). The pad is at most the length: an exported scan runs levels whose shift
    exceeds the chunk count, and padding those by 2^level would allocate that much."""
    n = x.shape[dim]
    return left_pad(x, dim, torch.sym_min(k, n), fill).narrow(dim, 0, n)


def _bcast(a: Complex, ndim: int) -> Complex:
    """A time-invariant value [*S] viewed to broadcast against [..., *S] of ndim axes."""
    lead = (1,) * (ndim - a[0].dim())
    return a[0].view(*lead, *a[0].shape), a[1].view(*lead, *a[1].shape)


def _hs_const(e: Complex, mults: list[Complex], dim: int) -> Complex:
    """Inclusive scan with a constant multiplier along dim (Hillis-Steele): level l adds mults[l] * e[t - 2^l]
    (zero before the start), mults[l] = a^(2^l) in units of one position along dim."""
    nd = e[0].dim()
    for lvl, m in enumerate(mults):
        prev = cmul(_bcast(m, nd), (_shifted(e[0], dim, 1 << lvl), _shifted(e[1], dim, 1 << lvl)))
        e = (e[0] + prev[0], e[1] + prev[1])
    return e


def _hs_pairs(a: Complex, e: Complex, dim: int, levels: int) -> tuple[Complex, Complex]:
    """Inclusive scan of pairs along dim: (a1, e1) then (a2, e2) -> (a2 a1, a2 e1 + e2), the identity (1, 0)
    before the start. Returns the running products and the running sums."""
    for lvl in range(levels):
        k = 1 << lvl
        pa = (_shifted(a[0], dim, k, 1.0), _shifted(a[1], dim, k))
        pe = (_shifted(e[0], dim, k), _shifted(e[1], dim, k))
        ne = cmul(a, pe)
        e = (ne[0] + e[0], ne[1] + e[1])
        a = cmul(a, pa)
    return a, e


def scan_chunks(U: Complex, a: Complex, span: int, levels: int, dim: int = 1) -> Complex:
    """Inclusive scan over chunks S_c = a^span S_{c-1} + U_c (S_{-1} = 0), U [..., C (at dim), *S], a [*S]
    (the state axes trail the chunk axis, so a broadcasts against them)."""
    C = U[0].shape[dim]
    if not isinstance(C, int):  # exported: one ONNX Scan over the chunks (gatedscan.sequential_scan)
        return sequential_scan(pow_squares(a, span, 1)[0], U, dim)
    return _hs_const(U, pow_squares(a, span, n_levels(C, levels)), dim)


def scan_chunks_varying(G: Complex, U: Complex, levels: int, dim: int = 1) -> Complex:
    """Inclusive scan over chunks S_c = G_c S_{c-1} + U_c with a per-chunk multiplier G (same shape as U)."""
    C = U[0].shape[dim]
    if not isinstance(C, int):
        return sequential_scan(G, U, dim)
    return _hs_pairs(G, U, dim, n_levels(C, levels))[1]


def shift_chunks(S: Complex, dim: int = 1) -> Complex:
    """The state entering each chunk: S_{c-1}, zero for the first."""
    return _shifted(S[0], dim, 1), _shifted(S[1], dim, 1)


def unpad(x: torch.Tensor, dim: int, T, pad) -> torch.Tensor:
    """Drop the left padding along dim (index_select keeps the length dynamic)."""
    return x.index_select(dim, torch.arange(T, device=x.device) + pad)


# --- the full scan -----------------------------------------------------------------------------------------------
def diag_scan(a: Complex, b: Complex, chunk: int = 32, levels: int = 16) -> tuple[Complex, Complex]:
    """Every h_t of h_t = a_t h_{t-1} + b_t from h_{-1} = 0.

    b: (re, im) [B, T, *S]. a: (re, im) either [*S] (time-invariant, any shape broadcasting against *S from the
    right) or [B or 1, T, *S] (time-varying: a.dim() == b.dim()). Returns (h [B, T, *S], h_{T-1} [B, *S]).
    Chunked: Q = chunk positions per chunk, log-depth inside (log2 Q levels) and across chunks (see the module
    docstring); up to chunk * 2^levels positions when exported.
    """
    Bsz, T = b[0].shape[0], b[0].shape[1]
    S = tuple(b[0].shape[2:])
    Q = chunk
    C = n_chunks(T, Q)
    pad = C * Q - T
    varying = a[0].dim() == b[0].dim()
    bc = tuple(left_pad(x, 1, pad).reshape(Bsz, C, Q, *S) for x in b)
    intra = max(0, (Q - 1).bit_length())                        # levels inside a chunk: 2^intra >= Q
    nd = bc[0].dim()
    if varying:
        ac = (left_pad(a[0], 1, pad, 1.0), left_pad(a[1], 1, pad, 0.0))
        ac = tuple(x.expand(Bsz, -1, *S).reshape(Bsz, C, Q, *S) for x in ac)
        P, E = _hs_pairs(ac, bc, 2, intra)                      # P_j = a_j ... a_0 (within the chunk)
        G, U = (P[0][:, :, Q - 1], P[1][:, :, Q - 1]), (E[0][:, :, Q - 1], E[1][:, :, Q - 1])
        S_end = scan_chunks_varying(G, U, levels, dim=1)
        carry = P
    else:
        a = (torch.broadcast_to(a[0], S), torch.broadcast_to(a[1], S))
        pw = powers(a, Q)                                       # a^0 .. a^Q: [Q+1, *S]
        E = _hs_const(bc, pow_squares(a, 1, intra), 2)         # multipliers a^(2^l)
        U = (E[0][:, :, Q - 1], E[1][:, :, Q - 1])
        S_end = scan_chunks(U, a, Q, levels, dim=1)
        carry = _bcast((pw[0][1:], pw[1][1:]), nd - 1)         # a^(j+1): [1, Q, *S] against [B, C, Q, *S]
    S_in = shift_chunks(S_end, dim=1)
    S_in = (S_in[0].unsqueeze(2), S_in[1].unsqueeze(2))
    inter = cmul(carry, S_in)
    h = tuple(unpad((e + i).reshape(Bsz, C * Q, *S), 1, T, pad) for e, i in zip(E, inter))
    h_last = (S_end[0][:, -1], S_end[1][:, -1])             # left padding: the last chunk ends at T - 1
    return h, h_last


def diag_step(a: Complex, h: Complex, b: Complex) -> Complex:
    """One step h <- a h + b (the recurrence itself)."""
    ah = cmul(a, h)
    return ah[0] + b[0], ah[1] + b[1]


# --- shared output block -----------------------------------------------------------------------------------------
class GeluGLU(nn.Module):
    """out = W_1 g * sigmoid(W_2 g), g = GELU(y): the nonlinearity + output projection after the SSM in S4D's
    standalone block (GELU, then a width-2H linear and a GLU), S5 ("full_glu") and LRU (GELU, then a GLU)."""

    def __init__(self, d: int):
        super().__init__()
        self.proj = nn.Linear(d, 2 * d)

    def forward(self, y):
        v, g = self.proj(gelu(y)).chunk(2, dim=-1)
        return v * torch.sigmoid(g)


class DiagSSM(nn.Module):
    """A MIMO diagonal SSM over H channels with N complex states, the D skip, then GELU -> GLU (S5, LRU):

        h_t = a h_{t-1} + b u_t,      y_t = scale Re(C h_t) + D u_t,      out_t = GeluGLU(y_t)

    A subclass defines discrete() -> (a [N], b [N, H]), complex (re, im) in the parameters' dtype, and sets C
    [H, N, 2], D [H], out (a GeluGLU(H)), chunk and scan_levels; scale is 2 where the state keeps one of each
    conjugate pair (S5). State: h [B, N, 2]."""

    scale = 1

    def _output(self, u, h):
        """y = scale Re(C h) + D u, then GELU -> GLU."""
        y = re_linear(h, unstack(self.C))
        if self.scale != 1:                     # S5 (LRU's graph gets no Mul by 1)
            y = self.scale * y
        return self.out(y + self.D * u)

    def forward(self, u):
        """u [B, T, H] -> (out [B, T, H], [h_{T-1} [B, N, 2]]): the chunked parallel scan."""
        a, b = self.discrete()
        h, last = diag_scan(a, rc_linear(u, b), self.chunk, self.scan_levels)
        return self._output(u, h), [stack(last)]

    def step(self, u, states):
        """u [B, H], states [h [B, N, 2]]: h <- a h + b u."""
        a, b = self.discrete()
        h = diag_step(a, unstack(states[0]), rc_linear(u, b))
        return self._output(u, h), [stack(h)]


class DiagLM(CausalLM):
    """The LM of the diagonal SSM families: config = {**defaults, **config}; n_layers pre-norm residual blocks, each
    layer(config) (the SSM then GELU -> GLU) plus, when mlp_factor > 0, a GELU MLP sub-layer of that width factor;
    d_model wide, config norm ("layer" or "rms")."""

    def __init__(self, config: dict, vocab: int, defaults: dict, layer):
        c = {**defaults, **config}
        d = c["d_model"]
        layers = []
        for _ in range(c["n_layers"]):
            subs = [layer(c)]
            if c["mlp_factor"]:
                subs.append(Stateless(GeluMLP(d, c["mlp_factor"] * d)))
            layers.append(subs)
        super().__init__(vocab, d, layers, norm=c["norm"])
        self.config = c
