"""Hybrid: a stack of other families' layers, chosen by config, plain PyTorch reference for ssmbench.

A hybrid here is a CausalLM whose layers come from the other model families: config "stack" names one family per
layer, and each such layer is exactly that family's layer (its sub-layers with their own pre-norms and weights).
The hybrid's shell owns the embedding, the final norm (config "norm") and the tied head, as for every family. So a
Jamba-like model is a config, not code:

    {"stack": "mamba2,mamba2,mamba2,transformer", "n_layers": 4}        1 attention : 3 Mamba layers (the default)
    {"stack": "mamba+moe", "n_layers": 8, "moe_experts": 8, "moe_top_k": 1}     MoE-Mamba / BlackMamba-like

Config (card configs hold scalars only, so the stack is one string):
    stack      comma-separated items, one per layer; the stack is repeated to n_layers layers (n_layers must be a
               multiple of its length, as Jamba repeats its "Jamba block"). An item is a family name (a package
               packages/model-<name>), optionally followed by "+mlp" or "+moe": the layer's position-wise MLP (the
               family's trailing stateless sub-layer, e.g. the Transformer's SwiGLU) is replaced by, or for a family
               without one (Mamba, Mamba-2, mLSTM) followed by, a dense SwiGLU ("+mlp") or a mixture of SwiGLU
               experts ("+moe"), each in its own pre-norm residual.
    d_model, n_layers, norm ("rms" | "layer": the final norm and the norms of the +mlp/+moe sub-layers)
    mlp_ratio  SwiGLU hidden = mlp_ratio * d_model rounded up to a multiple of 16 (the Transformer's 176 at 64)
    moe_experts  experts of a "+moe" sub-layer; 0 makes "+moe" a dense SwiGLU (the same stack without MoE)
    moe_top_k  experts per token (Jamba 2; MoE-Mamba's Switch layers 1)
    "<family>.<key>": a per-family override of that family's DEFAULT_CONFIG, e.g. "transformer.n_heads": 4
               (d_model and n_layers are the hybrid's).

Building: each family named in the stack is built once, as its own Model({**overrides, d_model, n_layers: the number
of its layers in the stack}, vocab) from packages/model-<name>/model.py (imported as the trainer imports a family,
ssmbench_trainer.common.load_family), and its layers are taken in order. Building each family once (rather than one
Model per layer) keeps what a family computes across its own layers: RWKV's depth-dependent init, xLSTM's
"slstm_at" and HGRN's lower bounds (a parameter of HGRN's Model, kept here under shared.hgrn) count that family's
layers. The state tensors are the layers' own, named with the hybrid's layer index (state_spec(layer) receives it):
a "mamba2,transformer" stack has conv.0, ssm.0, key_values.1.key, key_values.1.value. A family whose Model does
anything outside its layers (overrides a method of the shell, such as a positional embedding added in the prefill,
holds parameters of its own, or is not a CausalLM) is refused with an error naming it: the hybrid could not
reproduce it.

Mixture of experts ("+moe"): a router (linear, no bias) gives p = softmax(W_r x) over E experts; the top-k experts
get weights w (top-1: w = p_i as in Switch, which MoE-Mamba uses; top-2 and more: p renormalised over the chosen,
as Mixtral does), the others 0; out = sum_e w_e SwiGLU_e(x). Every expert is computed for every
token and the weights are zero off the top-k, which is exact (no capacity limit, no dropped tokens) and keeps the
exported graphs free of data-dependent shapes (TopK with a constant k, no gather of tokens). The experts are one
wide SwiGLU: gate, up [d, E h], down [E h, d], the weights applied to the hidden units of each expert.

After:
- Lieber et al., "Jamba: A Hybrid Transformer-Mamba Language Model", arXiv 2403.19887: Jamba blocks of 8 layers,
  attention : Mamba = 1 : 7, MoE (16 experts, top-2) in place of the MLP every other layer. Written here as
  "mamba+mlp,mamba+moe,mamba+mlp,mamba+moe,transformer+mlp,mamba+moe,mamba+mlp,mamba+moe" with moe_experts 16.
- Pioro et al., "MoE-Mamba: Efficient Selective State Space Models with Mixture of Experts", arXiv 2401.04081:
  Mamba layers alternating with Switch (top-1) MoE layers: "mamba+moe".
- Anthony et al., "BlackMamba: Mixture of Experts for State-Space Models", arXiv 2402.01771: Mamba blocks
  alternating with routed mixture-of-experts MLP blocks: "mamba+moe".
Deviations: everything is d_model 64 scale, not billions of parameters; the default is the 1 : 3 ratio at 4 layers
with Mamba-2 layers (Jamba uses Mamba-1 layers with extra RMSNorms inside, 1 : 7, and MoE; "mamba" gives Mamba-1
layers) and no MoE, to stay near the other families' size; the attention layers are this repository's Transformer
layers, with RoPE (Jamba's attention has no positional encoding); routing is a plain top-k softmax (BlackMamba's
Sinkhorn routing is not reproduced) and training has no load-balancing loss (the shared trainer optimises the task
loss only), so experts may go unused.
Not expressible as a stack, so not claimed: the Block-State Transformer (arXiv 2306.09539: within a layer, block-wise
attention attends to the states an SSM sub-layer computed over the whole sequence, a cross connection between two
sub-layers) and SPADE (arXiv 2212.08136: its bottom layer runs an SSM and local attention side by side on the same
input and merges their outputs).
"""
from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

import torch
from torch import nn

from ssmbench_trainer.common import load_family
from ssmbench_trainer.lm import CausalLM, Residual, Stateless, SwiGLU, swiglu_hidden
from ssmbench_trainer.numerics import silu

FAMILY = "hybrid"
VARIANT = "hybrid (layers of other families, by config)"
PAPER = {"title": "Jamba: A Hybrid Transformer-Mamba Language Model", "arxiv": "2403.19887"}
# Hyena's FFT convolution needs opset 20 (the DFT op); the other families export at 20 as well.
ONNX_OPSET = 20
DEFAULT_CONFIG = {
    "d_model": 64,
    "n_layers": 4,
    "stack": "mamba2,mamba2,mamba2,transformer",  # 1 attention : 3 Mamba (Jamba's blocks are 1 : 7; it ablates 1 : 3)
    "norm": "rms",
    "mlp_ratio": 8 / 3,  # "+mlp" / "+moe" SwiGLU hidden: 176 at d_model 64
    "moe_experts": 4,    # experts of a "+moe" sub-layer (0: dense)
    "moe_top_k": 2,
}
PACKAGES = Path(__file__).resolve().parent.parent
FFN_KINDS = ("mlp", "moe")
# What CausalLM computes around the layers; a family that overrides any of it is not just its layers.
SHELL_METHODS = ("forward", "_prefill", "hidden", "head", "state_spec", "_counts", "init_state", "forward_sequential")
SHELL_CHILDREN = ("embedding", "layers", "norm_f")


def available_families() -> list[str]:
    return sorted(p.parent.name.removeprefix("model-") for p in PACKAGES.glob("model-*/model.py")
                  if p.parent.name != f"model-{FAMILY}")


def family_module(name: str):
    """packages/model-<name>/model.py as a module, loaded once (under the trainer's module name for it)."""
    if name == FAMILY:
        raise ValueError("a hybrid's stack cannot name the hybrid family itself")
    d = PACKAGES / f"model-{name}"
    if not (d / "model.py").is_file():
        raise ValueError(f"stack: unknown family {name!r} (no packages/model-{name}/model.py); "
                         f"families: {', '.join(available_families())}")
    module = sys.modules.get(f"ssmbench_family_{d.name.replace('-', '_')}") or load_family(d)
    if module.FAMILY != name:
        raise ValueError(f"packages/model-{name}/model.py says FAMILY = {module.FAMILY!r}, not {name!r}")
    return module


def parse_stack(stack: str) -> list[tuple[str, str | None]]:
    """"mamba2+moe,transformer" -> [("mamba2", "moe"), ("transformer", None)]."""
    items = []
    for raw in str(stack).split(","):
        name, plus, ffn = raw.strip().partition("+")
        name, ffn = name.strip(), ffn.strip()
        if not name or (plus and ffn not in FFN_KINDS):
            raise ValueError(f"stack {stack!r}: item {raw.strip()!r} is not <family>, <family>+mlp or <family>+moe")
        items.append((name, ffn or None))
    return items


class MoE(nn.Module):
    """A mixture of `experts` SwiGLU MLPs of `hidden` units with top-k routing (module docstring). Expert e is rows
    e*hidden .. (e+1)*hidden of gate and up and the same columns of down."""

    def __init__(self, d_model: int, hidden: int, experts: int, top_k: int):
        super().__init__()
        if not 1 <= top_k <= experts:
            raise ValueError(f"moe_top_k must be between 1 and moe_experts ({experts}), not {top_k}")
        self.experts, self.hidden, self.top_k = experts, hidden, top_k
        self.router = nn.Linear(d_model, experts, bias=False)
        self.gate = nn.Linear(d_model, experts * hidden, bias=False)
        self.up = nn.Linear(d_model, experts * hidden, bias=False)
        self.down = nn.Linear(experts * hidden, d_model, bias=False)
        bound = 1 / math.sqrt(hidden)  # each expert's down projection initialised as a Linear(hidden, d_model)
        nn.init.uniform_(self.down.weight, -bound, bound)

    def routing(self, x):
        """x [..., d] -> expert weights [..., E]: top-k of softmax(router(x)), 0 elsewhere (renormalised when k > 1)."""
        p = torch.softmax(self.router(x), dim=-1)
        kth = torch.topk(p, self.top_k, dim=-1).values[..., -1:]
        w = torch.where(p >= kth, p, torch.zeros((), dtype=p.dtype))
        return w / w.sum(-1, keepdim=True) if self.top_k > 1 else w

    def forward(self, x):
        w = self.routing(x)
        u = silu(self.gate(x)) * self.up(x)                                            # [..., E h]
        u = (u.reshape(*u.shape[:-1], self.experts, self.hidden) * w.unsqueeze(-1)).reshape(u.shape)
        return self.down(u)


def check_shell(name: str, model, d_model: int, n_layers: int):
    """Refuse a family whose Model is more than its layers in the shared shell (module docstring)."""
    cls = type(model)
    if not isinstance(model, CausalLM):
        raise ValueError(f"family {name!r} cannot be a hybrid's layer: its Model ({cls.__name__}) is not a "
                         "ssmbench_trainer.lm.CausalLM, so its layers are not sub-layers of the shared shell")
    overridden = [m for m in SHELL_METHODS if getattr(cls, m) is not getattr(CausalLM, m)]
    if overridden:
        raise ValueError(f"family {name!r} cannot be a hybrid's layer: its Model overrides {', '.join(overridden)} of "
                         "the shared shell (it computes something outside its layers, e.g. a positional embedding)")
    own = [n for n, _ in model.named_parameters(recurse=False)] + [n for n, _ in model.named_buffers(recurse=False)]
    if own:
        raise ValueError(f"family {name!r} cannot be a hybrid's layer: its Model holds tensors outside its layers "
                         f"({', '.join(own)})")
    if type(model.embedding) is not nn.Embedding or model.embedding.embedding_dim != d_model:
        raise ValueError(f"family {name!r} cannot be a hybrid's layer: its embedding is not an nn.Embedding of "
                         f"d_model {d_model}")
    if len(model.layers) != n_layers:
        raise ValueError(f"family {name!r} built {len(model.layers)} layers for n_layers {n_layers}")


class Model(CausalLM):
    """The layers of other families, by config "stack", in the shared LM shell (module docstring)."""

    def __init__(self, config: dict, vocab: int):
        c = {**DEFAULT_CONFIG, **config}
        d, n = c["d_model"], c["n_layers"]
        items = parse_stack(c["stack"])
        if n < 1 or n % len(items):
            raise ValueError(f"n_layers ({n}) must be a positive multiple of the stack's length ({len(items)}: "
                             f"{c['stack']!r})")
        plan = [items[i % len(items)] for i in range(n)]
        counts = Counter(name for name, _ in plan)
        modules = {name: family_module(name) for name in counts}
        overrides = {name: {} for name in counts}
        for key, value in c.items():
            if "." not in key:
                if key not in DEFAULT_CONFIG:
                    raise ValueError(f"unknown hybrid config key {key!r}: expected {', '.join(DEFAULT_CONFIG)} or "
                                     "<family>.<key>")
                continue
            fam, _, sub = key.partition(".")
            if fam not in counts:
                raise ValueError(f"config {key!r}: family {fam!r} is not in the stack {c['stack']!r}")
            if sub in ("d_model", "n_layers") or sub not in modules[fam].DEFAULT_CONFIG:
                raise ValueError(f"config {key!r}: {sub!r} is not a {fam} setting the hybrid passes on (one of "
                                 f"{', '.join(k for k in modules[fam].DEFAULT_CONFIG if k not in ('d_model', 'n_layers'))})")
            overrides[fam][sub] = value

        super().__init__(vocab, d, [], norm=c["norm"])
        taken, shared = {}, nn.ModuleDict()
        for name, count in counts.items():
            cfg = {**overrides[name], "d_model": d, "n_layers": count}
            try:
                built = modules[name].Model(cfg, vocab)
            except Exception as e:  # noqa: BLE001 - re-raised with the family named
                raise ValueError(f"family {name!r} could not be built with {cfg}: {e}") from e
            check_shell(name, built, d, count)
            extra = {k: m for k, m in built.named_children() if k not in SHELL_CHILDREN}
            if extra:  # modules the family's layers share (HGRN's lower bounds): kept, so that they train
                shared[name] = nn.ModuleDict(extra)
            taken[name] = iter(built.layers)

        hidden = swiglu_hidden(d, c["mlp_ratio"])
        experts = c["moe_experts"]
        layers = []
        for name, ffn in plan:
            subs = list(next(taken[name]))
            if ffn:
                if len(subs) > 1 and isinstance(subs[-1].fn, Stateless):
                    subs.pop()  # the family's own MLP, replaced
                mlp = MoE(d, hidden, experts, c["moe_top_k"]) if ffn == "moe" and experts > 0 else SwiGLU(d, hidden)
                subs.append(Residual(d, Stateless(mlp), c["norm"]))
            layers.append(nn.ModuleList(subs))
        self.layers = nn.ModuleList(layers)
        if len(shared):
            self.shared = shared
        self.config = c
        reps = n // len(items)
        self.variant = f"hybrid {','.join(fam + ('+' + f if f else '') for fam, f in items)}" + (f" x{reps}" if reps > 1 else "")
