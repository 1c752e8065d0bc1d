"""Float64 graphs (export.py --precision float64) and the activations that make them exportable (numerics.py).

A tiny RetNet with random weights is saved as a checkpoint folder and re-exported with --from-checkpoint
--precision float64: the graphs must compute in double (states float64, logits float32), match PyTorch in float64
far below float32's round-off, and keep the checkpoint's card record.
"""
from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssmbench_trainer import export
from ssmbench_trainer.common import REPO, load_family
from ssmbench_trainer.numerics import conv1d, erf64, float64_safe, gelu, silu
from ssmbench_trainer.weights import WEIGHTS, save_weights

torch.set_num_threads(1)
V, T = 20, 24
CONFIG = {"d_model": 16, "n_layers": 1, "n_heads": 2, "chunk": 8}


def test_erf64_matches_math_erf_everywhere():
    xs = torch.linspace(-12, 12, 48001, dtype=torch.float64)
    ref = torch.tensor([math.erf(v) for v in xs.tolist()], dtype=torch.float64)
    assert float((erf64(xs) - ref).abs().max()) < 1e-13
    assert erf64(torch.tensor([0.0], dtype=torch.float64)).item() == 0.0


def test_gelu_and_silu_are_torchs_functions_in_both_dtypes():
    x = torch.linspace(-40, 40, 8001, dtype=torch.float64)
    assert float((gelu(x) - F.gelu(x)).abs().max()) < 1e-12
    assert float((silu(x) - F.silu(x)).abs().max()) < 1e-12
    x32 = x.float()
    assert torch.equal(gelu(x32), F.gelu(x32)) and torch.equal(silu(x32), F.silu(x32))


def test_float64_safe_swaps_torchs_activations_in_while_tracing_only():
    x = torch.linspace(-30, 30, 601, dtype=torch.float64)
    torch_silu = F.silu
    with float64_safe():
        assert F.silu is not torch_silu
        assert float((F.silu(x) - torch_silu(x)).abs().max()) < 1e-12
        assert float((torch.nn.GELU()(x) - gelu(x)).abs().max()) == 0.0
        assert torch.equal(F.silu(x.float()), torch_silu(x.float()))      # float32 unchanged
        # the traced graph spells SiLU without x * Sigmoid(x), so onnxruntime makes no float-only QuickGelu of it
        ops = {n.target.__name__ for n in torch.export.export(torch.nn.SiLU(), (x,)).graph.nodes if n.op == "call_function"}
        assert not any("silu" in o or "sigmoid" in o for o in ops), ops
    assert F.silu is torch_silu


def test_float64_depthwise_conv1d_is_torchs_and_exports_without_conv():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 19, generator=g, dtype=torch.float64)
    w = torch.randn(6, 1, 4, generator=g, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    for pad in (0, 3):
        assert float((conv1d(x, w, b, padding=pad, groups=6) - F.conv1d(x, w, b, padding=pad, groups=6)).abs().max()) < 1e-14
    assert float((conv1d(x, w, None, groups=6) - F.conv1d(x, w, None, groups=6)).abs().max()) < 1e-14
    full = torch.randn(3, 6, 4, generator=g, dtype=torch.float64)   # not depthwise: torch's own
    assert torch.equal(conv1d(x, full), F.conv1d(x, full))
    conv = torch.nn.Conv1d(6, 6, 4, groups=6, padding=3).double()
    with torch.no_grad():
        torch_conv = conv(x)                                             # torch's own, before the swap
    with float64_safe():
        assert F.conv1d is conv1d
        ops = {n.target.__name__ for n in torch.export.export(conv, (x,)).graph.nodes if n.op == "call_function"}
        assert not any("conv" in o for o in ops), ops
        with torch.no_grad():
            assert float((conv(x) - torch_conv).abs().max()) < 1e-14
    assert F.conv1d is not conv1d


@pytest.fixture(scope="module")
def reexported(tmp_path_factory):
    family = load_family(REPO / "packages" / "model-retnet")
    torch.manual_seed(0)
    model = family.Model(CONFIG, V).eval()
    ckpt = tmp_path_factory.mktemp("ckpt") / "retnet-toy"
    ckpt.mkdir()
    path = save_weights(model, ckpt)
    (ckpt / "train-log.csv").write_text("step,lr,valid_accuracy\n10,0.003,0.5\n")
    training = {"seed": 0, "steps": 10, "batch": 4, "lr": 0.003, "device": "cpu", "wall_s": 1.0, "sweep": [], "final": {}}
    card = {"id": "retnet-toy", "family": "retnet", "vocab": V, "config": model.config, "training": training,
            "task": {"id": "mqar", "version": "1.0.0", "params": {"vocab": V, "seq_len": T}},
            "files": [{"path": WEIGHTS, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size}]}
    (ckpt / "card.json").write_text(json.dumps(card))
    data = tmp_path_factory.mktemp("data")
    x = np.random.default_rng(0).integers(0, V, (6, T)).astype(np.int16)
    np.save(data / "valid.inputs.npy", x)
    np.save(data / "valid.targets.npy", np.full_like(x, -100))
    (data / "valid.meta.json").write_text(json.dumps({"task": "mqar", "split": "valid", "n": 6, "shape": [6, T]}))
    out = tmp_path_factory.mktemp("models") / "retnet-toy"
    export.main(["--from-checkpoint", str(ckpt), "--precision", "float64", "--data", str(data), "--out", str(out)])
    return {"model": model, "out": out, "card": json.loads((out / "card.json").read_text()), "training": training}


def test_float64_card_keeps_the_record_and_says_what_changed(reexported):
    card = reexported["card"]
    assert card["id"] == "retnet-toy" and card["training"] == reexported["training"]
    assert card["export"]["precision"] == "float64" and card["parity"]["reference"] == "PyTorch float64"
    assert {s["dtype"] for s in card["states"]} == {"float64"}
    # one layer: retention state [H, d_k, d_v] = [2, 8, 16], 8 bytes each
    assert card["stateBytesPerSequence"] == (2 * 8 * 16) * 8
    assert card["parity"]["prefill_vs_torch"] < 1e-6 and card["parity"]["step_vs_prefill"] < 1e-6


def test_float64_graphs_compute_in_double_and_match_pytorch_float64(reexported):
    ort = pytest.importorskip("onnxruntime")
    out, model = reexported["out"], reexported["model"]
    pre = ort.InferenceSession(str(out / "prefill.onnx"), providers=["CPUExecutionProvider"])
    step = ort.InferenceSession(str(out / "step.onnx"), providers=["CPUExecutionProvider"])
    assert [o.type for o in pre.get_outputs()] == ["tensor(float)", "tensor(double)"]
    assert [i.type for i in step.get_inputs()] == ["tensor(int64)", "tensor(double)"]
    ids = np.random.default_rng(3).integers(0, V, (2, 37)).astype(np.int64)  # not the export's length
    logits, *state = pre.run(None, {"input_ids": ids})
    wide = export.copy.deepcopy(model).double()
    with torch.no_grad():
        ref = wide(torch.from_numpy(ids))
    # float32 logits of magnitude ~1: the only rounding left is the final narrowing (~1e-7)
    np.testing.assert_allclose(logits, ref[0].numpy(), atol=1e-6)
    for s, r in zip(state, ref[1:]):
        np.testing.assert_allclose(s, r.numpy(), atol=1e-12)
    names = [i.name for i in step.get_inputs()]
    past = pre.run(None, {"input_ids": ids[:, :30]})[1:]
    for t in range(30, 37):
        lg, *past = step.run(None, {"input_ids": ids[:, t : t + 1], **dict(zip(names[1:], past))})
        np.testing.assert_allclose(lg[:, 0], logits[:, t], atol=1e-6)
