"""Two exports of one checkpoint timed side by side on onnxruntime: the A/B behind a graph change in docs/speed.md.

    python -m ssmbench_trainer.ab_ort --a models/gla-induction-heads --b /tmp/gla-new --seq-len 16384
    python -m ssmbench_trainer.ab_ort --a models/s5-induction-heads --b-level basic   # one export, two settings

Both folders hold prefill.onnx and step.onnx of the same model (the card is read from --a). The two prefills of
--seq-len tokens (--threads) are run alternately, A then B, --rounds times after a warm-up run each, so this
machine's slow phases fall on both; then --steps single steps of each step graph (--step-threads), alternately in
blocks of 500. Prints one JSON line: median prefill ms and step us of each, and B's speed-up over A.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .profile_ort import LEVELS, session


def _step_feeds(card: dict) -> dict:
    """One token and a zero state of the card's shapes (64 cached positions for a growing cache)."""
    feeds = {"input_ids": np.ones((1, 1), dtype=np.int64)}
    for s in card["states"]:
        shape = [1 if d == "batch" else 64 if d == "past_seq" else d for d in s["shape"]]
        feeds[f"past_{s['name']}"] = np.zeros(shape, dtype=np.float64 if s.get("dtype") == "float64" else np.float32)
    return feeds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, type=Path)
    ap.add_argument("--b", type=Path, help="the other export (default: --a itself, to compare --a-level and --b-level)")
    ap.add_argument("--a-level", choices=list(LEVELS), default="all", help="onnxruntime graph optimisation level of A")
    ap.add_argument("--b-level", choices=list(LEVELS), default="all", help="... of B")
    ap.add_argument("--seq-len", type=int, default=16384)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--step-threads", type=int, default=1)
    args = ap.parse_args(argv)
    args.b = args.b or args.a
    levels = {"a": args.a_level, "b": args.b_level}
    card = json.loads((args.a / "card.json").read_text())
    ids = np.random.default_rng(0).integers(0, card["vocab"], (1, args.seq_len), dtype=np.int64)
    dirs = {"a": args.a, "b": args.b}

    prefill = {k: session(d / "prefill.onnx", args.threads, None, levels[k]) for k, d in dirs.items()}
    for s in prefill.values():
        s.run(None, {"input_ids": ids})
    pre_ms = {k: [] for k in dirs}
    for _ in range(args.rounds):
        for k, s in prefill.items():
            t = time.perf_counter()
            s.run(None, {"input_ids": ids})
            pre_ms[k].append((time.perf_counter() - t) * 1000)

    step = {k: session(d / "step.onnx", args.step_threads, None, levels[k]) for k, d in dirs.items()}
    feeds = _step_feeds(card)
    for s in step.values():
        for _ in range(200):
            s.run(None, feeds)
    step_us = {k: [] for k in dirs}
    for _ in range(max(1, args.steps // 500)):
        for k, s in step.items():
            t = time.perf_counter()
            for _ in range(500):
                s.run(None, feeds)
            step_us[k].append((time.perf_counter() - t) / 500 * 1e6)

    med = lambda xs: float(np.median(xs))  # noqa: E731
    out = {
        "checkpoint": card["id"], "a": str(args.a), "b": str(args.b), "onnxruntime": ort.__version__, "levels": levels,
        "prefill": {"seq_len": args.seq_len, "threads": args.threads, "rounds": args.rounds,
                    "a_ms": round(med(pre_ms["a"]), 1), "b_ms": round(med(pre_ms["b"]), 1),
                    "b_speedup": round(med(pre_ms["a"]) / med(pre_ms["b"]), 3)},
        "step": {"threads": args.step_threads, "steps": len(step_us["a"]) * 500,
                 "a_us": round(med(step_us["a"]), 1), "b_us": round(med(step_us["b"]), 1),
                 "b_speedup": round(med(step_us["a"]) / med(step_us["b"]), 3)},
    }
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    main()
