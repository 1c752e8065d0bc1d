"""Parity of the linear-attention reference: the shared contract (chunked prefill vs the token-by-token recurrence,
step vs prefill), the chunked layer against the paper's masked quadratic form (eq. 9), and the ONNX export with a
dynamic length."""
import pytest
import torch
from torch.export import Dim

import model as family
from ssmbench_trainer import export
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential

torch.set_num_threads(1)

SMALL = {"d_model": 32, "n_layers": 2, "n_heads": 2, "chunk": 8}


def _close(a, b, tol=1e-5):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def test_contract():
    torch.manual_seed(0)
    check_contract(family.Model(SMALL, vocab=50).eval(), 50)


def test_default_config():
    torch.manual_seed(1)
    net = family.Model({}, vocab=40).eval()
    assert {s["name"]: s["shape"] for s in net.state_spec()} == {
        "kv.0": ["batch", 2, 32, 32], "z.0": ["batch", 2, 32], "kv.1": ["batch", 2, 32, 32], "z.1": ["batch", 2, 32]}
    check_parallel_matches_sequential(net, 40, lengths=(1, 31, 32, 33, 70), batch=2)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 7, 8, 9, 24, 50])
def test_chunked_equals_quadratic_form(T):
    """V'_i = sum_{j<=i} (phi(Q_i) . phi(K_j)) V_j / sum_{j<=i} phi(Q_i) . phi(K_j) (eq. 9 with the causal mask),
    in float64, and the final states are sum_j phi(K_j) V_j^T and sum_j phi(K_j)."""
    torch.manual_seed(T)
    att = family.LinearAttention(32, n_heads=2, chunk=8).double().eval()
    u = torch.randn(2, T, 32, dtype=torch.float64)
    out, (S, z) = att(u)
    q, k, v = (t.transpose(1, 2) for t in att._project(u))
    i = torch.arange(T)
    A = (q @ k.transpose(-1, -2)) * (i.view(-1, 1) >= i.view(1, -1))
    ref = (A @ v) / (A.sum(-1, keepdim=True) + att.eps)
    _close(out, att.o_proj(ref.transpose(1, 2).flatten(-2)), 1e-10)
    _close(S, k.transpose(-1, -2) @ v, 1e-10)
    _close(z, k.sum(2), 1e-10)


def test_feature_map_is_positive():
    """phi > 0 (in float32 it underflows to 0 below x ~ -17: eps keeps the denominator positive then)."""
    x = torch.linspace(-15, 50, 131)
    phi = family.elu_feature_map(x)
    assert (phi > 0).all() and (family.elu_feature_map(torch.tensor([-1e4])) >= 0).all()
    _close(phi[x >= 0], x[x >= 0] + 1, 0)


@torch.no_grad()
def test_long_sequence_many_chunks():
    torch.manual_seed(3)
    check_parallel_matches_sequential(family.Model(SMALL, vocab=50).eval(), 50, lengths=(8 * 150 + 5,), batch=1, tol=1e-4)


def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill and step export (torch.export + dynamo, dynamic batch and seq) traced at 40 tokens; onnxruntime at 37
    and 300 tokens gives PyTorch's logits within 1e-5, and so does stepping step.onnx token by token; the final
    states agree within 1e-5 relative to their size (states that sum hundreds of terms carry their float32 round-off)."""
    torch.manual_seed(4)
    net = family.Model({"d_model": 16, "n_layers": 1, "n_heads": 2, "chunk": 16}, vocab=20).eval()
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
