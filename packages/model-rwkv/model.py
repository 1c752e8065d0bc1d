"""RWKV-6 "Finch" (and RWKV-4 as a second variant), plain PyTorch reference for ssmbench.

After Peng et al., "Eagle and Finch: RWKV with Matrix-Valued States and Dynamic Recurrence", arXiv 2404.05892
(Section 4, Finch), and for RWKV-4 Peng et al., "RWKV: Reinventing RNNs for the Transformer Era",
arXiv 2305.13048 (config {"version": 4}). A layer is two pre-norm residual sub-layers (LayerNorm), time-mix then
channel-mix, in the shared LM shell (ssmbench_trainer.lm.CausalLM: embedding, tied head, final norm).

RWKV-6 time-mix, per token t with x_t its (normed) input and x_{t-1} the previous one (token shift):

    lora_o(x)     = lambda_o + tanh(x A_o) B_o
    ddlerp_o(a,b) = a + (b - a) * lora_o(a + (b - a) * mu_x)                 o in {w, k, v, r, g}
    d_t = lora_d(ddlerp_w(x_t, x_{t-1}))        w_t = exp(-exp(d_t))          (decay, per key channel)
    r_t, k_t, v_t = ddlerp_{r,k,v}(x_t, x_{t-1}) W_{r,k,v}     g_t = SiLU(ddlerp_g(x_t, x_{t-1}) W_g)
    per head (size N): wkv_t = diag(u) k_t^T v_t + S_{t-1}       S_t = diag(w_t) S_{t-1} + k_t^T v_t   (S: [N, N])
    o_t = (GroupNorm_heads(r_t wkv_t) * g_t) W_o

RWKV-6 channel-mix: xk, xr = lerp(x_t, x_{t-1}) with mu_k, mu_r;  out = sigmoid(xr W_r) * (relu(xk W_k)^2 W_v).

The prefill is chunked (chunk Q, no loop over time, dynamic length). Inside a chunk, with L_t the inclusive
cumulative log-decay and Lx_t = L_{t-1} (exclusive), the output is attention-like:

    y_t = sum_{s<t} (r_t exp(Lx_t - L_s) . k_s) v_s  +  (r_t . u k_t) v_t  +  (r_t exp(Lx_t)) S_in

computed as (r_t exp(Lx_t - L_m)) . (k_s exp(L_m - L_s)) with L_m the log-decay at mid-chunk, so both factors stay
within exp(+-Q/2 * |floor|) and their product, for s < t, within [0, 1]. (Entries s >= t of that product can overflow
when decays sit at the floor; torch.where drops them, and forward and backward stay finite: tested.) Across chunks the states S_c = diag(exp(L_Q)) S_{c-1} + sum_s (k_s exp(L_Q - L_s))^T v_s
are combined by linattn.chunk_scan (a log-depth doubling scan in eager mode, one ONNX Scan node when exported).

One deviation, shared by every path (chunked, step, training) so they agree exactly: each step's log-decay
log w_t = -exp(d_t) is clamped at >= -160/Q (-5 at Q = 32, i.e. w_t >= 0.0067), which keeps every exp() of the
chunked form within exp(80) in float32. At init log w_t >= -exp(-1) = -0.37, far above the floor.

RWKV-4 time-mix (per channel, constant decay w = exp(time_decay) > 0, bonus u = time_first; Section 4 of 2305.13048):

    wkv_t = (sum_{s<t} e^{-(t-1-s) w + k_s} v_s + e^{u + k_t} v_t) / (sum_{s<t} e^{-(t-1-s) w + k_s} + e^{u + k_t})
    out   = (sigmoid(r_t) * wkv_t) W_o,   with k, v, r from mixes x_t mu + x_{t-1} (1 - mu)

computed stably, as in the RWKV-4 code and transformers' RwkvSelfAttention (whose parameter names ours follow): the
state is (num, den, max) with the true sums num * e^max and den * e^max. We keep it normalised after every token,
den = 1 and max = log(true denominator), so num is the running weighted average of v: every state entry stays
O(|v|) or O(log T) instead of growing with the memory length (with den ~ 60 the float32 drift of the naive recurrence
alone exceeded the export's 1e-4 parity on states). The all-zeros initial state (the contract's) has den = 0 and is
read as empty (max = -inf), so no spurious e^0 term enters. The prefill is chunked too, stabilised with maxima: no
floor is needed.

Other deviations from the papers' LMs: no extra LayerNorm on the embeddings (ln0) and a tied head (the shared shell).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer.linattn import chunk_scan
from ssmbench_trainer.lm import CausalLM, state, head_norm

FAMILY = "rwkv"
VARIANT = "rwkv-6 (Finch)"
PAPER = {"title": "Eagle and Finch: RWKV with Matrix-Valued States and Dynamic Recurrence", "arxiv": "2404.05892"}
DEFAULT_CONFIG = {
    "version": 6,          # 6: Finch (2404.05892); 4: RWKV-4 (2305.13048)
    "d_model": 64,
    "n_layers": 2,
    "head_size": 32,       # RWKV-6 only: d_model / head_size heads, each with a [head_size, head_size] state
    "ffn_mult": 3.5,       # channel-mix width = floor(d_model * ffn_mult / 32) * 32 (224 at d_model 64); RWKV-4 used 4
    "mix_lora": 16,        # RWKV-6 ddlerp LoRA rank (per each of w, k, v, r, g)
    "decay_lora": 32,      # RWKV-6 decay LoRA rank
    "chunk": 32,           # RWKV-6 chunk length Q (the decay floor is -160/Q)
    "v4_chunk": 8,         # RWKV-4 chunk length: its per-channel Q x Q form costs T*Q*D (Q=8: 4x faster than 32)
    "scan_levels": 16,     # the exported prefill handles up to 2^16 chunks
}

NEG = -1e30  # "minus infinity" that stays finite (RWKV-4: padding, the empty state)


def _no_wd(p: nn.Parameter) -> nn.Parameter:
    p._no_weight_decay = True  # the trainer leaves these out of weight decay (mixes, LoRAs, decays, bonus)
    return p


def token_shift(x):
    """x [B, T, D] -> x_{t-1} (zeros at t = 0), as pad-and-index_select so the length stays dynamic."""
    T = x.shape[1]
    return F.pad(x, (0, 0, 1, 0)).index_select(1, torch.arange(T, device=x.device))


def _n_chunks(T, Q):
    return torch.sym_max((T + Q - 1) // Q, 2)  # >= 2 so export keeps the length symbolic


def _levels(C, fixed: int) -> int:
    """Eagerly (C an int) only the levels needed; under export (C symbolic) the fixed count. Same result."""
    return max(1, (C - 1).bit_length()) if isinstance(C, int) else fixed


def ffn_dim(d_model: int, mult: float) -> int:
    return max(32, int(d_model * mult) // 32 * 32)


# ==================================================================================================================
# RWKV-6 (Finch)
# ==================================================================================================================
class TimeMix6(nn.Module):
    """Finch time-mix. Parameter names follow the RWKV-LM v6 code (time_maa_*, time_decay, time_faaaa, ln_x)."""

    def __init__(self, d_model: int, layer: int, n_layers: int, head_size: int = 32, mix_lora: int = 16,
                 decay_lora: int = 32, chunk: int = 32, scan_levels: int = 16):
        super().__init__()
        assert d_model % head_size == 0, "d_model must be a multiple of head_size"
        D, self.N = d_model, head_size
        self.H = D // head_size
        self.chunk, self.scan_levels = chunk, scan_levels
        self.log_decay_floor = -160.0 / chunk
        r0 = layer / max(n_layers - 1, 1)        # 0 -> 1 over depth
        r1 = 1.0 - layer / n_layers              # 1 -> ~0
        ddd = torch.arange(D, dtype=torch.float32) / D
        # Mixes mu (RWKV-LM v6 init): larger weight on the previous token in early channels and layers.
        self.time_maa_x = _no_wd(nn.Parameter(1.0 - ddd ** r1))
        self.time_maa_w = _no_wd(nn.Parameter(1.0 - ddd ** r1))
        self.time_maa_k = _no_wd(nn.Parameter(1.0 - ddd ** r1))
        self.time_maa_v = _no_wd(nn.Parameter(1.0 - (ddd ** r1 + 0.3 * r0)))
        self.time_maa_r = _no_wd(nn.Parameter(1.0 - ddd ** (0.5 * r1)))
        self.time_maa_g = _no_wd(nn.Parameter(1.0 - ddd ** (0.5 * r1)))
        self.time_maa_w1 = _no_wd(nn.Parameter(torch.empty(D, 5 * mix_lora).uniform_(-1e-4, 1e-4)))    # A_o
        self.time_maa_w2 = _no_wd(nn.Parameter(torch.empty(5, mix_lora, D).uniform_(-1e-4, 1e-4)))     # B_o
        # Decay: d = time_decay + tanh(x A_d) B_d, time_decay in [-6, -1] (slow -> fast over channels).
        n = torch.arange(D, dtype=torch.float32) / max(D - 1, 1)
        self.time_decay = _no_wd(nn.Parameter(-6.0 + 5.0 * n ** (0.7 + 1.3 * r0)))
        self.time_decay_w1 = _no_wd(nn.Parameter(torch.empty(D, decay_lora).uniform_(-1e-4, 1e-4)))
        self.time_decay_w2 = _no_wd(nn.Parameter(torch.empty(decay_lora, D).uniform_(-1e-4, 1e-4)))
        zigzag = ((torch.arange(D) + 1) % 3 - 1).float() * 0.1
        self.time_faaaa = _no_wd(nn.Parameter((r0 * (1 - n) + zigzag).view(self.H, self.N)))   # bonus u
        self.receptance = nn.Linear(D, D, bias=False)
        self.key = nn.Linear(D, D, bias=False)
        self.value = nn.Linear(D, D, bias=False)
        self.gate = nn.Linear(D, D, bias=False)
        self.output = nn.Linear(D, D, bias=False)
        self.ln_x = nn.GroupNorm(self.H, D, eps=1e-5 * 8 ** 2)  # per-head norm (RWKV-LM: head_size_divisor 8)
        with torch.no_grad():
            self.key.weight.mul_(0.1)
            self.gate.weight.mul_(0.1)
            self.output.weight.zero_()
            self.ln_x.weight.fill_(((1 + layer) / n_layers) ** 0.7)

    # --- shared pieces ---------------------------------------------------------------------------------------------
    def _project(self, x, xprev):
        """x, xprev [..., D] -> r, k, v, g [..., D], log w [..., D] (clamped), via ddlerp (module docstring)."""
        xx = xprev - x
        xxx = x + xx * self.time_maa_x
        lead = x.shape[:-1]
        m = torch.tanh(xxx @ self.time_maa_w1).reshape(-1, 5, self.time_maa_w2.shape[1]).transpose(0, 1)
        m = (m @ self.time_maa_w2).reshape(5, *lead, -1)                       # [5, ..., D]: lora(.) - lambda
        xw = x + xx * (self.time_maa_w + m[0])
        xk = x + xx * (self.time_maa_k + m[1])
        xv = x + xx * (self.time_maa_v + m[2])
        xr = x + xx * (self.time_maa_r + m[3])
        xg = x + xx * (self.time_maa_g + m[4])
        d = self.time_decay + torch.tanh(xw @ self.time_decay_w1) @ self.time_decay_w2
        log_w = torch.clamp(-torch.exp(d), min=self.log_decay_floor)
        return self.receptance(xr), self.key(xk), self.value(xv), F.silu(self.gate(xg)), log_w

    def _out(self, y, g):
        """y [..., H, N] (r . wkv per head) -> GroupNorm over each head, times the gate, W_o."""
        y = head_norm(y, self.ln_x.eps).flatten(-2) * self.ln_x.weight + self.ln_x.bias
        return self.output(y * g)

    def state_spec(self, layer: int):
        D = self.H * self.N
        return [state("shift", layer, D, part="att"), state("wkv", layer, self.H, self.N, self.N)]

    # --- whole sequence ----------------------------------------------------------------------------------------------
    def forward(self, x):
        """x [B, T, D] -> (out [B, T, D], [shift [B, D], wkv [B, H, N, N]]) from the zero state."""
        Bsz, T, D = x.shape
        r, k, v, g, log_w = self._project(x, token_shift(x))
        heads = lambda t: t.view(Bsz, T, self.H, self.N)  # noqa: E731
        y, S = self._wkv_chunked(heads(r), heads(k), heads(v), heads(log_w))
        return self._out(y, g), [x[:, -1], S]

    def _wkv_chunked(self, r, k, v, log_w):
        """r, k, v, log w [B, T, H, N] -> (r_t . wkv_t [B, T, H, N], S_T [B, H, N, N]); see the module docstring.

        Padding at the end has k = v = 0 and log w = 0 (no decay), so it leaves the state unchanged: the final state
        is the last chunk's.
        """
        Bsz, T, H, N = r.shape
        Q = self.chunk
        C = _n_chunks(T, Q)
        pad = C * Q - T

        def chunks(t):  # [B, T, H, N] -> [B, H, C, Q, N]
            return F.pad(t, (0, 0, 0, 0, 0, pad)).view(Bsz, C, Q, H, N).permute(0, 3, 1, 2, 4)
        r, k, v, log_w = chunks(r), chunks(k), chunks(v), chunks(log_w)
        L = torch.cumsum(log_w, dim=3)                 # inclusive: log prod_{j<=t} w_j within the chunk
        Lx = L - log_w                                 # exclusive: L_{t-1}
        mid = Lx[:, :, :, Q // 2 : Q // 2 + 1]          # L at mid-chunk, [B, H, C, 1, N]
        rq = r * torch.exp(Lx - mid)
        kq = k * torch.exp(mid - L)
        A = rq @ kq.transpose(-1, -2)                   # [B, H, C, Q, Q]: A[t, s] = r_t diag(prod_{s<j<t} w_j) k_s
        t_idx = torch.arange(Q, device=r.device)
        A = torch.where(t_idx.view(-1, 1) > t_idx.view(1, -1), A, torch.zeros((), dtype=A.dtype))
        bonus = (r * self.time_faaaa.view(1, H, 1, 1, N) * k).sum(-1, keepdim=True)
        y = A @ v + bonus * v
        Lc = L[:, :, :, Q - 1 :]                        # whole-chunk log-decay, [B, H, C, 1, N]
        local = (k * torch.exp(Lc - L)).transpose(-1, -2) @ v           # chunk's own state, [B, H, C, N, N]
        carried = chunk_scan(Lc.transpose(-1, -2), local, self.scan_levels, dim=2)  # state at chunk ends
        prev = F.pad(carried, (0, 0, 0, 0, 1, 0)).index_select(2, torch.arange(C, device=r.device))
        y = y + (r * torch.exp(Lx)) @ prev
        y = y.permute(0, 2, 3, 1, 4).reshape(Bsz, C * Q, H, N).index_select(1, torch.arange(T, device=r.device))
        return y, carried[:, :, -1]

    # --- one token ------------------------------------------------------------------------------------------------
    def step(self, x, states):
        """x [B, D]; states [shift [B, D], wkv [B, H, N, N]]: S' = diag(w) S + k^T v, y = r (diag(u) k^T v + S)."""
        xprev, S = states
        Bsz = x.shape[0]
        r, k, v, g, log_w = self._project(x, xprev)
        r, k, v, w = (t.view(Bsz, self.H, self.N, 1) for t in (r, k, v, torch.exp(log_w)))
        kv = k @ v.transpose(-1, -2)                                        # [B, H, N, N]
        y = (r.transpose(-1, -2) @ (S + self.time_faaaa.unsqueeze(-1) * kv)).squeeze(-2)   # [B, H, N]
        return self._out(y, g), [x, w * S + kv]


class ChannelMix(nn.Module):
    """Channel-mix shared by RWKV-4 and -6: sigmoid(W_r xr) * W_v relu(W_k xk)^2, where xr and xk interpolate
    between x_t and x_{t-1} (the token shift); subclasses hold the interpolation weights and define _mix."""

    def __init__(self, d_model: int, d_ffn: int):
        super().__init__()
        self.key = nn.Linear(d_model, d_ffn, bias=False)
        self.receptance = nn.Linear(d_model, d_model, bias=False)
        self.value = nn.Linear(d_ffn, d_model, bias=False)
        with torch.no_grad():
            self.receptance.weight.zero_()
            self.value.weight.zero_()

    def _out(self, xk, xr):
        return torch.sigmoid(self.receptance(xr)) * self.value(torch.relu(self.key(xk)) ** 2)

    def state_spec(self, layer: int):
        return [state("shift", layer, self.key.in_features, part="ffn")]

    def forward(self, x):
        return self._mix(x, token_shift(x)), [x[:, -1]]

    def step(self, x, states):
        return self._mix(x, states[0]), [x]


class ChannelMix6(ChannelMix):
    """Finch channel-mix: xk = x + (x_{t-1} - x) mu_k (same for r)."""

    def __init__(self, d_model: int, layer: int, n_layers: int, d_ffn: int):
        super().__init__(d_model, d_ffn)
        r1 = 1.0 - layer / n_layers
        ddd = torch.arange(d_model, dtype=torch.float32) / d_model
        self.time_maa_k = _no_wd(nn.Parameter(1.0 - ddd ** r1))
        self.time_maa_r = _no_wd(nn.Parameter(1.0 - ddd ** r1))

    def _mix(self, x, xprev):
        xx = xprev - x
        return self._out(x + xx * self.time_maa_k, x + xx * self.time_maa_r)


# ==================================================================================================================
# RWKV-4
# ==================================================================================================================
class TimeMix4(nn.Module):
    """RWKV-4 time-mix. Parameter names and shapes follow transformers' RwkvSelfAttention (weights load into it)."""

    def __init__(self, d_model: int, layer: int, n_layers: int, chunk: int = 8, scan_levels: int = 16):
        super().__init__()
        D = d_model
        self.chunk, self.scan_levels = chunk, scan_levels
        r0 = layer / max(n_layers - 1, 1)
        r1 = 1.0 - layer / n_layers
        ddd = (torch.arange(D, dtype=torch.float32) / D).view(1, 1, D)
        n = torch.arange(D, dtype=torch.float32) / max(D - 1, 1)
        # RWKV-4 init: decay exp(time_decay) in [e^-5, e^3]; bonus log(0.3) + zigzag; mixes on the current token.
        self.time_decay = _no_wd(nn.Parameter(-5.0 + 8.0 * n ** (0.7 + 1.3 * r0)))
        zigzag = ((torch.arange(D) + 1) % 3 - 1).float() * 0.5
        self.time_first = _no_wd(nn.Parameter(torch.full((D,), math.log(0.3)) + zigzag))
        self.time_mix_key = _no_wd(nn.Parameter(ddd ** r1))
        self.time_mix_value = _no_wd(nn.Parameter(ddd ** r1 + 0.3 * r0))
        self.time_mix_receptance = _no_wd(nn.Parameter(ddd ** (0.5 * r1)))
        self.key = nn.Linear(D, D, bias=False)
        self.value = nn.Linear(D, D, bias=False)
        self.receptance = nn.Linear(D, D, bias=False)
        self.output = nn.Linear(D, D, bias=False)
        with torch.no_grad():
            self.output.weight.zero_()

    def _project(self, x, xprev):
        def mix(mu):
            return x * mu.view(-1) + xprev * (1 - mu.view(-1))
        return torch.sigmoid(self.receptance(mix(self.time_mix_receptance))), self.key(mix(self.time_mix_key)), \
            self.value(mix(self.time_mix_value))

    def state_spec(self, layer: int):
        D = self.key.in_features
        return [state("shift", layer, D, part="att"), state("wkv", layer, D, part="num"),
                state("wkv", layer, D, part="den"), state("wkv", layer, D, part="max")]

    def forward(self, x):
        """x [B, T, D] -> (out, [shift, num, den, max]) from the zero state."""
        r, k, v = self._project(x, token_shift(x))
        wkv, (num, den, mx) = self._wkv_chunked(k, v)
        return self.output(r * wkv), [x[:, -1], num, den, mx]

    def _wkv_chunked(self, k, v):
        """k, v [B, T, D] -> (wkv [B, T, D], final (num, den, max) [B, D] each).

        Front padding (k = NEG, v = 0, weight 0 in the denominator) keeps the real tokens at the end, so the state
        after the last chunk is the final one. The zero initial state is empty (p = NEG), as in step(). Per chunk, local positions t, s in [0, Q):
            z[t, s] = k_s - (t-1-s) w  (s < t),   carry-in e^{p_in - t w} (a_in, b_in),   bonus e^{u + k_t}
        each exponentiated relative to their maximum m_t (which cancels in the ratio). The chunk's own state
        (from empty) is e^{k_s - (Q-1-s) w} relative to its maximum; chunks combine by a doubling scan of
        (log-decay g, a, b, p): p = max(p1 + g2, p2), a = e^{p1+g2-p} a1 + e^{p2-p} a2 (same for b).
        """
        Bsz, T, D = k.shape
        Q = self.chunk
        C = _n_chunks(T, Q)
        pad = C * Q - T
        w = torch.exp(self.time_decay)                                    # [D] > 0
        u = self.time_first
        ones = torch.ones(Bsz, T, D, dtype=k.dtype, device=k.device)

        def chunks(t, value=0.0):  # [B, T, D] -> [B, C, D, Q]
            return F.pad(t, (0, 0, pad, 0), value=value).view(Bsz, C, Q, D).transpose(-1, -2)
        kc, vc, valid = chunks(k, NEG), chunks(v), chunks(ones)
        j = torch.arange(Q, device=k.device, dtype=k.dtype)
        lag = j.view(-1, 1) - 1 - j.view(1, -1)                           # [Q, Q]: t - 1 - s
        causal = lag >= 0
        z = torch.where(causal, kc.unsqueeze(-2) - lag * w.view(-1, 1, 1), torch.full((), NEG, dtype=k.dtype))
        # Chunk summaries from the empty state (p = NEG), then the state entering each chunk.
        e_end = kc - (Q - 1 - j) * w.view(-1, 1)                           # [B, C, D, Q]
        p_loc = e_end.amax(-1)
        a_loc = (torch.exp(e_end - p_loc.unsqueeze(-1)) * vc).sum(-1)
        b_loc = (torch.exp(e_end - p_loc.unsqueeze(-1)) * valid).sum(-1)
        a_end, b_end, p_end = self._scan(a_loc, b_loc, p_loc, -Q * w, _levels(C, self.scan_levels))

        def entering(t, fill):
            return F.pad(t, (0, 0, 1, 0), value=fill).index_select(1, torch.arange(C, device=k.device))
        a_in, b_in, p_in = entering(a_end, 0.0), entering(b_end, 0.0), entering(p_end, NEG)
        carry = p_in.unsqueeze(-1) - j * w.view(-1, 1)                      # [B, C, D, Q]
        bonus = u.view(-1, 1) + kc
        m = torch.maximum(torch.maximum(z.amax(-1), carry), bonus).detach()  # cancels in num / den
        E = torch.exp(z - m.unsqueeze(-1))                                  # [B, C, D, Q, Q]
        ec, eb = torch.exp(carry - m), torch.exp(bonus - m)
        num = ec * a_in.unsqueeze(-1) + (E @ vc.unsqueeze(-1)).squeeze(-1) + eb * vc
        den = ec * b_in.unsqueeze(-1) + (E @ valid.unsqueeze(-1)).squeeze(-1) + eb * valid + (1 - valid)
        wkv = (num / den).transpose(-1, -2).reshape(Bsz, C * Q, D)
        wkv = wkv.index_select(1, torch.arange(T, device=k.device) + pad)
        # Final state, normalised as the step path keeps it: (num / den, 1, max + log den); den >= 1 here since the
        # largest real term is e^0.
        a, b, p = a_end[:, -1], b_end[:, -1], p_end[:, -1]
        return wkv, (a / b, torch.ones_like(b), p + torch.log(b))

    @staticmethod
    def _scan(a, b, p, g_chunk, levels):
        """Inclusive doubling scan over chunks (dim 1) of the stabilised RWKV-4 state; g_chunk [D] per chunk."""
        C = a.shape[1]
        idx = torch.arange(C, device=a.device)
        g = g_chunk.view(1, 1, -1).expand_as(p)
        for lv in range(levels):
            src = idx - (1 << lv)
            valid = (src >= 0).view(1, -1, 1)
            src = src.clamp(min=0)
            a1, b1, p1, g1 = (t.index_select(1, src) for t in (a, b, p, g))
            q = p1 + g                                  # left state decayed across this segment
            pn = torch.maximum(q, p)
            e1, e2 = torch.exp(q - pn), torch.exp(p - pn)
            a = torch.where(valid, e1 * a1 + e2 * a, a)
            b = torch.where(valid, e1 * b1 + e2 * b, b)
            p = torch.where(valid, pn, p)
            g = torch.where(valid, g + g1, g)
        return a, b, p

    def step(self, x, states):
        """x [B, D]; states [shift, num, den, max]: RWKV-4's stable recurrence (as in transformers), then normalised
        to den = 1, max = log(true denominator). den = 0 (the zero initial state) means empty: max is taken as -inf."""
        xprev, a, b, p = states
        r, k, v = self._project(x, xprev)
        w, u = torch.exp(self.time_decay), self.time_first
        p = torch.where(b > 0, p, torch.full((), NEG, dtype=p.dtype))
        q = torch.maximum(p, u + k)
        e1, e2 = torch.exp(p - q), torch.exp(u + k - q)
        wkv = (e1 * a + e2 * v) / (e1 * b + e2)
        pn = torch.maximum(p - w, k)
        e1, e2 = torch.exp(p - w - pn), torch.exp(k - pn)
        a, b = e1 * a + e2 * v, e1 * b + e2
        return self.output(r * wkv), [x, a / b, torch.ones_like(b), pn + torch.log(b)]


class ChannelMix4(ChannelMix):
    """RWKV-4 channel-mix; names and shapes follow transformers' RwkvFeedForward."""

    def __init__(self, d_model: int, layer: int, n_layers: int, d_ffn: int):
        super().__init__(d_model, d_ffn)
        r1 = 1.0 - layer / n_layers
        ddd = (torch.arange(d_model, dtype=torch.float32) / d_model).view(1, 1, d_model)
        self.time_mix_key = _no_wd(nn.Parameter(ddd ** r1))
        self.time_mix_receptance = _no_wd(nn.Parameter(ddd ** r1))

    def _mix(self, x, xprev):
        mk, mr = self.time_mix_key.view(-1), self.time_mix_receptance.view(-1)
        return self._out(x * mk + xprev * (1 - mk), x * mr + xprev * (1 - mr))


class Model(CausalLM):
    """RWKV layers (time-mix, then channel-mix, each in a LayerNorm pre-norm residual) in the shared LM shell."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        D, n = c["d_model"], c["n_layers"]
        F_ = ffn_dim(D, c["ffn_mult"])
        if c["version"] == 6:
            layers = [[TimeMix6(D, i, n, c["head_size"], c["mix_lora"], c["decay_lora"], c["chunk"], c["scan_levels"]),
                       ChannelMix6(D, i, n, F_)] for i in range(n)]
        elif c["version"] == 4:
            layers = [[TimeMix4(D, i, n, c["v4_chunk"], c["scan_levels"]), ChannelMix4(D, i, n, F_)] for i in range(n)]
        else:
            raise ValueError(f"rwkv version must be 6 or 4, not {c['version']!r}")
        super().__init__(vocab, D, layers, norm="layer")
        self.config = c
        # The exporter's card reads the module's VARIANT; for a version-4 checkpoint this is the right one.
        self.variant = VARIANT if c["version"] == 6 else "rwkv-4"
