"""Laughing Hyena distillation of a trained Hyena run (arXiv 2310.18780): fit every implicit long filter with a
small modal state-space model, so decoding runs at O(1) cost and state per token. Writes a run folder that the
ordinary exporter takes (`--run OUT`): best.pt, summary.json (config with "modes"), train-log.csv.

    PYTHONPATH=packages/trainer .venv/bin/python packages/model-hyena/distill.py --run runs/hyena-mqar \
        --data datasets/mqar/data/128-8 --out runs/hyena-lh-mqar --modes 16
    python -m ssmbench_trainer.export --model-dir packages/model-hyena --run runs/hyena-lh-mqar --data ... \
        --out models/hyena-lh-mqar --id hyena-lh-mqar
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model as hyena  # noqa: E402
from ssmbench_trainer.common import load_split  # noqa: E402
from ssmbench_trainer.train import evaluate  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, type=Path, help="a Hyena training run (train.py output)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--data", type=Path, help="task split folder: valid accuracy before and after distillation")
    ap.add_argument("--modes", type=int, default=16, help="complex modes per filter channel (state: 2 x modes floats)")
    ap.add_argument("--fit-len", type=int, default=None, help="filter taps fitted (default 4 l_max)")
    ap.add_argument("--steps", type=int, default=300, help="optimisation steps of the poles per layer")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    summary = json.loads((args.run / "summary.json").read_text())
    if summary["config"].get("modes"):
        raise SystemExit(f"{args.run} is already a distilled (modal) model")
    base = hyena.Model(summary["config"], summary["vocab"]).eval()
    base.load_state_dict(torch.load(args.run / "best.pt", map_location="cpu"))
    t0 = time.time()
    lh, errors = hyena.distill(base, modes=args.modes, fit_len=args.fit_len, steps=args.steps)
    record = {"from_run": str(args.run), "modes": args.modes, "fit_len": args.fit_len or 4 * int(base.config["l_max"]),
              "steps": args.steps, "filter_rel_l2_max": errors, "wall_s": round(time.time() - t0, 2)}
    if args.data:
        x, y, _ = load_split(args.data, "valid")
        record["valid_accuracy_before"] = evaluate(base, x, y, 250, "cpu")
        record["valid_accuracy_after"] = evaluate(lh, x, y, 250, "cpu")
        summary["final"] = {**summary["final"], "valid_accuracy": record["valid_accuracy_after"]}
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(lh.state_dict(), args.out / "best.pt")
    shutil.copy(args.run / "train-log.csv", args.out / "train-log.csv")
    summary["config"] = lh.config
    summary["params"] = sum(p.numel() for p in lh.parameters())
    summary["distill"] = record
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
