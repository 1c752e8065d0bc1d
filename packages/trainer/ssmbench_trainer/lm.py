"""The causal LM shell shared by every family: embedding -> residual sub-layers -> final norm -> tied head,
with the ssmbench contract (prefill / step / state_spec / init_state / hidden / head / forward_sequential).

A family supplies its sub-layers. A sub-layer is an nn.Module with
    forward(u [B, T, D]) -> (out [B, T, D], [state tensors])     whole sequence from the zero state
    step(u [B, D], states: list) -> (out [B, D], [state tensors])
    state_spec(layer: int) -> [ {"name": "<kind>.<layer>", "kind", "layer", "shape": ["batch", ...], ...} ]
Wrap stateless ones (MLPs) in `Stateless`. Each sub-layer sits in a pre-norm residual: x + f(norm(x)).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .numerics import gelu, silu


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        # x / sqrt(.), not x * rsqrt(.): onnxruntime fuses this form into one SimplifiedLayerNormalization node
        # (the rsqrt form stays 7 small nodes, a large share of a d_model 64 decode step).
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def head_norm(x, eps: float):
    """Each head's channels (the last axis) normalised to zero mean and unit variance, no affine: GroupNorm with one
    group per head. F.layer_norm exports as one LayerNormalization node (a hand-written mean/var is eight)."""
    return F.layer_norm(x, x.shape[-1:], eps=eps)


def make_norm(kind: str, d: int) -> nn.Module:
    return RMSNorm(d) if kind == "rms" else nn.LayerNorm(d)


class Stateless(nn.Module):
    """A sub-layer without recurrent state (e.g. an MLP), applied per position."""

    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, u):
        return self.fn(u), []

    def step(self, u, states):
        return self.fn(u), []

    def state_spec(self, layer: int):
        return []


def swiglu_hidden(d_model: int, ratio: float, multiple: int = 16) -> int:
    """ratio * d_model rounded up to a multiple: 8/3 d keeps a SwiGLU MLP's parameter count equal to a 4d ReLU MLP's
    (2002.05202, Section 2)."""
    return multiple * math.ceil(ratio * d_model / multiple)


class SwiGLU(nn.Module):
    """FFN_SwiGLU(x) = W_down (SiLU(x W_gate) * x W_up), no biases (Shazeer, arXiv 2002.05202, eq. 6): the
    Transformer family's MLP, and the hybrids' dense and expert MLPs (wrap it in Stateless to use it as a sub-layer)."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.gate = nn.Linear(d_model, hidden, bias=False)
        self.up = nn.Linear(d_model, hidden, bias=False)
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x):
        return self.down(silu(self.gate(x)) * self.up(x))


class GeluMLP(nn.Module):
    """Position-wise W_2 GELU(W_1 x) (wrap it in Stateless to use it as a sub-layer)."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(d_model, hidden)
        self.fc2 = nn.Linear(hidden, d_model)

    def forward(self, x):
        return self.fc2(gelu(self.fc1(x)))


class Residual(nn.Module):
    def __init__(self, d: int, fn: nn.Module, norm: str = "rms"):
        super().__init__()
        self.norm = make_norm(norm, d)
        self.fn = fn


def state(kind: str, layer: int, *shape, part: str | None = None) -> dict:
    """One state_spec entry: state("ssm", 0, 128, 16) -> name ssm.0, shape [batch, 128, 16]."""
    name = f"{kind}.{layer}" + (f".{part}" if part else "")
    return {"name": name, "kind": kind, "layer": layer, "shape": ["batch", *shape], "dtype": "float32", "init": "zeros"}


class CausalLM(nn.Module):
    """layers: one list of sub-layers per layer, e.g. [[mixer, Stateless(mlp)], ...]."""

    def __init__(self, vocab: int, d_model: int, layers: list[list[nn.Module]], norm: str = "rms"):
        super().__init__()
        self.vocab = vocab
        self.embedding = nn.Embedding(vocab, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.layers = nn.ModuleList(nn.ModuleList(Residual(d_model, fn, norm) for fn in subs) for subs in layers)
        self.norm_f = make_norm(norm, d_model)

    # contract ---------------------------------------------------------------------------------------------------
    def state_spec(self):
        return [s for i, subs in enumerate(self.layers) for r in subs for s in r.fn.state_spec(i)]

    def _counts(self):
        return [len(r.fn.state_spec(i)) for i, subs in enumerate(self.layers) for r in subs]

    def init_state(self, batch: int, device=None):
        return [torch.zeros([batch if d == "batch" else 0 if d == "past_seq" else d for d in s["shape"]], device=device)
                for s in self.state_spec()]

    def head(self, h):
        return h @ self.embedding.weight.t()  # tied embedding

    def hidden(self, input_ids):
        """Final normed hidden states [B, T, d] from the zero state (the training path)."""
        return self._prefill(input_ids)[0]

    def _prefill(self, input_ids):
        h = self.embedding(input_ids)
        states = []
        for subs in self.layers:
            for r in subs:
                out, s = r.fn(r.norm(h))
                h = h + out
                states += s
        return self.norm_f(h), states

    def forward(self, input_ids, *past):
        """Without past: prefill [B, T] from the zero state. With past: one step, input_ids [B, 1]."""
        if not past:
            h, states = self._prefill(input_ids)
            return (self.head(h), *states)
        h = self.embedding(input_ids[:, 0])
        present, k = [], 0
        counts = iter(self._counts())
        for subs in self.layers:
            for r in subs:
                n = next(counts)
                out, s = r.fn.step(r.norm(h), list(past[k : k + n]))
                k += n
                h = h + out
                present += s
        return (self.head(self.norm_f(h)).unsqueeze(1), *present)

    def forward_sequential(self, input_ids):
        """Naive reference for tests: token by token through step()."""
        past = self.init_state(input_ids.shape[0], input_ids.device)
        logits = []
        for t in range(input_ids.shape[1]):
            lg, *past = self.forward(input_ids[:, t : t + 1], *past)
            logits.append(lg)
        return (torch.cat(logits, 1), *past)
