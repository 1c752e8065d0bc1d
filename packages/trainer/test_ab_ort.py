"""ab_ort on a committed checkpoint against itself: both sides timed, medians positive, speed-ups near 1."""
from pathlib import Path

from ssmbench_trainer import ab_ort

REPO = Path(__file__).resolve().parents[2]


def test_a_checkpoint_against_itself():
    ckpt = REPO / "models/transformer-induction-heads"
    out = ab_ort.main(["--a", str(ckpt), "--b", str(ckpt), "--seq-len", "64", "--rounds", "3", "--threads", "1", "--steps", "1000"])
    assert out["checkpoint"] == "transformer-induction-heads"
    assert out["prefill"]["a_ms"] > 0 and out["prefill"]["b_ms"] > 0 and out["step"]["steps"] == 1000
    # the same graph on both sides: no speed-up to speak of, whatever this machine's phase
    assert 0.2 < out["prefill"]["b_speedup"] < 5 and 0.2 < out["step"]["b_speedup"] < 5


def test_one_export_at_two_optimisation_levels():
    ckpt = REPO / "models/s5-induction-heads"
    out = ab_ort.main(["--a", str(ckpt), "--b-level", "disable", "--seq-len", "64", "--rounds", "2", "--threads", "1", "--steps", "500"])
    assert out["b"] == str(ckpt) and out["levels"] == {"a": "all", "b": "disable"}
    assert out["prefill"]["b_ms"] > 0 and out["step"]["b_us"] > 0
