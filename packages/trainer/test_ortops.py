"""onnxruntime's fused LinearAttention in exported graphs (ssmbench_trainer/ortops.py, linattn.fused): the custom op's
eager body is the recurrence; a graph exported through linattn.chunked and linattn.step holds the com.microsoft node
(and no chunked scan) and gives, on onnxruntime, what the plain forms give in PyTorch; float64 graphs and prefills
without a decay keep the plain forms."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from ssmbench_trainer import linattn, ortops
from ssmbench_trainer.export import contrib_ops

torch.set_num_threads(1)
B, H, DK, DV = 2, 3, 5, 4


def _inputs(kind, T, hq=H, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, hq, T, DK, generator=g, dtype=dtype)
    k = torch.randn(B, hq, T, DK, generator=g, dtype=dtype)
    v = torch.randn(B, H, T, DV, generator=g, dtype=dtype)
    a = {"none": None, "scalar": -torch.rand(B, H, T, generator=g, dtype=dtype) * 3,
         "vector": -torch.rand(B, H, T, DK, generator=g, dtype=dtype) * 1.5}[kind]
    return q, k, v, a


@pytest.mark.parametrize("kind", ["none", "scalar", "vector"])
def test_eager_body_is_the_recurrence(kind):
    q, k, v, a = _inputs(kind, 9, dtype=torch.float64)
    S0 = torch.randn(B, H, DK, DV, dtype=torch.float64)
    o, S = linattn.fused(S0, q, k, v, a)
    # the recurrence from S0: S0's contribution decays and is read out on top of the zero-state recurrence
    o_ref, S_ref = linattn.recurrent(q, k, v, a)
    cum = torch.zeros(B, H, 9, DK if kind == "vector" else 1, dtype=torch.float64) if a is None else \
        torch.cumsum(a if kind == "vector" else a.unsqueeze(-1), dim=2)
    carried = (q * torch.exp(cum)) @ S0 if kind != "none" else q @ S0
    torch.testing.assert_close(o, o_ref + carried, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(S, S_ref + torch.exp(cum[:, :, -1]).unsqueeze(-1) * S0, atol=1e-10, rtol=1e-10)


class _Chunked(torch.nn.Module):
    def __init__(self, kind, hq):
        super().__init__()
        self.kind, self.hq = kind, hq

    def forward(self, q, k, v, a):
        return linattn.chunked(q, k, v, a, chunk=4, levels=8)


class _Step(torch.nn.Module):
    def forward(self, S, q, k, v, a):
        return linattn.step(S, q, k, v, a)


def _export(module, args, dynamic_shapes, path):
    ep = torch.export.export(module, args, dynamic_shapes=dynamic_shapes, prefer_deferred_runtime_asserts_over_guards=True)
    prog = torch.onnx.export(ep, args, dynamo=True, opset_version=18, custom_translation_table=ortops.TRANSLATIONS, verbose=False)
    prog.optimize()
    onnx.save(prog.model_proto, path)
    return prog.model_proto


def _run(path, args):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {i.name: a.numpy() for i, a in zip(s.get_inputs(), args)})


@pytest.mark.parametrize("kind,hq", [("scalar", H), ("scalar", 1), ("vector", H)])
def test_exported_prefill_is_one_fused_node(tmp_path, kind, hq):
    """linattn.chunked with a decay exports as LinearAttention (q, k shared by the heads are expanded), and onnxruntime
    gives the chunked form's outputs and final state at other lengths than the traced one."""
    T = torch.export.Dim("T", min=2, max=4096)
    dims = ({2: T}, {2: T}, {2: T}, {2: T})
    model = _export(_Chunked(kind, hq), _inputs(kind, 12, hq), dims, tmp_path / "p.onnx")
    ops = [n.op_type for n in model.graph.node]
    assert "LinearAttention" in ops and "Scan" not in ops
    for T_run in (3, 37):
        args = _inputs(kind, T_run, hq, seed=T_run)
        o, S = _run(tmp_path / "p.onnx", args)
        o_ref, S_ref = linattn.chunked(*args, chunk=4)
        np.testing.assert_allclose(o, o_ref.numpy(), atol=2e-5, rtol=1e-5)
        np.testing.assert_allclose(S, S_ref.numpy(), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["none", "scalar", "vector"])
def test_exported_step_is_one_fused_node(tmp_path, kind):
    q, k, v, a = _inputs(kind, 1)
    args = (torch.randn(B, H, DK, DV), q[:, :, 0], k[:, :, 0], v[:, :, 0], None if a is None else a[:, :, 0])
    model = _export(_Step(), args, None, tmp_path / "s.onnx")
    assert [n.op_type for n in model.graph.node].count("LinearAttention") == 1
    assert contrib_ops(tmp_path / "s.onnx") == ["com.microsoft.LinearAttention"]   # what the card's export lists
    o, S = _run(tmp_path / "s.onnx", [t for t in args if t is not None])
    o_ref, S_ref = linattn.step(*args)
    np.testing.assert_allclose(o, o_ref.numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(S, S_ref.numpy(), atol=1e-5, rtol=1e-5)


def test_plain_forms_where_the_op_is_not_used(tmp_path):
    """No decay (linear attention, Based keep their published cumulative-sum graphs) and float64 graphs (the op has no
    float64 kernel) keep the chunked form."""
    T = torch.export.Dim("T", min=2, max=4096)
    dims = ({2: T}, {2: T}, {2: T}, None)
    model = _export(_Chunked("none", H), _inputs("none", 12), dims, tmp_path / "n.onnx")
    assert "LinearAttention" not in [n.op_type for n in model.graph.node]
    dims = ({2: T}, {2: T}, {2: T}, {2: T})
    model = _export(_Chunked("scalar", H), _inputs("scalar", 12, dtype=torch.float64), dims, tmp_path / "d.onnx")
    assert "LinearAttention" not in [n.op_type for n in model.graph.node]
    assert contrib_ops(tmp_path / "n.onnx", tmp_path / "d.onnx") == []


class _ConvStep(torch.nn.Module):
    """Mamba's short conv for one token, as its step writes it: the fused op while exporting, the plain form else."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(6, 6, 4, groups=6)

    def forward(self, x, state):
        if ortops.exporting(x):
            return ortops.causal_conv_step(x, state, self.conv.weight, self.conv.bias)
        window = torch.cat([state, x.unsqueeze(-1)], -1)
        return torch.nn.functional.silu((window * self.conv.weight.squeeze(1)).sum(-1) + self.conv.bias), window[:, :, 1:]


def test_causal_conv_step_is_one_fused_node(tmp_path):
    """causal_conv_step's eager body is the step's plain conv; exported, it is one CausalConvWithState node (fused
    SiLU) whose output and next state equal the plain form's, for a batch other than the traced one."""
    torch.manual_seed(0)
    m = _ConvStep().eval()
    x, state = torch.randn(2, 6), torch.randn(2, 6, 3)
    with torch.no_grad():
        for a, b in zip(ortops.causal_conv_step(x, state, m.conv.weight, m.conv.bias), m(x, state)):
            torch.testing.assert_close(a, b, atol=0, rtol=0)
    batch = torch.export.Dim("batch", min=1, max=64)
    model = _export(m, (x, state), ({0: batch}, {0: batch}), tmp_path / "c.onnx")
    assert [n.op_type for n in model.graph.node].count("CausalConvWithState") == 1
    assert contrib_ops(tmp_path / "c.onnx") == ["com.microsoft.CausalConvWithState"]
    args = (torch.randn(5, 6), torch.randn(5, 6, 3))
    out, nxt = _run(tmp_path / "c.onnx", args)
    with torch.no_grad():
        ref = m(*args)
    np.testing.assert_allclose(out, ref[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(nxt, ref[1].numpy(), atol=0)
