"""Trainer and exporter: schedule, loss, parameter groups, then a tiny end-to-end run on CPU.

The end-to-end part trains the Mamba reference (packages/model-mamba) for a few steps on a tiny MQAR split written
the way @ssmbench/tasks writeSplit writes it, stops and resumes, trains a second stage from the first, exports both
to ONNX once (module-scoped: the export is the slow part) and checks the card, the files and onnxruntime.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssmbench_trainer import export, train
from ssmbench_trainer.common import REPO, build_model, count_params, load_family, load_split

# One intra-op thread: on a busy 2-core machine, 2 OpenMP threads spin against each other and a step of this tiny
# model takes over a second instead of a few milliseconds.
torch.set_num_threads(1)

MODEL_DIR = REPO / "packages" / "model-mamba"
V, T, PAIRS, POWER_A = 32, 16, 2, 0.01
CONFIG = {"d_model": 16}
LRS = (1e-3, 3e-3)
IGNORE = -100


def write_split(d: Path, split: str, n: int, seed: int) -> None:
    """A tiny MQAR split in writeSplit's layout (packages/tasks/src/dataset.ts): int16 [n, T] inputs and targets."""
    rng = np.random.default_rng(seed)
    space = (T - 2 * PAIRS) // 2
    p = (np.arange(space) + 1.0) ** (POWER_A - 1)
    p /= p.sum()
    x = rng.integers(0, V, (n, T))
    y = np.full((n, T), IGNORE)
    for i in range(n):
        keys = rng.choice(np.arange(1, V // 2), PAIRS, replace=False)
        values = rng.choice(np.arange(V // 2, V), PAIRS, replace=False)
        x[i, 0 : 2 * PAIRS : 2], x[i, 1 : 2 * PAIRS : 2] = keys, values
        q = 2 * PAIRS + 2 * rng.choice(space, PAIRS, replace=False, p=p)
        x[i, q], y[i, q] = keys, values
    np.save(d / f"{split}.inputs.npy", x.astype(np.int16))
    np.save(d / f"{split}.targets.npy", y.astype(np.int16))
    params = {"vocab": V, "seq_len": T, "num_kv_pairs": PAIRS, "power_a": POWER_A}
    meta = {"task": "mqar", "version": "1.0.0", "params": params, "split": split, "n": n, "seed": seed, "vocab": V, "shape": [n, T]}
    (d / f"{split}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def run_main(main, argv: list[str]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(argv)
    return buf.getvalue()


def eval_rows(stdout: str) -> list[dict]:
    """The evaluation rows train.py prints as JSON lines (the final summary line has no "step")."""
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [r for r in rows if "step" in r]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def family():
    return load_family(MODEL_DIR)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    write_split(d, "train", 64, 0)
    write_split(d, "valid", 8, 1)
    return d


def train_args(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return ["--model-dir", str(MODEL_DIR), "--data", str(data_dir), "--out", str(out), "--config", json.dumps(CONFIG),
            "--lrs", ",".join(f"{lr:g}" for lr in LRS), "--steps", "6", "--batch", "8", "--eval-every", "3",
            "--eval-batch", "4", "--threads", "1", *extra]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("runs")
    r1, r2 = root / "stage1", root / "stage2"
    logs = {}
    # Interrupted: --target-acc 0 stops each learning rate at its first evaluation (step 3). The target is not part
    # of the run's checkpoint key, so the next call with the same arguments resumes that checkpoint.
    logs["interrupted"] = run_main(train.main, train_args(data_dir, r1, "--target-acc", "0"))
    logs["interrupted_summary"] = json.loads((r1 / "summary.json").read_text())
    logs["resumed"] = run_main(train.main, train_args(data_dir, r1))
    logs["resumed_log"] = read_csv(r1 / "train-log.csv")
    logs["again"] = run_main(train.main, train_args(data_dir, r1))
    # Stage 2 starts from stage 1's weights with a fresh optimizer, as the README's two-stage recipe does.
    logs["stage2"] = run_main(train.main, ["--model-dir", str(MODEL_DIR), "--data", str(data_dir), "--out", str(r2),
                                           "--config", json.dumps(CONFIG), "--lrs", "3e-3", "--steps", "6", "--batch", "8",
                                           "--eval-every", "3", "--threads", "1", "--init", str(r1 / "best.pt")])
    return {"stage1": r1, "stage2": r2, "root": root, "logs": logs}


@pytest.fixture(scope="module")
def exported(runs, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "mamba-mqar"
    log = run_main(export.main, ["--model-dir", str(MODEL_DIR), "--run", str(runs["stage1"]), "--run", str(runs["stage2"]),
                                 "--data", str(data_dir), "--out", str(out)])
    return {"out": out, "log": log, "card": json.loads((out / "card.json").read_text())}


@pytest.fixture(scope="module")
def trained(family, runs):
    summary = json.loads((runs["stage2"] / "summary.json").read_text())
    model = build_model(family, summary["config"], summary["vocab"]).eval()
    model.load_state_dict(torch.load(runs["stage2"] / "best.pt", map_location="cpu"))
    return model


# --- schedule, loss, parameter groups ---------------------------------------------------------------------------

def test_lr_at_warms_up_linearly():
    peak, warmup, total = 3e-3, 10, 100
    lrs = [train.lr_at(s, total, peak, warmup) for s in range(warmup)]
    assert lrs == pytest.approx([peak * (s + 1) / warmup for s in range(warmup)])
    assert lrs[0] == pytest.approx(peak / warmup)
    assert lrs[-1] == pytest.approx(peak)
    assert all(b > a for a, b in zip(lrs, lrs[1:]))


def test_lr_at_decays_by_cosine_to_zero_at_the_end():
    peak, warmup, total = 1.0, 10, 110
    assert train.lr_at(warmup, total, peak, warmup) == pytest.approx(peak)
    assert train.lr_at(60, total, peak, warmup) == pytest.approx(0.5)  # half way through the decay
    assert train.lr_at(35, total, peak, warmup) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert train.lr_at(total, total, peak, warmup) == pytest.approx(0.0, abs=1e-12)
    assert train.lr_at(total + 50, total, peak, warmup) == pytest.approx(0.0, abs=1e-12)  # clamped past the end
    decay = [train.lr_at(s, total, peak, warmup) for s in range(warmup, total + 1)]
    assert all(b < a for a, b in zip(decay, decay[1:]))
    assert 0 < train.lr_at(total - 1, total, peak, warmup) < 1e-3  # the last step taken still learns a little
    # no warm-up to speak of (warmup = 1, as train_one uses for tiny runs)
    assert train.lr_at(0, 6, 1.0, 1) == pytest.approx(1.0)


def test_scored_loss_counts_only_positions_with_a_target(family):
    torch.manual_seed(0)
    model = build_model(family, CONFIG, V).eval()
    ids = torch.randint(0, V, (3, T))
    targets = torch.full((3, T), IGNORE)
    scored = [(0, 4), (0, 9), (1, 15), (2, 0), (2, 6)]
    for b, t in scored:
        targets[b, t] = int(torch.randint(0, V, ()))
    loss, correct, n = train.scored_loss(model, ids, targets)
    assert n == len(scored)

    with torch.no_grad():
        logits = model(ids)[0]  # full-vocabulary logits at every position
    rows = torch.stack([logits[b, t] for b, t in scored])
    ys = torch.tensor([int(targets[b, t]) for b, t in scored])
    manual = -torch.log_softmax(rows, -1)[torch.arange(len(scored)), ys].mean()
    assert loss.item() == pytest.approx(manual.item(), rel=1e-5)
    assert loss.item() == pytest.approx(F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=IGNORE).item(), rel=1e-5)
    assert correct == int((rows.argmax(-1) == ys).sum())

    # Forcing the answers at the scored positions makes them all correct; what sits at ignored positions is irrelevant.
    forced = targets.clone()
    for b, t in scored:
        forced[b, t] = int(logits[b, t].argmax())
    assert train.scored_loss(model, ids, forced)[1:] == (len(scored), len(scored))


def test_scored_loss_gradient_only_flows_from_scored_positions():
    """The head sees only the gathered scored positions: unscored hidden states get exactly zero gradient."""
    torch.manual_seed(1)
    h = torch.randn(2, 6, 4, requires_grad=True)
    head = torch.nn.Linear(4, 7, bias=False)

    class Stub:
        def hidden(self, ids):
            return h

        def head(self, x):
            return head(x)

    targets = torch.full((2, 6), IGNORE)
    targets[0, 2], targets[1, 5] = 3, 6
    loss, _, n = train.scored_loss(Stub(), torch.zeros(2, 6, dtype=torch.long), targets)
    loss.backward()
    assert n == 2
    nonzero = (h.grad.abs().sum(-1) > 0).nonzero().tolist()
    assert nonzero == [[0, 2], [1, 5]]
    expected = F.cross_entropy(head(torch.stack([h[0, 2], h[1, 5]])), torch.tensor([3, 6]))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_param_groups_decay_matrices_only(family):
    model = build_model(family, CONFIG, V)
    decay, rest = train.param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and rest["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    kept = {names[id(p)] for p in rest["params"]}
    assert decayed.isdisjoint(kept)
    assert decayed | kept == set(names.values())  # every parameter exactly once
    assert len(decay["params"]) + len(rest["params"]) == len(list(model.parameters()))
    for n, p in model.named_parameters():
        if n in decayed:
            assert p.ndim >= 2, n
    # All vectors stay undecayed: norms, biases, D, and also A_log (2-D, but a parameter of the dynamics).
    assert all(model.get_parameter(n).ndim < 2 or n.endswith("A_log") for n in kept)
    assert {"embedding.weight", "layers.0.0.fn.in_proj.weight", "layers.0.0.fn.conv1d.weight",
            "layers.0.0.fn.x_proj.weight", "layers.0.0.fn.dt_proj.weight", "layers.1.0.fn.out_proj.weight"} <= decayed
    assert {"norm_f.weight", "layers.0.0.norm.weight", "layers.0.0.fn.conv1d.bias", "layers.0.0.fn.dt_proj.bias",
            "layers.0.0.fn.D", "layers.0.0.fn.A_log", "layers.1.0.fn.A_log"} <= kept

    # Generic modules: a Linear's weight decays, its bias and a LayerNorm do not; _no_weight_decay is honoured.
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 2, bias=False))
    net[2].weight._no_weight_decay = True
    d, r = train.param_groups(net, 0.5)
    assert [p is net[0].weight for p in d["params"]] == [True]
    assert {id(p) for p in r["params"]} == {id(net[0].bias), id(net[1].weight), id(net[1].bias), id(net[2].weight)}


def test_load_split_reads_the_tasks_layout(data_dir):
    x, y, meta = load_split(data_dir, "train")
    assert x.dtype == torch.int64 and y.dtype == torch.int64
    assert tuple(x.shape) == (64, T) and tuple(y.shape) == (64, T)
    assert meta["vocab"] == V and meta["task"] == "mqar" and meta["shape"] == [64, T]
    assert int((y != IGNORE).sum()) == 64 * PAIRS
    assert int(x.min()) >= 0 and int(x.max()) < V


# --- end to end: train, resume, second stage ----------------------------------------------------------------------

def test_train_writes_summary_log_and_best_checkpoint(runs, family, data_dir):
    r1 = runs["stage1"]
    assert {"summary.json", "train-log.csv", "best.pt"} <= {p.name for p in r1.iterdir()}
    s = json.loads((r1 / "summary.json").read_text())
    assert s["family"] == "mamba"
    assert s["config"] == {**family.DEFAULT_CONFIG, **CONFIG}
    assert s["vocab"] == V
    assert s["task"] == {"id": "mqar", "version": "1.0.0", "params": {"vocab": V, "seq_len": T, "num_kv_pairs": PAIRS, "power_a": POWER_A}}
    assert (s["seed"], s["batch"], s["steps"], s["device"]) == (0, 8, 6, "cpu")
    assert [r["lr"] for r in s["sweep"]] == list(LRS)
    assert all(r["steps"] == 6 and 0 <= r["metric"] <= 1 for r in s["sweep"])
    best = max(s["sweep"], key=lambda r: r["metric"])
    assert s["lr"] == best["lr"] and s["final"]["valid_accuracy"] == best["metric"]

    model = build_model(family, s["config"], s["vocab"])
    assert s["params"] == count_params(model)
    model.load_state_dict(torch.load(r1 / "best.pt", map_location="cpu"))
    # best.pt is the weights that scored the reported validation accuracy
    va_x, va_y, _ = load_split(data_dir, "valid")
    assert train.evaluate(model, va_x, va_y, 4, torch.device("cpu")) == pytest.approx(s["final"]["valid_accuracy"])

    rows = read_csv(r1 / "train-log.csv")
    assert list(rows[0]) == ["lr", "step", "loss", "train_acc", "valid_acc", "wall_s", "valid_loss"]
    assert [(float(r["lr"]), int(r["step"])) for r in rows] == [(lr, st) for lr in LRS for st in (3, 6)]
    for r in rows:
        assert math.isfinite(float(r["loss"])) and 0 <= float(r["valid_acc"]) <= 1 and 0 <= float(r["train_acc"]) <= 1
    best_rows = [float(r["valid_acc"]) for r in rows if float(r["lr"]) == s["lr"]]
    assert max(best_rows) == pytest.approx(s["final"]["valid_accuracy"], abs=1e-5)


def test_validate_is_accuracy_and_mean_cross_entropy_over_scored_positions(family):
    torch.manual_seed(0)
    model = build_model(family, CONFIG, V).eval()
    x = torch.randint(0, V, (3, T))
    y = torch.randint(0, V, (3, T))
    y[:, ::2] = IGNORE
    acc, loss = train.validate(model, x, y, 2, torch.device("cpu"))
    with torch.no_grad():
        logits = model.head(model.hidden(x))
    mask = y != IGNORE
    assert loss == pytest.approx(F.cross_entropy(logits[mask], y[mask]).item(), rel=1e-5)
    assert acc == pytest.approx((logits[mask].argmax(-1) == y[mask]).float().mean().item())


def test_language_modelling_keeps_the_lowest_validation_loss(tmp_path):
    """A split written with metric bits_per_byte (byte-lm): the sweep's metric is valid bits per token, lowest kept."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 32), ("valid", 6)):
        text = rng.integers(0, 8, (n, T + 1))  # 8 byte values, every position scored with the next one
        np.save(tmp_path / f"{split}.inputs.npy", text[:, :-1].astype(np.int16))
        np.save(tmp_path / f"{split}.targets.npy", text[:, 1:].astype(np.int16))
        meta = {"task": "byte-lm", "version": "1.0.0", "metric": "bits_per_byte", "params": {"seq_len": T}, "split": split,
                "n": n, "seed": 0, "vocab": V, "shape": [n, T]}
        (tmp_path / f"{split}.meta.json").write_text(json.dumps(meta) + "\n")
    out = tmp_path / "run"
    run_main(train.main, ["--model-dir", str(MODEL_DIR), "--data", str(tmp_path), "--out", str(out), "--config", json.dumps(CONFIG),
                          "--lrs", "1e-3,1e-2", "--steps", "4", "--batch", "8", "--eval-every", "2", "--threads", "1"])
    s = json.loads((out / "summary.json").read_text())
    assert s["selection"] == "lowest valid bits per scored token"
    best = min(s["sweep"], key=lambda r: r["metric"])
    assert s["lr"] == best["lr"] and s["final"] == {"valid_bits_per_token": best["metric"]}
    rows = read_csv(out / "train-log.csv")
    assert min(float(r["valid_loss"]) for r in rows if float(r["lr"]) == s["lr"]) / math.log(2) == pytest.approx(best["metric"], abs=1e-4)
    model = build_model(load_family(MODEL_DIR), s["config"], s["vocab"])
    model.load_state_dict(torch.load(out / "best.pt", map_location="cpu"))
    va_x, va_y, _ = load_split(tmp_path, "valid")
    assert train.validate(model, va_x, va_y, 4, torch.device("cpu"))[1] / math.log(2) == pytest.approx(best["metric"], rel=1e-5)


def test_train_resumes_a_stopped_run(runs):
    logs, r1 = runs["logs"], runs["stage1"]
    # First call stopped each learning rate at step 3 and saved a checkpoint keyed by the run's arguments.
    assert "resumed" not in logs["interrupted"]
    assert [r["steps"] for r in logs["interrupted_summary"]["sweep"]] == [3, 3]
    ckpts = sorted(p.name for p in r1.glob("ckpt-*.pt"))
    assert [re.fullmatch(r"ckpt-lr([0-9.e-]+)-[0-9a-f]{10}\.pt", n).group(1) for n in ckpts] == ["0.001", "0.003"]
    # Second call, same arguments: continues from step 3 to 6 (not from 0), keeping the earlier log rows.
    for lr in LRS:
        assert f"[lr {lr:g}] resumed at step 3" in logs["resumed"]
    assert [r["step"] for r in eval_rows(logs["resumed"])] == [6, 6]
    assert [int(r["step"]) for r in logs["resumed_log"]] == [3, 6, 3, 6]
    # Third call: nothing left to do; the same summary and log come out again.
    for lr in LRS:
        assert f"[lr {lr:g}] resumed at step 6" in logs["again"]
    assert eval_rows(logs["again"]) == []
    assert [(r["lr"], r["step"], r["loss"], r["valid_acc"]) for r in read_csv(r1 / "train-log.csv")] == \
           [(r["lr"], r["step"], r["loss"], r["valid_acc"]) for r in logs["resumed_log"]]


def test_training_is_deterministic_and_no_resume_starts_over(runs, data_dir):
    copy = runs["root"] / "stage1-copy"
    shutil.copytree(runs["stage1"], copy)
    log = run_main(train.main, train_args(data_dir, copy, "--target-acc", "0", "--no-resume"))
    assert "resumed" not in log
    fresh = [(r["lr"], r["step"], r["loss"], r["train_acc"], r["valid_acc"]) for r in read_csv(copy / "train-log.csv")]
    first = [(r["lr"], r["step"], r["loss"], r["train_acc"], r["valid_acc"]) for r in runs["logs"]["resumed_log"] if r["step"] == "3"]
    assert fresh == first  # same seed and data: the same first 3 steps, to the logged digits


def test_second_stage_starts_from_the_first(runs, family):
    s2 = json.loads((runs["stage2"] / "summary.json").read_text())
    assert s2["steps"] == 6 and s2["lr"] == 3e-3
    assert "resumed" not in runs["logs"]["stage2"]
    # --init is part of the run key: stage 2's checkpoint is its own
    assert len(list(runs["stage2"].glob("ckpt-*.pt"))) == 1


# --- export -------------------------------------------------------------------------------------------------------

def test_export_writes_files_with_matching_hashes(exported):
    out, card = exported["out"], exported["card"]
    assert [f["path"] for f in card["files"]] == ["prefill.onnx", "step.onnx", "weights.safetensors", "golden.json", "train-log.csv", "generate.onnx"]
    assert card["generate"]["checked_tokens"] == 96  # greedy tokens of generate.onnx equal to stepping step.onnx
    for f in card["files"]:
        data = (out / f["path"]).read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
        assert re.fullmatch(r"[0-9a-f]{64}", f["sha256"])
        assert f["bytes"] == len(data) > 0
    assert sorted(p.name for p in out.iterdir()) == ["card.json", "generate.onnx", "golden.json", "prefill.onnx", "step.onnx", "train-log.csv", "weights.safetensors"]


def test_exported_weights_reload_the_reference_model(exported, trained):
    from ssmbench_trainer.weights import golden_error, load_checkpoint
    model, card = load_checkpoint(exported["out"])
    assert card["id"] == exported["card"]["id"]
    for k, v in trained.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    assert golden_error(model, json.loads((exported["out"] / "golden.json").read_text())) < 1e-5
    # A replaced weights file is refused by its sha256.
    (exported["out"] / "weights.safetensors").write_bytes(b"not weights")
    try:
        with pytest.raises(SystemExit, match="sha256"):
            load_checkpoint(exported["out"])
    finally:
        from ssmbench_trainer.weights import save_weights
        save_weights(trained, exported["out"])


def test_export_card_describes_the_checkpoint(exported, runs, trained, family):
    card = exported["card"]
    s1 = json.loads((runs["stage1"] / "summary.json").read_text())
    s2 = json.loads((runs["stage2"] / "summary.json").read_text())
    assert card["id"] == "mamba-mqar" and card["family"] == "mamba" and card["variant"] == family.VARIANT
    assert card["paper"] == family.PAPER
    assert card["seedEntries"] and all(isinstance(e, str) for e in card["seedEntries"])
    assert card["task"] == s2["task"] and card["vocab"] == V and card["config"] == s2["config"]
    assert card["params"] == count_params(trained)
    assert card["states"] == trained.state_spec()
    assert [st["name"] for st in card["states"]] == ["conv.0", "ssm.0", "conv.1", "ssm.1"]
    d_inner = 2 * CONFIG["d_model"]
    assert card["stateBytesPerSequence"] == 2 * 4 * (d_inner * 3 + d_inner * 16)
    assert "stateBytesAt" not in card  # fixed-size state: no growing cache
    assert card["export"]["opset"] == getattr(family, "ONNX_OPSET", export.DEFAULT_OPSET)
    assert card["export"]["torch"] == torch.__version__
    tr = card["training"]
    assert tr["steps"] == s1["steps"] + s2["steps"] == 12 and tr["stages"] == 2
    assert tr["lr"] == s2["lr"] and tr["final"] == s2["final"] and tr["batch"] == 8 and tr["device"] == "cpu"
    assert [(r["stage"], r["lr"]) for r in tr["sweep"]] == [(1, 1e-3), (1, 3e-3), (2, 3e-3)]
    # parity gate: ORT prefill vs PyTorch and ORT steps vs ORT prefill
    parity = card["parity"]
    assert set(parity) == {"prefill_vs_torch", "step_vs_prefill", "torch_float32_vs_float64", "tolerance", "reference"}
    assert parity["reference"] == "PyTorch float32" and card["export"]["precision"] == "float32"
    assert parity["tolerance"] == 1e-4 and 0 <= parity["prefill_vs_torch"] < 1e-4 and 0 <= parity["step_vs_prefill"] < 1e-4
    assert 0 <= parity["torch_float32_vs_float64"] < 1e-4  # the float32 round-off floor, for scale
    assert json.loads(exported["log"].splitlines()[0])["parity"] == {k: v for k, v in parity.items() if k not in ("tolerance", "reference")}
    assert card["maxSeqLen"] == export.MAX_SEQ
    # the combined log keeps both stages
    stages = [r["stage"] for r in read_csv(exported["out"] / "train-log.csv")]
    assert stages == ["1"] * 4 + ["2"] * 2


def _check(schema: dict, value, path: str = "$") -> list[str]:
    """A small JSON Schema (2020-12) subset check: the keywords zod's toJSONSchema emits for ModelCard."""
    errs = []
    types = schema.get("type")
    if types is not None:
        ok = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list), "string": lambda v: isinstance(v, str),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "boolean": lambda v: isinstance(v, bool)}
        if not any(ok[t](value) for t in ([types] if isinstance(types, str) else types)):
            return [f"{path}: {value!r} is not {types}"]
    if "anyOf" in schema and all(_check(s, value, path) for s in schema["anyOf"]):
        errs.append(f"{path}: matches none of anyOf")
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{path}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errs.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if "minLength" in schema and len(value) < schema["minLength"]:
        errs.append(f"{path}: too short")
    if "minimum" in schema and value < schema["minimum"]:
        errs.append(f"{path}: below minimum")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        errs.append(f"{path}: not above exclusiveMinimum")
    if "minItems" in schema and len(value) < schema["minItems"]:
        errs.append(f"{path}: too few items")
    if isinstance(value, dict):
        errs += [f"{path}.{k}: missing" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            sub = schema.get("properties", {}).get(k, schema.get("additionalProperties"))
            if isinstance(sub, dict):
                errs += _check(sub, v, f"{path}.{k}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            errs += _check(schema["items"], v, f"{path}[{i}]")
    return errs


def test_export_card_satisfies_the_model_card_schema(exported):
    """The card written in Python meets the TypeScript contract (packages/core/schemas/ModelCard.schema.json)."""
    schema = json.loads((REPO / "packages/core/schemas/ModelCard.schema.json").read_text())
    assert _check(schema, exported["card"]) == []
    broken = json.loads(json.dumps(exported["card"]))
    broken["files"][0]["sha256"] = "ABC"
    broken["states"][0]["dtype"] = "bfloat16"
    del broken["parity"]
    assert len(_check(schema, broken)) == 3


def test_golden_matches_pytorch(exported, trained, data_dir):
    g = json.loads((exported["out"] / "golden.json").read_text())
    va_x, _, _ = load_split(data_dir, "valid")
    assert g["input_ids"] == va_x[2:4, :32].tolist()
    with torch.no_grad():
        logits = trained(torch.tensor(g["input_ids"]))[0].numpy()
    assert g["positions"] == [0, T // 2, T - 1]
    assert g["vocab_index"] == list(range(V))  # all of a 32-token vocabulary
    want = logits[:, g["positions"]][:, :, g["vocab_index"]]
    np.testing.assert_allclose(np.array(g["logits"]), want, atol=2e-6)
    assert g["argmax"] == logits.argmax(-1).tolist()


def test_onnx_prefill_has_dynamic_batch_and_seq(exported, trained):
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(exported["out"] / "prefill.onnx"), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == "input_ids" and inp.shape == ["batch", "seq"]
    assert [o.name for o in sess.get_outputs()] == ["logits", "present_conv.0", "present_ssm.0", "present_conv.1", "present_ssm.1"]
    rng = np.random.default_rng(0)
    for batch, seq in ((1, 5), (3, 23), (2, 70)):  # 70 > the export example's 40 and spans 3 chunks of 32
        ids = rng.integers(0, V, (batch, seq)).astype(np.int64)
        outs = sess.run(None, {"input_ids": ids})
        with torch.no_grad():
            ref = trained(torch.from_numpy(ids))
        assert outs[0].shape == (batch, seq, V)
        for o, r in zip(outs, ref):
            assert o.shape == tuple(r.shape)
            np.testing.assert_allclose(o, r.numpy(), atol=1e-4)


def test_onnx_step_continues_from_prefill_state(exported):
    ort = pytest.importorskip("onnxruntime")
    out = exported["out"]
    pre = ort.InferenceSession(str(out / "prefill.onnx"), providers=["CPUExecutionProvider"])
    step = ort.InferenceSession(str(out / "step.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in step.get_inputs()]
    assert names == ["input_ids", "past_conv.0", "past_ssm.0", "past_conv.1", "past_ssm.1"]
    ids = np.random.default_rng(1).integers(0, V, (2, 12)).astype(np.int64)
    full = pre.run(None, {"input_ids": ids})
    state = pre.run(None, {"input_ids": ids[:, :7]})[1:]
    for t in range(7, 12):
        logits, *state = step.run(None, {"input_ids": ids[:, t : t + 1], **dict(zip(names[1:], state))})
        np.testing.assert_allclose(logits[:, 0], full[0][:, t], atol=1e-4)
    for a, b in zip(state, full[1:]):
        np.testing.assert_allclose(a, b, atol=1e-4)
