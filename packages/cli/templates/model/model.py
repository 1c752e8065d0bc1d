"""__TITLE__: PyTorch reference for ssmbench (scaffolded by `pnpm new-model __NAME__`).

Fill in, in this order (docs/adding-a-model.md walks through it):
1. PAPER, VARIANT and DEFAULT_CONFIG below.
2. The mixer: `forward` (the whole sequence at once: parallel or chunked form, no Python loop over time, so the
   ONNX export keeps a dynamic length) and `step` (one token, advancing the recurrent state).
3. state_spec(layer): one entry per state tensor of the mixer (lm.state builds one: name <kind>.<layer>); a cache
   that grows with the sequence has a "past_seq" axis.
The scaffold runs as it is: its mixer is a per-channel exponential moving average, h_t = a h_{t-1} + (1 - a) x_t,
computed in parallel as a decay-weighted sum (a T x T matrix: quadratic in length, fine for a start, replace it).
`pnpm test` checks the contract (ssmbench_trainer/contract.py): parallel form = naive recurrence, step = prefill.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssmbench_trainer.lm import CausalLM, state

FAMILY = "__NAME__"
VARIANT = "__NAME__"
PAPER = {"title": "__TITLE__", "arxiv": "0000.00000"}  # the paper this family reproduces: title and arXiv id
DEFAULT_CONFIG = {"d_model": 64, "n_layers": 2}


class Mixer(nn.Module):
    """Replace with the family's sequence mixer. State: h [B, d_model]."""

    def __init__(self, d_model: int):
        super().__init__()
        self.decay_logit = nn.Parameter(torch.linspace(-2.0, 4.0, d_model))  # a = sigmoid(.) in (0, 1)
        self.proj_in = nn.Linear(d_model, d_model, bias=False)
        self.proj_out = nn.Linear(d_model, d_model, bias=False)

    def state_spec(self, layer: int):
        return [state("h", layer, self.proj_in.in_features)]

    def forward(self, u):
        """u [B, T, D] -> (out [B, T, D], [h [B, D]]) from the zero state, all positions at once."""
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
        return self.proj_out(h), [h[:, -1]]

    def step(self, u, states):
        """u [B, D], states [h [B, D]] -> (out [B, D], [h'])."""
        a = torch.sigmoid(self.decay_logit)
        h = a * states[0] + (1 - a) * self.proj_in(u)
        return self.proj_out(h), [h]


class Model(CausalLM):
    """The shared LM shell (ssmbench_trainer.lm): embedding, pre-norm residual sub-layers, tied head, and the
    prefill/step contract. List each layer's sub-layers; wrap stateless ones (an MLP) in lm.Stateless."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        super().__init__(vocab, c["d_model"], [[Mixer(c["d_model"])] for _ in range(c["n_layers"])])
        self.config = c
