"""generate.onnx (ssmbench_trainer/generate.py): step.onnx inside an ONNX Loop with argmax gives the tokens and states
of greedy stepping, one call per token; two calls continue each other; graphs outside the contract are refused.
Built from committed checkpoints (a constant state, a growing KV cache, a com.microsoft node), in a copy."""
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from ssmbench_trainer import generate
from ssmbench_trainer.export import ort_session

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(params=["mamba-induction-heads", "transformer-induction-heads", "gla-induction-heads"])
def checkpoint(request, tmp_path):
    dst = tmp_path / request.param
    shutil.copytree(MODELS / request.param, dst, ignore=shutil.ignore_patterns("weights.safetensors", generate.FILE))
    return dst


def test_write_checks_tokens_and_records_the_file(checkpoint):
    r = generate.write(checkpoint)
    assert r["mismatched"] == 0 and r["tokens"] == 96 and r["state_diff"] <= 1e-4
    card = json.loads((checkpoint / "card.json").read_text())
    entry = next(f for f in card["files"] if f["path"] == generate.FILE)
    import hashlib
    assert entry["sha256"] == hashlib.sha256((checkpoint / generate.FILE).read_bytes()).hexdigest()
    assert card["generate"]["step_sha256"] == next(f["sha256"] for f in card["files"] if f["path"] == "step.onnx")
    assert card["generate"]["checked_tokens"] == 96
    generate.write(checkpoint)  # again: one entry, not two
    assert [f["path"] for f in json.loads((checkpoint / "card.json").read_text())["files"]].count(generate.FILE) == 1


def test_two_calls_continue_each_other(checkpoint):
    generate.write(checkpoint)
    card = json.loads((checkpoint / "card.json").read_text())
    gen = ort_session(checkpoint / generate.FILE)
    state = [np.zeros([2 if d == "batch" else 0 if d == "past_seq" else d for d in s["shape"]], np.float32) for s in card["states"]]
    first = np.array([[1], [3]], np.int64)
    run = lambda n, ids, st: gen.run(None, {"max_new_tokens": np.array(n, np.int64), "input_ids": ids,
                                            **{f"past_{s['name']}": x for s, x in zip(card["states"], st)}})
    whole = run(12, first, state)
    a = run(5, first, state)
    b = run(7, a[0][:, -1:], a[1:])
    assert whole[0].shape == (2, 12)
    np.testing.assert_array_equal(np.concatenate([a[0], b[0]], 1), whole[0])
    for x, y in zip(b[1:], whole[1:]):
        np.testing.assert_allclose(x, y, atol=1e-5)


def test_refuses_a_graph_outside_the_contract():
    step = onnx.load(str(MODELS / "mamba-induction-heads" / "step.onnx"))
    step.graph.output[0].name = "scores"
    with pytest.raises(ValueError, match="not a step graph"):
        generate.build(step)
