"""Parity of the GLA reference: the shared contract (chunkwise prefill vs the token-by-token recurrence, step vs
prefill), the gate's form and range, the chunked layer in float64, gates at the floor, and the ONNX export with a
dynamic length."""
import pytest
import torch
import torch.nn.functional as F
from torch.export import Dim

import model as family
from ssmbench_trainer import export
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential

torch.set_num_threads(1)

SMALL = {"d_model": 32, "n_layers": 2, "n_heads": 2, "chunk": 8}


def _close(a, b, tol=1e-5):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def _sharpen(net, scale=30.0):
    """Fresh gates sit near alpha = 0.96; widen them (alpha from ~0.1 to ~1) so decay matters in the checks."""
    with torch.no_grad():
        for layers in net.layers:
            layers[0].fn.gk_up.weight.mul_(scale)
    return net


def test_contract():
    torch.manual_seed(0)
    net = _sharpen(family.Model(SMALL, vocab=50)).eval()
    check_contract(net, 50)


def test_default_config():
    torch.manual_seed(1)
    net = family.Model({}, vocab=40).eval()
    gla = net.layers[0][0].fn
    assert (gla.n_heads, gla.dk, gla.dv, gla.chunk) == (2, 16, 32, 32)
    assert net.layers[0][1].fn.fn.gate_proj.out_features == 176
    assert {s["name"]: s["shape"] for s in net.state_spec()} == {"kv.0": ["batch", 2, 16, 32], "kv.1": ["batch", 2, 16, 32]}
    check_parallel_matches_sequential(net, 40, lengths=(1, 31, 32, 33, 70), batch=2)


def test_gate_is_the_papers():
    """alpha = sigmoid(x W1 W2 + b)^(1/16), low rank 16, in (0, 1); near 1 at init."""
    torch.manual_seed(2)
    gla = family.GatedLinearAttention(32, n_heads=2)
    assert gla.gk_down.weight.shape == (16, 32) and gla.gk_up.weight.shape == (16, 16)
    u = torch.randn(3, 32)
    _, _, _, log_alpha = gla._project(u)
    alpha = torch.sigmoid(gla.gk_up(gla.gk_down(u))) ** (1 / 16)
    _close(log_alpha.exp().flatten(-2), alpha, 1e-6)
    assert (alpha > 0.9).all() and (alpha < 1).all()


def test_log_sigmoid_is_logsigmoid():
    x = torch.linspace(-200, 60, 2601, dtype=torch.float64)
    _close(family.log_sigmoid(x), F.logsigmoid(x), 1e-12)
    _close(family.log_sigmoid(x.float()), F.logsigmoid(x.float()), 1e-6)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 7, 8, 9, 24, 50])
def test_chunkwise_layer_equals_recurrence_float64(T):
    """The whole GLA layer, chunkwise (chunk 8) vs stepping, in float64: the same math to rounding."""
    torch.manual_seed(T)
    gla = family.GatedLinearAttention(32, n_heads=2, chunk=8).double().eval()
    gla.gk_up.weight.mul_(30)
    u = torch.randn(2, T, 32, dtype=torch.float64)
    out, (S,) = gla(u)
    S1, outs = torch.zeros_like(S), []
    for t in range(T):
        y, (S1,) = gla.step(u[:, t], [S1])
        outs.append(y)
    _close(torch.stack(outs, 1), out, 1e-10)
    _close(S1, S, 1e-10)


def test_gates_at_the_floor_stay_finite():
    """Every gate at the floor (alpha = e^-5 per step at chunk 32) with large q, k: exact and finite gradients."""
    torch.manual_seed(3)
    net = family.Model({**SMALL, "chunk": 32}, vocab=50)
    with torch.no_grad():
        for layers in net.layers:
            layers[0].fn.gk_up.bias.fill_(-1e4)
            layers[0].fn.q_proj.weight.mul_(20)
            layers[0].fn.k_proj.weight.mul_(20)
    check_parallel_matches_sequential(net.eval(), 50, lengths=(7, 70), batch=2, tol=1e-4)
    ids = torch.randint(0, 50, (2, 70))
    net.train()
    net.head(net.hidden(ids)).logsumexp(-1).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name


@torch.no_grad()
def test_long_sequence_many_chunks():
    torch.manual_seed(4)
    net = _sharpen(family.Model(SMALL, vocab=50)).eval()
    check_parallel_matches_sequential(net, 50, lengths=(8 * 150 + 5,), batch=1, tol=1e-4)


def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill and step export (torch.export + dynamo, dynamic batch and seq) traced at 40 tokens; onnxruntime at 37
    and 300 tokens gives PyTorch's logits within 1e-5, and so does stepping step.onnx token by token; the final
    states agree within 1e-5 relative to their size (states that sum hundreds of terms carry their float32 round-off)."""
    torch.manual_seed(5)
    # One layer and 6 scan levels (up to 1024 tokens): the export's time is mostly per-node overhead.
    net = _sharpen(family.Model({"d_model": 16, "n_layers": 1, "n_heads": 2, "chunk": 16, "scan_levels": 6}, vocab=20)).eval()
    spec = net.state_spec()
    batch, seq = Dim("batch", min=1, max=1024), Dim("seq", min=1, max=export.MAX_SEQ)
    outs = ["logits", *[f"present_{s['name']}" for s in spec]]
    ids = torch.randint(0, 20, (2, 40))
    pre, stp = tmp_path / "prefill.onnx", tmp_path / "step.onnx"
    export.export_graph(export.Prefill(net), (ids.clone(),), ({0: batch, 1: seq},), ["input_ids"], outs, pre,
                        {("input_ids", 0): "batch", ("input_ids", 1): "seq"}, export.DEFAULT_OPSET)
    with torch.no_grad():
        past = tuple(p.clone() for p in net(ids[:, :5].clone())[1:])
    export.export_graph(export.Step(net), (ids[:, :1].clone(), *past), ({0: batch}, tuple({0: batch} for _ in spec)),
                        ["input_ids", *[f"past_{s['name']}" for s in spec]], outs, stp, {}, export.DEFAULT_OPSET)
    pre_s, step_s = export.ort_session(pre), export.ort_session(stp)
    names = [i.name for i in step_s.get_inputs()]
    for T in (37, 300):
        ids = torch.randint(0, 20, (2, T))
        with torch.no_grad():
            logits, *states = net(ids)
        got, *got_states = pre_s.run(None, {"input_ids": ids.numpy()})
        past, steps = [p.numpy() for p in net.init_state(2)], []
        for t in range(T):
            lg, *past = step_s.run(None, {"input_ids": ids[:, t : t + 1].numpy(), **dict(zip(names[1:], past))})
            steps.append(torch.from_numpy(lg))
        torch.testing.assert_close(torch.from_numpy(got), logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(torch.cat(steps, 1), logits, atol=1e-5, rtol=0)
        for a, b, ref in zip(got_states, past, states):
            _close(torch.from_numpy(a), ref)
            _close(torch.from_numpy(b), ref)
