"""Parity of the Mamba-2 reference: the shared contract (chunked SSD prefill vs the token-by-token recurrence, step vs
prefill), the chunked SSD against its quadratic (masked-attention) form, and the ONNX export with a dynamic length."""
import pytest
import torch
from torch.export import Dim

import model as family
from ssmbench_trainer import export
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential

torch.set_num_threads(1)


def _close(a, b, tol=1e-5):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


SMALL = {"d_model": 32, "n_layers": 2, "d_state": 8, "headdim": 16, "chunk": 8}


def test_contract():
    torch.manual_seed(0)
    net = family.Model(SMALL, vocab=50).eval()
    check_contract(net, 50)


def test_default_config():
    torch.manual_seed(1)
    net = family.Model({}, vocab=40).eval()
    mixer = net.layers[0][0].fn
    assert (mixer.d_inner, mixer.n_heads, mixer.headdim, mixer.d_state, mixer.chunk) == (128, 4, 32, 32, 32)
    assert {s["name"]: s["shape"] for s in net.state_spec()} == {
        "conv.0": ["batch", 192, 3], "ssm.0": ["batch", 4, 32, 32], "conv.1": ["batch", 192, 3], "ssm.1": ["batch", 4, 32, 32]}
    check_parallel_matches_sequential(net, 40, lengths=(1, 31, 32, 33, 70), batch=2)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 7, 8, 9, 24, 50])
def test_chunked_ssd_equals_quadratic_form(T):
    """Chunked SSD (chunk 8) == the whole-sequence masked form y = (L o C B^T)(dt x), in float64, with decays from
    very slow to very fast (A up to 16 and large dt: no floor is needed)."""
    torch.manual_seed(T)
    mixer = family.Mamba2Mixer(32, d_state=8, headdim=16, chunk=8).double().eval()
    with torch.no_grad():
        mixer.dt_bias.copy_(torch.tensor([-6.0, -1.0, 1.0, 3.0]))      # dt from 0.0025 to 3 (dt A down to -48)
    u = torch.randn(2, T, 32, dtype=torch.float64)
    out1, (c1, h1) = mixer(u)
    out2, (c2, h2) = mixer(u, form="quadratic")
    _close(out1, out2, 1e-10)
    _close(h1, h2, 1e-10)
    _close(c1, c2, 0)


@torch.no_grad()
def test_long_sequence_many_chunks():
    torch.manual_seed(3)
    net = family.Model(SMALL, vocab=50).eval()
    check_parallel_matches_sequential(net, 50, lengths=(8 * 150 + 5,), batch=1, tol=1e-4)


def test_onnx_prefill_dynamic_length(tmp_path):
    """Prefill and step export (torch.export + dynamo, dynamic batch and seq) traced at 40 tokens; onnxruntime at 37
    and 300 tokens gives PyTorch's logits within 1e-5, and so does stepping step.onnx token by token; the final
    states agree within 1e-5 relative to their size (states that sum hundreds of terms carry their float32 round-off)."""
    torch.manual_seed(4)
    # One layer and 6 scan levels (up to 1024 tokens): the export's time is mostly per-node overhead.
    net = family.Model({"d_model": 16, "n_layers": 1, "d_state": 8, "headdim": 8, "chunk": 16, "scan_levels": 6}, vocab=20).eval()
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
