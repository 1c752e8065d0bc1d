"""profile_ort on a committed checkpoint: the per-op shares it writes are real kernel times and add up."""
import json
from pathlib import Path

from ssmbench_trainer import profile_ort

REPO = Path(__file__).resolve().parents[2]


def test_profile_writes_op_shares_of_both_graphs(tmp_path):
    out = tmp_path / "p.json"
    profile_ort.main(["--checkpoint", str(REPO / "models/transformer-induction-heads"), "--seq-len", "64", "--context", "32", "--steps", "4", "--threads", "1", "--wall-steps", "20", "--out", str(out)])
    p = json.loads(out.read_text())
    assert p["checkpoint"] == "transformer-induction-heads" and p["threads"] == 1
    assert p["step"]["steps"] == 4 and p["prefill"]["seq_len"] == 64
    # the unprofiled step time is recorded with its settings
    assert 0 < p["step"]["wall_ms_per_step"] and p["step"]["wall_steps"] == 20 and p["step"]["threads"] == 1
    # the step's size on both runtimes: onnxruntime's nodes per step, PyTorch eager's torch operations per step
    assert 20 < p["step"]["nodes"] < 400 and 20 < p["step"]["eager_ops"] < 400
    for graph in ("prefill", "step"):
        ops = p[graph]["top_ops"]
        assert ops and all(o["us_per_run"] > 0 for o in ops)
        assert any(o["op"] in ("MatMul", "FusedMatMul", "Gemm") for o in ops)  # the head and projections are matmuls
        shares = [o["share"] for o in ops]
        assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0001
