"""__TITLE__: PyTorch reference for ssmbench (scaffolded by `pnpm new-model __NAME__`).

Fill in, in this order (docs/adding-a-model.md walks through it):
1. PAPER, VARIANT and DEFAULT_CONFIG below.
2. The mixer: `forward` (the whole sequence at once: parallel or chunked form, no Python loop over time, so the
   ONNX export keeps a dynamic length) and `step` (one token, advancing the recurrent state).
3. state_spec(): one entry per state tensor of each layer, named <kind>.<layer>; a cache that grows with the
   sequence has a "past_seq" axis.
The scaffold runs as it is: its mixer is a per-channel exponential moving average, h_t = a h_{t-1} + (1 - a) x_t,
computed in parallel as a decay-weighted sum (a T x T matrix: quadratic in length, fine for a start, replace it).
`pnpm test` checks the contract (ssmbench_trainer/contract.py): parallel form = naive recurrence, step = prefill.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FAMILY = "__NAME__"
VARIANT = "__NAME__"
PAPER = {"title": "__TITLE__", "arxiv": "0000.00000"}  # the paper this family reproduces: title and arXiv id
DEFAULT_CONFIG = {"d_model": 64, "n_layers": 2}


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Mixer(nn.Module):
    """Replace with the family's sequence mixer. State: h [B, d_model]."""

    def __init__(self, d_model: int):
        super().__init__()
        self.decay_logit = nn.Parameter(torch.linspace(-2.0, 4.0, d_model))  # a = sigmoid(.) in (0, 1)
        self.proj_in = nn.Linear(d_model, d_model, bias=False)
        self.proj_out = nn.Linear(d_model, d_model, bias=False)

    def forward(self, u):
        """u [B, T, D] -> (out [B, T, D], state [B, D]) from the zero state, all positions at once."""
        x = self.proj_in(u)
        T = x.shape[1]
        log_a = F.logsigmoid(self.decay_logit)                       # [D]
        t = torch.arange(T, device=u.device, dtype=u.dtype)
        lag = t[:, None] - t[None, :]                                # [T, T]: t - s
        causal = (lag >= 0).unsqueeze(-1)
        weight = torch.where(causal, torch.exp(lag.clamp(min=0).unsqueeze(-1) * log_a), torch.zeros((), dtype=u.dtype))
        # h_t = sum_s a^(t-s) (1-a) x_s, as a batched matmul per channel (einsum exports poorly with dynamic T)
        v = (x * (1 - log_a.exp())).transpose(1, 2).unsqueeze(-1)           # [B, D, T, 1]
        h = (weight.permute(2, 0, 1) @ v).squeeze(-1).transpose(1, 2)     # [B, T, D]
        return self.proj_out(h), h[:, -1]

    def step(self, u, h):
        """u [B, D], h [B, D] -> (out [B, D], h')."""
        a = torch.sigmoid(self.decay_logit)
        h = a * h + (1 - a) * self.proj_in(u)
        return self.proj_out(h), h


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.norm = RMSNorm(cfg["d_model"])
        self.mixer = Mixer(cfg["d_model"])


class Model(nn.Module):
    def __init__(self, config: dict, vocab: int):
        super().__init__()
        self.config = {**DEFAULT_CONFIG, **config}
        self.vocab = vocab
        d = self.config["d_model"]
        self.embedding = nn.Embedding(vocab, d)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.layers = nn.ModuleList([Block(self.config) for _ in range(self.config["n_layers"])])
        self.norm_f = RMSNorm(d)

    def state_spec(self):
        d = self.config["d_model"]
        return [{"name": f"h.{i}", "kind": "h", "layer": i, "shape": ["batch", d], "dtype": "float32", "init": "zeros"}
                for i in range(self.config["n_layers"])]

    def init_state(self, batch: int, device=None):
        return [torch.zeros([batch, *s["shape"][1:]], device=device) for s in self.state_spec()]

    def head(self, h):
        return h @ self.embedding.weight.t()  # tied embedding

    def hidden(self, input_ids):
        return self._prefill(input_ids)[0]

    def _prefill(self, input_ids):
        h = self.embedding(input_ids)
        states = []
        for layer in self.layers:
            out, s = layer.mixer(layer.norm(h))
            h = h + out
            states.append(s)
        return self.norm_f(h), states

    def forward(self, input_ids, *past):
        """No past: prefill [B, T] from the zero state. With past: one step, input_ids [B, 1]."""
        if not past:
            h, states = self._prefill(input_ids)
            return (self.head(h), *states)
        h = self.embedding(input_ids[:, 0])
        present = []
        for layer, s in zip(self.layers, past):
            out, s = layer.mixer.step(layer.norm(h), s)
            h = h + out
            present.append(s)
        return (self.head(self.norm_f(h)).unsqueeze(1), *present)

    def forward_sequential(self, input_ids):
        """Naive reference for the tests: token by token through step()."""
        past = self.init_state(input_ids.shape[0], input_ids.device)
        logits = []
        for t in range(input_ids.shape[1]):
            lg, *past = self.forward(input_ids[:, t : t + 1], *past)
            logits.append(lg)
        return (torch.cat(logits, 1), *past)
