"""Parity of the hybrid: the shared contract on mixed stacks (with and without mixture-of-experts sub-layers), the
default config, the ONNX export with a dynamic length, a one-family hybrid equal to that family's own model with the
same weights (every family), a mixed stack's states as the union of its layers' states, the MoE against a naive
per-token loop, and the refusals (unknown names, overrides, families that are more than their layers)."""
import types

import pytest
import torch
from torch import nn

import model as hybrid
from ssmbench_trainer.contract import (check_contract, check_default_config, check_onnx_export, close, seeded_model)
from ssmbench_trainer.lm import CausalLM, RMSNorm, Stateless

torch.set_num_threads(1)

VOCAB = 40
# small settings of the families used in the mixed stacks (chunks of 8, so the lengths below cross them)
SMALL = {"d_model": 32, "mamba2.d_state": 8, "mamba2.headdim": 16, "mamba2.chunk": 8, "mamba.chunk": 8,
         "rwkv.head_size": 16, "rwkv.chunk": 8, "hgrn.chunk": 8}


def cfg(stack: str, n_layers: int | None = None, **kw):
    names = {item.partition("+")[0].strip() for item in stack.split(",")}
    small = {k: v for k, v in SMALL.items() if "." not in k or k.split(".")[0] in names}
    return {**small, "stack": stack, "n_layers": n_layers or len(stack.split(",")), **kw}


def test_contract_mixed_stack():
    """Mamba-2, attention, RWKV-6 and HGRN layers in one model: prefill = token-by-token recurrence, step continues
    prefill, state_spec matches the tensors (a KV cache that grows beside fixed-size states)."""
    net = seeded_model(hybrid.Model, cfg("mamba2,transformer,rwkv,hgrn"), VOCAB, seed=0)
    check_contract(net, VOCAB, seed=1, lengths=(1, 7, 8, 9, 31, 40))


@pytest.mark.parametrize("top_k", [1, 2])
def test_contract_moe(top_k):
    """Jamba-like layers with a mixture-of-experts MLP (replacing the Transformer's SwiGLU, after Mamba-2's mixer)."""
    net = seeded_model(hybrid.Model, cfg("mamba2+moe,transformer+moe,mamba+mlp", moe_experts=4, moe_top_k=top_k),
                       VOCAB, seed=2)
    check_contract(net, VOCAB, seed=3, lengths=(1, 8, 9, 33))


def test_default_config():
    """Jamba's 1 : 3 ratio at 4 layers (three Mamba-2 layers, then attention), d_model 64, near the others' size."""
    net = check_default_config(hybrid.Model, {
        "conv.0": ["batch", 192, 3], "ssm.0": ["batch", 4, 32, 32], "conv.1": ["batch", 192, 3],
        "ssm.1": ["batch", 4, 32, 32], "conv.2": ["batch", 192, 3], "ssm.2": ["batch", 4, 32, 32],
        "key_values.3.key": ["batch", 2, "past_seq", 32], "key_values.3.value": ["batch", 2, "past_seq", 32]},
        seed=4, n_layers=4)
    assert [type(r.fn).__name__ for layer in net.layers for r in layer] == ["Mamba2Mixer"] * 3 + ["CausalSelfAttention", "Stateless"]
    params = sum(p.numel() for p in net.parameters()) - VOCAB * 64
    assert 100_000 < params < 200_000, params  # the d64 families: 35K (S5) .. 140K (RWKV) without the embedding
    assert net.variant == "hybrid mamba2,mamba2,mamba2,transformer"


def test_onnx_prefill_dynamic_length(tmp_path):
    """prefill.onnx and step.onnx of a constant-state stack with MoE (Mamba-2 + MoE, RWKV-6), traced at 40 tokens,
    equal PyTorch at 37 and 300 tokens (1e-4), at the hybrid's opset (see check_onnx_export)."""
    config = {"d_model": 16, "stack": "mamba2+moe,rwkv", "n_layers": 2, "moe_experts": 3, "moe_top_k": 2,
              "mamba2.d_state": 8, "mamba2.headdim": 8, "mamba2.chunk": 16, "mamba2.scan_levels": 6,
              "rwkv.head_size": 8, "rwkv.chunk": 16, "rwkv.scan_levels": 6}
    check_onnx_export(seeded_model(hybrid.Model, config, 20, seed=5), 20, tmp_path, tol=1e-4, opset=hybrid.ONNX_OPSET)


def test_onnx_export_with_a_growing_cache(tmp_path):
    """A Jamba-like stack (Mamba-2 + MoE, then attention + MoE: fixed-size states beside a KV cache) exported as
    export.py does it (step.onnx with a symbolic past_seq shared by the caches) and checked with its check_parity:
    ORT prefill = PyTorch and ORT steps from the empty cache = ORT prefill, within 1e-4, at 37 and 300 tokens."""
    from torch.export import Dim

    from ssmbench_trainer import export

    config = {"d_model": 16, "stack": "mamba2+moe,transformer+moe", "n_layers": 2, "moe_experts": 3, "moe_top_k": 1,
              "mamba2.d_state": 8, "mamba2.headdim": 8, "mamba2.chunk": 16, "mamba2.scan_levels": 6}
    net, vocab = seeded_model(hybrid.Model, config, 20, seed=8), 20
    spec = net.state_spec()
    batch, seq = Dim("batch", min=1, max=1024), Dim("seq", min=1, max=export.MAX_SEQ)
    dims = {"batch": batch}
    state_dims = [{a: dims.setdefault(d, Dim(d, min=1, max=1 << 20)) for a, d in enumerate(s["shape"]) if isinstance(d, str)}
                  for s in spec]
    ids = torch.randint(0, vocab, (2, 40))
    outs = ["logits", *[f"present_{s['name']}" for s in spec]]
    pre, step = tmp_path / "prefill.onnx", tmp_path / "step.onnx"
    export.export_graph(export.Prefill(net), (ids.clone(),), ({0: batch, 1: seq},), ["input_ids"], outs, pre,
                        {("input_ids", 0): "batch", ("input_ids", 1): "seq"}, hybrid.ONNX_OPSET)
    with torch.no_grad():
        past = tuple(p.clone() for p in net(ids[:, :5].clone())[1:])
    names = {(f"past_{s['name']}", a): d for s in spec for a, d in enumerate(s["shape"]) if isinstance(d, str)}
    export.export_graph(export.Step(net), (ids[:, :1].clone(), *past), ({0: batch}, tuple(state_dims)),
                        ["input_ids", *[f"past_{s['name']}" for s in spec]], outs, step,
                        {("input_ids", 0): "batch", **names}, hybrid.ONNX_OPSET)
    for T in (37, 300):
        parity = export.check_parity(net, pre, step, torch.randint(0, vocab, (2, T)).numpy())
        assert max(parity.values()) < 1e-4, (T, parity)


def test_stack_repeats_to_n_layers():
    net = hybrid.Model(cfg("mamba2,transformer", n_layers=4), VOCAB)
    assert [type(layer[0].fn).__name__ for layer in net.layers] == ["Mamba2Mixer", "CausalSelfAttention"] * 2
    assert [s["name"] for s in net.state_spec()][::2] == ["conv.0", "key_values.1.key", "conv.2", "key_values.3.key"]
    assert net.variant == "hybrid mamba2,transformer x2"


# --- one family: the hybrid is that family's model -----------------------------------------------------------------
LAYER_FAMILIES = hybrid.available_families()


@torch.no_grad()
@pytest.mark.parametrize("name", LAYER_FAMILIES)
def test_one_family_hybrid_equals_the_family(name):
    """{"stack": <family>, "n_layers": 2} (final norm as the family's) with the family's weights (its state dict
    loaded across; HGRN's lower bounds under shared.hgrn) gives the family's logits and states, in prefill and step."""
    family = hybrid.family_module(name)
    torch.manual_seed(6)
    ref = family.Model({}, vocab=VOCAB).eval()
    norm = "rms" if isinstance(ref.norm_f, RMSNorm) else "layer"
    net = hybrid.Model({"stack": name, "n_layers": ref.config["n_layers"], "d_model": ref.config["d_model"],
                        "norm": norm}, VOCAB).eval()
    sd = {(k if k.split(".")[0] in hybrid.SHELL_CHILDREN else f"shared.{name}.{k}"): v for k, v in ref.state_dict().items()}
    net.load_state_dict(sd, strict=True)
    assert net.state_spec() == ref.state_spec()
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in ref.parameters())
    ids = torch.randint(0, VOCAB, (2, 37))
    for a, b in zip(net(ids), ref(ids)):
        close(a, b, 1e-6)
    _, *state = ref(ids[:, :30])
    for a, b in zip(net(ids[:, 30:31], *state), ref(ids[:, 30:31], *state)):
        close(a, b, 1e-6)


@torch.no_grad()
def test_mixed_stack_states_are_the_union_of_its_layers():
    """Each layer's states are its family's layer states (same kinds, parts and shapes) at the hybrid's layer index;
    the names are unique."""
    stack = ["mamba", "transformer", "rwkv", "hgrn", "mamba2", "retnet", "hyena"]
    net = hybrid.Model(cfg(",".join(stack)), VOCAB)
    want = []
    for i, name in enumerate(stack):
        own = {k.split(".", 1)[1]: v for k, v in SMALL.items() if k.startswith(name + ".")}
        ref = hybrid.family_module(name).Model({**own, "d_model": 32, "n_layers": 1}, VOCAB).state_spec()
        assert hybrid.Model(cfg(name, n_layers=1), VOCAB).state_spec() == ref
        for s in ref:
            assert s["layer"] == 0 and s["name"].startswith(f"{s['kind']}.0")
            want.append({**s, "layer": i, "name": f"{s['kind']}.{i}" + s["name"][len(s["kind"]) + 2:]})
    spec = net.state_spec()
    assert spec == want
    assert len({s["name"] for s in spec}) == len(spec)
    assert {s["kind"] for s in spec} == {"conv", "ssm", "key_values", "shift", "wkv", "hidden", "retention", "short", "hist", "taps"}
    _, *state = net(torch.randint(0, VOCAB, (2, 5)))
    assert [list(t.shape) for t in state] == [[2 if d == "batch" else 5 if d == "past_seq" else d for d in s["shape"]] for s in spec]


# --- mixture of experts --------------------------------------------------------------------------------------------
@torch.no_grad()
@pytest.mark.parametrize("top_k", [1, 2, 3])
def test_moe_equals_a_loop_over_the_chosen_experts(top_k):
    """out_t = sum over the top-k experts e of w_e SwiGLU_e(x_t), each expert computed on its own from its slice of
    the weights; w = p_e (top-1) or p_e / sum of the chosen p (top-k)."""
    torch.manual_seed(7)
    E, h, d = 5, 12, 16
    moe = hybrid.MoE(d, h, E, top_k).double()
    x = torch.randn(3, 9, d, dtype=torch.float64)
    got = moe(x)
    for b in range(3):
        for t in range(9):
            p = torch.softmax(moe.router.weight @ x[b, t], 0)
            chosen = torch.argsort(p, descending=True)[:top_k]
            norm = p[chosen].sum() if top_k > 1 else 1.0
            want = torch.zeros(d, dtype=torch.float64)
            for e in chosen.tolist():
                rows = slice(e * h, (e + 1) * h)
                u = torch.nn.functional.silu(moe.gate.weight[rows] @ x[b, t]) * (moe.up.weight[rows] @ x[b, t])
                want += p[e] / norm * (moe.down.weight[:, rows] @ u)
            close(got[b, t], want, 1e-12)
    w = moe.routing(x)
    assert ((w > 0).sum(-1) == top_k).all()


def test_moe_layers_replace_the_family_mlp_or_follow_the_mixer():
    net = hybrid.Model(cfg("transformer+moe,mamba2+moe,transformer+mlp,mamba2+mlp", moe_experts=2, moe_top_k=1), VOCAB)
    kinds = [[type(r.fn.fn if isinstance(r.fn, Stateless) else r.fn).__name__ for r in layer] for layer in net.layers]
    assert kinds == [["CausalSelfAttention", "MoE"], ["Mamba2Mixer", "MoE"], ["CausalSelfAttention", "SwiGLU"],
                     ["Mamba2Mixer", "SwiGLU"]]
    assert net.layers[0][1].fn.fn.gate.out_features == 2 * hybrid.swiglu_hidden(32, 8 / 3)  # 2 experts of 96
    dense = hybrid.Model(cfg("mamba2+moe", moe_experts=0), VOCAB)  # 0 experts: the same stack, dense
    assert type(dense.layers[0][1].fn.fn) is hybrid.SwiGLU


# --- refusals ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("config, message", [
    ({"stack": "mamba,foo"}, r"unknown family 'foo'.*families: .*mamba2"),
    ({"stack": "hybrid"}, r"cannot name the hybrid family itself"),
    ({"stack": "mamba+attn"}, r"item 'mamba\+attn' is not <family>"),
    ({"stack": "mamba,,transformer"}, r"item '' is not"),
    ({"stack": "mamba,mamba2,transformer", "n_layers": 4}, r"n_layers \(4\) must be a positive multiple of the stack's length \(3"),
    ({"stack": "mamba", "n_layers": 1, "transformer.n_heads": 4}, r"family 'transformer' is not in the stack"),
    ({"stack": "mamba", "n_layers": 1, "mamba.n_heads": 4}, r"'n_heads' is not a mamba setting"),
    ({"stack": "mamba", "n_layers": 1, "mamba.d_model": 32}, r"'d_model' is not a mamba setting"),
    ({"stack": "mamba", "n_layers": 1, "d_state": 8}, r"unknown hybrid config key 'd_state'"),
    ({"stack": "transformer", "n_layers": 1, "transformer.n_heads": 3}, r"family 'transformer' could not be built"),
    ({"stack": "mamba+moe", "n_layers": 1, "moe_experts": 2, "moe_top_k": 3}, r"moe_top_k must be between 1 and moe_experts"),
])
def test_refuses_bad_configs(config, message):
    with pytest.raises(ValueError, match=message):
        hybrid.Model(config, VOCAB)


def fake_family(monkeypatch, name: str, model_cls):
    """Make family_module(name) return a module with model_cls as its Model (the others load as usual)."""
    real = hybrid.family_module
    module = types.SimpleNamespace(FAMILY=name, Model=model_cls, DEFAULT_CONFIG={"d_model": 64, "n_layers": 2})
    monkeypatch.setattr(hybrid, "family_module", lambda n: module if n == name else real(n))


def test_refuses_a_family_with_a_positional_embedding_in_its_shell(monkeypatch):
    transformer = hybrid.family_module("transformer")

    class WithPositions(transformer.Model):
        def __init__(self, config, vocab):
            super().__init__(config, vocab)
            self.pos = nn.Embedding(512, self.config["d_model"])

        def _prefill(self, input_ids):
            return super()._prefill(input_ids)

    fake_family(monkeypatch, "learned-pos", WithPositions)
    with pytest.raises(ValueError, match=r"family 'learned-pos' cannot be a hybrid's layer: its Model overrides _prefill"):
        hybrid.Model({"stack": "mamba,learned-pos", "n_layers": 2}, VOCAB)


def test_refuses_a_family_with_tensors_of_its_own(monkeypatch):
    transformer = hybrid.family_module("transformer")

    class WithScale(transformer.Model):
        def __init__(self, config, vocab):
            super().__init__(config, vocab)
            self.scale = nn.Parameter(torch.ones(()))

    fake_family(monkeypatch, "scaled", WithScale)
    with pytest.raises(ValueError, match=r"family 'scaled' cannot be a hybrid's layer: its Model holds tensors outside its layers \(scale\)"):
        hybrid.Model({"stack": "scaled", "n_layers": 1}, VOCAB)


def test_refuses_a_family_outside_the_shell(monkeypatch):
    class Plain(nn.Module):
        def __init__(self, config, vocab):
            super().__init__()

    fake_family(monkeypatch, "plain", Plain)
    with pytest.raises(ValueError, match=r"family 'plain' cannot be a hybrid's layer: its Model \(Plain\) is not a"):
        hybrid.Model({"stack": "plain", "n_layers": 1}, VOCAB)


def test_every_family_can_be_a_layer():
    """Every family but S4 can be a layer (HGRN's lower bounds are kept under shared.hgrn)."""
    net = hybrid.Model({"stack": ",".join(LAYER_FAMILIES), "d_model": 32,
                        "n_layers": len(LAYER_FAMILIES), "based.n_heads": 2, "transformer.n_heads": 2},
                       VOCAB)
    assert isinstance(net, CausalLM) and list(net.shared) == ["hgrn"]
    assert len(net.layers) == len(LAYER_FAMILIES)
