"""Training on 2 processes under torchrun (DistributedDataParallel, gloo on CPU) gives the one-process result.

A tiny transformer (d_model 16, 2 layers) trains 6 steps at two learning rates on a tiny split whose examples have
different numbers of scored positions, with an odd global batch (7 = 4 + 3 rows): the two processes see different
numbers of rows and of scored positions, which is where a per-process mean (instead of the global batch mean) would
give a different gradient. Once in this process, once with `python -m torch.distributed.run --nproc_per_node 2`;
then a run stopped after one step on 1 process is resumed once on 1 process and once on 2. Per-step loss,
accuracies and the final weights must match. (A resumed run draws its batches from a generator seeded by the step it
resumes at, so it is compared with a resumed run, not with an uninterrupted one.)

Tolerance: the two launches add the same per-position terms in a different order (two half-batch sums, then the
all-reduce, instead of one sum over the batch), so float32 results differ in the last bits. After six AdamW steps the
weights differ by at most 2.5e-7 (measured), under atol 1e-6 + rtol 1e-5; the runs are deterministic, so this does
not flake. A per-process mean instead of the global one is off by up to 1.4e-2 and fails 4 of these 5 tests.
"""
from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from ssmbench_trainer import train
from ssmbench_trainer.common import REPO

torch.set_num_threads(1)  # see test_trainer.py: 2 OpenMP threads on a busy 2-core machine spin against each other

MODEL_DIR = REPO / "packages" / "model-transformer"
CONFIG = {"d_model": 16, "n_layers": 2, "n_heads": 2}
V, T, IGNORE = 24, 12, -100
STEPS, BATCH, SEED, NPROC = 6, 7, 3, 2
LRS = "3e-3,1e-2"

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available() or importlib.util.find_spec("torch.distributed.run") is None,
    reason="torch.distributed with gloo (and torchrun) is not available in this torch build",
)


def write_split(d: Path, split: str, n: int, seed: int) -> None:
    """writeSplit's layout (int16 [n, T] + meta). Target = the previous token, scored at a random subset of positions
    whose size differs from example to example (0 to T), so the batch slices carry unequal numbers of positions."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, V, (n, T))
    y = np.full((n, T), IGNORE)
    for i in range(n):
        pos = rng.choice(np.arange(1, T), int(rng.integers(0, T)), replace=False)
        y[i, pos] = x[i, pos - 1]
    np.save(d / f"{split}.inputs.npy", x.astype(np.int16))
    np.save(d / f"{split}.targets.npy", y.astype(np.int16))
    meta = {"task": "shift", "version": "1.0.0", "params": {"vocab": V, "seq_len": T}, "split": split, "n": n,
            "seed": seed, "vocab": V, "shape": [n, T]}
    (d / f"{split}.meta.json").write_text(json.dumps(meta) + "\n")


def args_for(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--model-dir", str(MODEL_DIR), "--data", str(data), "--out", str(out), "--config", json.dumps(CONFIG),
            "--lrs", LRS, "--steps", str(STEPS), "--batch", str(BATCH), "--seed", str(SEED), "--warmup", "0.3",
            "--eval-every", "1", "--eval-batch", "8", "--threads", "1", *extra]


def single(argv: list[str]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        train.main(argv)
    return buf.getvalue()


def torchrun(argv: list[str]) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "packages" / "trainer"), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(NPROC),
           "-m", "ssmbench_trainer.train", *argv]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, f"torchrun failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p.stdout


def log(out: Path) -> list[dict]:
    with open(out / "train-log.csv", newline="") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def final_weights(out: Path) -> dict[float, dict]:
    """The last step's weights of each learning rate (its checkpoint), by lr."""
    return {torch.load(p)["log"][-1]["lr"]: torch.load(p)["model"] for p in sorted(out.glob("ckpt-lr*.pt"))}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    data = root / "data"
    data.mkdir()
    write_split(data, "train", 48, 0)
    write_split(data, "valid", 16, 1)
    one, two = root / "one", root / "two"
    stdout = {"one": single(args_for(data, one)), "two": torchrun(args_for(data, two))}
    # Stopped at the first evaluation (step 1) on one process, then continued to the end on one and on two.
    resumed_one, resumed_two = root / "resumed-one", root / "resumed-two"
    single(args_for(data, resumed_one, "--target-acc", "0"))
    shutil.copytree(resumed_one, resumed_two)
    stdout["resumed_one"] = single(args_for(data, resumed_one))
    stdout["resumed_two"] = torchrun(args_for(data, resumed_two))
    return {"data": data, "one": one, "two": two, "resumed_one": resumed_one, "resumed_two": resumed_two, "stdout": stdout}


def test_the_batch_slices_carry_unequal_scored_positions(runs):
    """Otherwise a per-process mean would also pass: the global batch draws (as train_one makes them) must split
    into slices with different numbers of scored positions."""
    _, ys, _ = train.load_split(runs["data"], "train")
    gen = torch.Generator().manual_seed(SEED * 1000)
    counts = []
    for _ in range(STEPS):
        idx = torch.randint(len(ys), (BATCH,), generator=gen)
        counts.append([int((ys[part] != IGNORE).sum()) for part in idx.tensor_split(NPROC)])
    assert all(a != b for a, b in counts), counts


def test_two_processes_log_the_same_losses_and_accuracies(runs):
    one, two = log(runs["one"]), log(runs["two"])
    assert [(r["lr"], r["step"]) for r in two] == [(r["lr"], r["step"]) for r in one]
    assert [(r["lr"], r["step"]) for r in one] == [(lr, s) for lr in (3e-3, 1e-2) for s in range(1, STEPS + 1)]
    for a, b in zip(one, two):
        assert b["loss"] == pytest.approx(a["loss"], abs=2e-5)  # logged rounded to 5 decimals
        assert (b["train_acc"], b["valid_acc"]) == (a["train_acc"], a["valid_acc"])
    # the losses move: the comparison is not between two untrained models
    assert one[STEPS - 1]["loss"] != one[0]["loss"]


def test_two_processes_end_with_the_same_weights(runs):
    one, two = final_weights(runs["one"]), final_weights(runs["two"])
    assert sorted(one) == sorted(two) == [3e-3, 1e-2]
    init = {}
    for lr in one:
        assert one[lr].keys() == two[lr].keys()
        for k in one[lr]:
            torch.testing.assert_close(two[lr][k], one[lr][k], rtol=1e-5, atol=1e-6, msg=lambda m: f"lr {lr:g} {k}: {m}")
        init[lr] = one[lr]
    # ...and training changed them (6 steps at lr 1e-2 move the embedding by far more than the tolerance)
    assert (init[1e-2]["embedding.weight"] - init[3e-3]["embedding.weight"]).abs().max() > 1e-3
    best_one, best_two = torch.load(runs["one"] / "best.pt"), torch.load(runs["two"] / "best.pt")
    for k in best_one:
        torch.testing.assert_close(best_two[k], best_one[k], rtol=1e-5, atol=1e-6)


def test_only_rank_0_writes_and_the_summary_names_the_processes(runs):
    one = json.loads((runs["one"] / "summary.json").read_text())
    two = json.loads((runs["two"] / "summary.json").read_text())
    assert two["device"] == "cpu x2 (torchrun)" and one["device"] == "cpu"
    assert (two["lr"], two["final"], two["steps"]) == (one["lr"], one["final"], one["steps"])
    assert [{k: r[k] for k in ("lr", "steps", "metric")} for r in two["sweep"]] == \
        [{k: r[k] for k in ("lr", "steps", "metric")} for r in one["sweep"]]
    # each evaluation printed once (by rank 0), not once per process
    rows = [json.loads(line) for line in runs["stdout"]["two"].splitlines() if line.startswith("{") and '"step"' in line]
    assert len(rows) == 2 * STEPS
    assert not list(runs["two"].glob("*.tmp"))


def test_a_one_process_run_resumes_on_two(runs):
    assert runs["stdout"]["resumed_one"].count("resumed at step 1") == 2
    assert runs["stdout"]["resumed_two"].count("resumed at step 1") == 2  # once per learning rate, by rank 0 only
    one, two = log(runs["resumed_one"]), log(runs["resumed_two"])
    assert [(r["lr"], r["step"]) for r in two] == [(r["lr"], r["step"]) for r in one]
    assert [r["step"] for r in one] == [s for _ in range(2) for s in range(1, STEPS + 1)]  # step 1 kept from the first call
    for a, b in zip(one, two):
        assert b["loss"] == pytest.approx(a["loss"], abs=2e-5)
        assert (b["train_acc"], b["valid_acc"]) == (a["train_acc"], a["valid_acc"])
    one_w, two_w = final_weights(runs["resumed_one"]), final_weights(runs["resumed_two"])
    assert sorted(one_w) == sorted(two_w) == [3e-3, 1e-2]
    for lr in one_w:
        for k in one_w[lr]:
            torch.testing.assert_close(two_w[lr][k], one_w[lr][k], rtol=1e-5, atol=1e-6)
