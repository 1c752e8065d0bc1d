"""Where onnxruntime spends its time in a checkpoint's graphs: per-op-type totals from onnxruntime's own profiler.

    python -m ssmbench_trainer.profile_ort --checkpoint models/hyena-mqar-d128 --seq-len 16384 --context 1024 \
        --out results/profiles/hyena-mqar-d128.json

Profiles one prefill of --seq-len tokens and --steps decode steps after a --context-token prefill (both after a
warm-up run), and writes the share of kernel time per op type for each graph, with the settings used. The profiler
slows small steps several-fold, so the step is also timed without it ("wall_ms_per_step": the median of --wall-steps
steps through onnxruntime's Python API, --step-threads intra-op threads): set beside the decode rows of
onnxruntime-node on the same graph, the difference is what the JavaScript binding adds per token. The step's size on
each runtime is recorded too: "nodes", the nodes onnxruntime runs per step after its graph optimisations, and
"eager_ops", the torch operations (calls through torch's function API) PyTorch eager runs for one step of the
reference model.py on the same weights: at d_model 64 a step's cost is mostly a fixed cost per node or op on both
runtimes. docs/speed.md cites these files where a speed target is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch.overrides import TorchFunctionMode


LEVELS = {"disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
          "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}


def session(path: Path, threads: int, profile_dir: str | None, level: str = "all") -> ort.InferenceSession:
    """A CPU session at graph optimisation `level` (LEVELS; the harness's is "all"); profiled into profile_dir
    unless it is None."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = LEVELS[level]
    if profile_dir is not None:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(profile_dir, path.stem)
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def run_steps(stp: ort.InferenceSession, ids: np.ndarray, state: list, n: int):
    """Runs n steps of `stp` from `state`, each fed the states the previous one returned; yields each step's seconds."""
    names = [i.name for i in stp.get_inputs()][1:]
    for t in range(n):
        feeds = {"input_ids": ids[:, t % ids.shape[1] : t % ids.shape[1] + 1], **dict(zip(names, state))}
        start = time.perf_counter()
        state = stp.run(None, feeds)[1:]
        yield time.perf_counter() - start


def wall_step_ms(path: Path, threads: int, ids: np.ndarray, state: list, steps: int) -> float:
    """Median wall time of one step (ms) without the profiler, after 16 warm-up steps."""
    times = list(run_steps(session(path, threads, None), ids, state, steps + 16))[16:]
    return float(np.median(times) * 1000)


class _CountOps(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.n = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.n += 1
        return func(*args, **(kwargs or {}))


@torch.inference_mode()
def eager_ops_per_step(checkpoint: Path, context_ids: np.ndarray) -> int | None:
    """Torch operations one eager step of the reference model runs (after a prefill of context_ids); None for a
    checkpoint without PyTorch weights."""
    from .weights import WEIGHTS, load_checkpoint

    if not (checkpoint / WEIGHTS).exists():
        return None

    model, _ = load_checkpoint(checkpoint)
    ids = torch.from_numpy(context_ids)
    state = model(ids)[1:]
    with _CountOps() as count:
        model(ids[:, -1:], *state)
    return count.n


def op_totals(trace_file: str, skip_runs: int) -> dict:
    """Kernel time per op type (us), over the runs after the first `skip_runs` (the warm-up)."""
    events = json.loads(Path(trace_file).read_text())
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    start = runs[skip_runs]["ts"] if len(runs) > skip_runs else 0
    totals: dict[str, float] = defaultdict(float)
    nodes = 0  # kernel events: one per node run
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] >= start:
            totals[e["args"]["op_name"]] += e["dur"]
            nodes += 1
    timed_runs = runs[skip_runs:]
    return {"runs": len(timed_runs), "run_us": sum(r["dur"] for r in timed_runs), "nodes_per_run": nodes // max(1, len(timed_runs)),
            "ops_us": dict(sorted(totals.items(), key=lambda kv: -kv[1]))}


def share(t: dict, top: int = 8) -> list[dict]:
    kernel = sum(t["ops_us"].values()) or 1.0
    return [{"op": op, "us_per_run": round(us / max(1, t["runs"]), 1), "share": round(us / kernel, 4)} for op, us in list(t["ops_us"].items())[:top]]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--seq-len", type=int, default=16384)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--step-threads", type=int, default=1, help="intra-op threads of the step session (the speed runs' --decode-threads)")
    ap.add_argument("--wall-steps", type=int, default=500)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    card = json.loads((args.checkpoint / "card.json").read_text())
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        pre = session(args.checkpoint / "prefill.onnx", args.threads, tmp)
        ids = rng.integers(0, card["vocab"], (1, args.seq_len), dtype=np.int64)
        for _ in range(2):  # warm-up, then the profiled run
            pre.run(None, {"input_ids": ids})
        prefill = op_totals(pre.end_profiling(), skip_runs=1)

        pre2 = ort.InferenceSession(str(args.checkpoint / "prefill.onnx"), providers=["CPUExecutionProvider"])
        context_ids = rng.integers(0, card["vocab"], (1, args.context), dtype=np.int64)  # its own ids: any --context
        state = pre2.run(None, {"input_ids": context_ids})[1:]
        stp = session(args.checkpoint / "step.onnx", args.step_threads, tmp)
        for _ in run_steps(stp, ids, state, args.steps + 8):  # 8 warm-up steps
            pass
        step = op_totals(stp.end_profiling(), skip_runs=8)
        wall = wall_step_ms(args.checkpoint / "step.onnx", args.step_threads, ids, state, args.wall_steps)
    result = {
        "checkpoint": card["id"], "onnxruntime": ort.__version__, "threads": args.threads, "machine": platform.processor() or platform.machine(),
        "prefill": {"seq_len": args.seq_len, "ms_per_run": round(prefill["run_us"] / max(1, prefill["runs"]) / 1000, 2), "top_ops": share(prefill)},
        "step": {"context": args.context, "threads": args.step_threads, "steps": step["runs"], "ms_per_step": round(step["run_us"] / max(1, step["runs"]) / 1000, 4),
                 "wall_ms_per_step": round(wall, 4), "wall_steps": args.wall_steps, "nodes": step["nodes_per_run"],
                 "eager_ops": eager_ops_per_step(args.checkpoint, context_ids[:, :64]), "top_ops": share(step)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("checkpoint", "prefill", "step")})[:2000])


if __name__ == "__main__":
    main()
