"""Export a trained model to the ssmbench ONNX contract and write its checkpoint folder.

    models/<id>/ prefill.onnx  step.onnx  generate.onnx  weights.safetensors  golden.json  train-log.csv  card.json

prefill.onnx: input_ids [batch, seq] -> logits [batch, seq, vocab] + present_<state> (dynamic batch and seq);
step.onnx:    input_ids [batch, 1] + past_<state> -> logits [batch, 1, vocab] + present_<state>.
generate.onnx: step.onnx in an ONNX Loop, greedy decoding of max_new_tokens tokens in one call (generate.py).
Both are checked here with onnxruntime: prefill against PyTorch, and token-by-token steps against prefill; the
largest differences go into the card, and export fails if either exceeds --tolerance.

    python -m ssmbench_trainer.export --model-dir packages/model-mamba --run runs/stage1 --run runs/stage2 \
        --data datasets/mqar/data/128-8 --out models/mamba-mqar
    python -m ssmbench_trainer.export --from-checkpoint models/retnet-mqar-d128 --precision float64 \
        --data datasets/mqar/data/128-8 --out models/retnet-mqar-d128

--precision float64 computes inside both graphs in double (logits stay float32, states are float64 and the card says
so per state): for a model whose float32 round-off alone passes 1e-4, the parity is then measured against PyTorch in
float64 and reaches ~1e-6. --from-checkpoint re-exports a committed checkpoint
from its weights.safetensors, keeping its card's training record.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import hashlib
import json
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from . import numerics
from . import ortops
from .common import REPO, build_model, count_params, load_family, load_split
from .weights import WEIGHTS, family_dir, load_checkpoint, save_weights

MAX_SEQ = 1 << 20  # longest prefill the exported graph is declared for (the card's maxSeqLen)
DEFAULT_OPSET = 18  # a family may set ONNX_OPSET in model.py (e.g. 20 for the DFT op of FFT convolutions)


class Prefill(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids)


class Step(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, *past):
        return self.model(input_ids, *past)


class Float64Inside(torch.nn.Module):
    """The model computed in float64, its logits narrowed to float32 (the contract's dtype) and its states kept in
    float64 (the card says so per state). Rounding the state to float32 between steps would put the float32 error
    back: on retnet-mqar-d128 it brought step vs prefill to 9.9e-5, against 3e-8 with float64 states."""

    def __init__(self, model):
        super().__init__()
        self.model = copy.deepcopy(model).double()

    def forward(self, input_ids, *past):
        logits, *present = self.model(input_ids, *past)
        return (logits.float(), *present)

    def init_state(self, batch: int):
        return [p.double() for p in self.model.init_state(batch)]

    def state_spec(self):
        return [{**s, "dtype": "float64"} for s in self.model.state_spec()]


def _rename_dims(model: onnx.ModelProto, names: dict[str, str]) -> None:
    """Give the exporter's symbolic dims (s0, s17, ...) the contract's names (batch, seq)."""
    for vi in [*model.graph.input, *model.graph.output]:
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param in names:
                d.dim_param = names[d.dim_param]


def export_graph(module, args, dynamic_shapes, input_names, output_names, path: Path, dim_names: dict, opset: int) -> None:
    exported = torch.export.export(module, args, dynamic_shapes=dynamic_shapes, prefer_deferred_runtime_asserts_over_guards=True)
    onnx_program = torch.onnx.export(exported, args, input_names=input_names, output_names=output_names, dynamo=True,
                                     opset_version=opset, external_data=False, verbose=False,
                                     custom_translation_table=ortops.TRANSLATIONS)
    onnx_program.optimize()
    model = onnx_program.model_proto
    # The exporter's intermediate shapes can be wrong for dynamic lengths; onnxruntime infers its own (export-notes).
    del model.graph.value_info[:]
    symbols = {}
    for inp, a in zip(model.graph.input, args):
        for axis, d in enumerate(inp.type.tensor_type.shape.dim):
            if d.dim_param and d.dim_param not in symbols:
                symbols[d.dim_param] = dim_names.get((inp.name, axis), d.dim_param)
    _rename_dims(model, symbols)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def contrib_ops(*paths: Path) -> list[str]:
    """"domain.OpType" of every node outside the standard ONNX domain in the graphs, sorted (e.g. onnxruntime's
    com.microsoft.LinearAttention): a runtime other than onnxruntime cannot load such a graph."""
    return sorted({f"{n.domain}.{n.op_type}" for p in paths for n in onnx.load(p).graph.node if n.domain not in ("", "ai.onnx")})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ort_session(path: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def state_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| of two states, relative to the state's own scale where it exceeds 1: some states are plain sums
    that grow with the length (linear attention's kv and z), so float32 round-off on them grows too, while the
    logits read from them keep their 1e-4 (which check_parity holds absolutely)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max()) if b.size else 1.0))


def check_parity(model, prefill_path: Path, step_path: Path, ids: np.ndarray, reference=None) -> dict:
    """max |ORT prefill - reference| over logits (absolute) and final states (state_diff) (reference: model itself,
    or its float64 copy for float64 graphs); the same between ORT steps and ORT prefill."""
    pre, stp = ort_session(prefill_path), ort_session(step_path)
    ort_out = pre.run(None, {"input_ids": ids})
    with torch.no_grad():
        torch_out = [t.double().numpy() for t in (model if reference is None else reference)(torch.from_numpy(ids))]
    prefill_vs_torch = max(float(np.abs(ort_out[0].astype(np.float64) - torch_out[0]).max()),
                           *(state_diff(o, t) for o, t in zip(ort_out[1:], torch_out[1:])))
    past = [p.numpy() for p in model.init_state(ids.shape[0])]  # zero state (growing caches start empty), the graph's dtype
    names = [i.name for i in stp.get_inputs()]
    step_logits = []
    for t in range(ids.shape[1]):
        out = stp.run(None, {"input_ids": ids[:, t : t + 1], **dict(zip(names[1:], past))})
        step_logits.append(out[0])
        past = out[1:]
    step_vs_prefill = float(np.abs(np.concatenate(step_logits, 1) - ort_out[0]).max())
    state_vs_prefill = max((state_diff(a, b) for a, b in zip(past, ort_out[1:])), default=0.0)
    return {"prefill_vs_torch": prefill_vs_torch, "step_vs_prefill": max(step_vs_prefill, state_vs_prefill)}


def float64_floor(model, wide, ids: np.ndarray) -> float:
    """max |torch float32 - torch float64| over the logits (wide: a float64 copy of model): the round-off floor any
    float32 graph works against."""
    x = torch.from_numpy(ids.astype(np.int64))
    with torch.no_grad():
        return float((model(x)[0].double() - wide(x)[0]).abs().max())


def golden(model, ids: np.ndarray, vocab: int, seed: int, tolerance: float) -> dict:
    """A few inputs with PyTorch logits at chosen positions and vocabulary entries, plus the argmax everywhere."""
    with torch.no_grad():
        logits = model(torch.from_numpy(ids))[0].numpy()
    rng = np.random.default_rng(seed)
    T = ids.shape[1]
    positions = sorted({0, T // 2, T - 1})
    vocab_index = sorted(set(rng.choice(vocab, size=min(vocab, 256), replace=False).tolist()) | set(logits.argmax(-1).ravel().tolist()))
    return {
        "input_ids": ids.tolist(),
        "positions": positions,
        "vocab_index": vocab_index,
        "logits": np.round(logits[:, positions][:, :, vocab_index].astype(np.float64), 6).tolist(),
        "argmax": logits.argmax(-1).tolist(),
        "tolerance": tolerance,
    }


def read_runs(run_dirs: list[Path]) -> tuple[list[dict], list[dict]]:
    summaries, log = [], []
    for stage, d in enumerate(run_dirs, 1):
        summaries.append(json.loads((d / "summary.json").read_text()))
        with open(d / "train-log.csv") as f:
            log += [{"stage": stage, **r} for r in csv.DictReader(f)]
    return summaries, log


def seed_entries(family: str) -> list[str]:
    data = json.loads((REPO / "packages/report/data/awesome.json").read_text())
    return list(dict.fromkeys(f"{lst['id']}: {e['title']}" for lst in data["lists"] for sec in lst["sections"] for e in sec["entries"] if e.get("family") == family))


def training_record(summaries: list[dict]) -> dict:
    last = summaries[-1]
    return {
        "seed": last["seed"], "steps": sum(s["steps"] for s in summaries), "batch": last["batch"], "lr": last["lr"],
        "device": ",".join(dict.fromkeys(s["device"] for s in summaries)),
        "wall_s": round(sum(s["wall_s"] for s in summaries), 2),
        "sweep": [{"stage": i + 1, **r} for i, s in enumerate(summaries) for r in s["sweep"]],
        "stages": len(summaries),
        "final": last["final"],
    }


def write_log(path: Path, log: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        fields = list(dict.fromkeys(k for r in log for k in r))
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(log)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", help="the family package (with --run)")
    ap.add_argument("--run", action="append", type=Path,
                    help="training run folder(s) from train.py, in order; the last one's best.pt is exported")
    ap.add_argument("--from-checkpoint", type=Path,
                    help="re-export a checkpoint folder from its weights.safetensors (instead of --model-dir/--run); "
                         "its card's task and training record are kept")
    ap.add_argument("--data", required=True, type=Path, help="the task split folder (golden inputs come from its valid split)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--id", help="checkpoint id (default: <family>-<task>, or the re-exported checkpoint's)")
    ap.add_argument("--precision", choices=["float32", "float64"], default="float32",
                    help="arithmetic inside the graphs; float64 where the model's own float32 round-off is near 1e-4 "
                         "(logits stay float32; states become float64)")
    ap.add_argument("--tolerance", type=float, default=1e-4,
                    help="max |difference| allowed (the contract's 1e-4); raise it only where the float32-vs-float64 floor "
                         "of the PyTorch model itself is near 1e-4, and say so in the checkpoint's docs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if bool(args.from_checkpoint) == bool(args.run):
        ap.error("give either --model-dir with --run, or --from-checkpoint")

    torch.manual_seed(args.seed)
    if args.from_checkpoint:
        model, old = load_checkpoint(args.from_checkpoint)
        family = load_family(family_dir(old))
        task, vocab, config, training = old["task"], old["vocab"], old["config"], old["training"]
        log_src = args.from_checkpoint / "train-log.csv"
        log = list(csv.DictReader(log_src.read_text().splitlines())) if log_src.exists() else []
        default_id = old["id"]
    else:
        if not args.model_dir:
            ap.error("--run needs --model-dir")
        family = load_family(args.model_dir)
        summaries, log = read_runs(args.run)
        last = summaries[-1]
        task, vocab, config, training = last["task"], last["vocab"], last["config"], training_record(summaries)
        model = build_model(family, config, vocab).eval()
        model.load_state_dict(torch.load(args.run[-1] / "best.pt", map_location="cpu"))
        default_id = f"{family.FAMILY}-{task['id']}"
    opset = getattr(family, "ONNX_OPSET", DEFAULT_OPSET)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    wide = copy.deepcopy(model).double()
    graph_model = Float64Inside(model) if args.precision == "float64" else model
    spec = graph_model.state_spec()

    # Export: dynamic batch and seq for prefill; for step, dynamic batch and any symbolic state axis (past_seq).
    batch, seq = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("seq", min=1, max=MAX_SEQ)
    dims = {"batch": batch}

    def state_dims(s):
        return {a: dims.setdefault(d, torch.export.Dim(d, min=1, max=1 << 20)) for a, d in enumerate(s["shape"]) if isinstance(d, str)}
    ex_ids = torch.randint(0, vocab, (2, 40))
    names_in = [f"past_{s['name']}" for s in spec]
    names_out = ["logits", *[f"present_{s['name']}" for s in spec]]
    traced = numerics.float64_safe() if args.precision == "float64" else contextlib.nullcontext()
    with tempfile.TemporaryDirectory() as tmp, traced:
        pre_tmp, step_tmp = Path(tmp) / "prefill.onnx", Path(tmp) / "step.onnx"
        export_graph(Prefill(graph_model), (ex_ids.clone(),), ({0: batch, 1: seq},), ["input_ids"], names_out, pre_tmp,
                     {("input_ids", 0): "batch", ("input_ids", 1): "seq"}, opset)
        # Example state: a prefill's final state, so growing caches (past_seq) are non-empty at trace time.
        with torch.no_grad():
            past = tuple(p.clone() for p in graph_model(ex_ids[:, :5].clone())[1:])
        step_names = {("input_ids", 0): "batch", **{(f"past_{s['name']}", a): d for s in spec for a, d in enumerate(s["shape"]) if isinstance(d, str)}}
        export_graph(Step(graph_model), (ex_ids[:, :1].clone(), *past), ({0: batch}, tuple(state_dims(s) for s in spec)),  # *past nests
                     ["input_ids", *names_in], names_out, step_tmp, step_names, opset)

        # Parity on task inputs: two valid examples at full length and three 17-token prefixes (a length that is
        # no multiple of any chunk size). Uniformly random tokens are not used: they drive activations far outside
        # what the model was trained on, where float32 round-off alone exceeds 1e-4 (the float64 floor below
        # shows how close a graph can get at all). Float64 graphs are compared with PyTorch in float64.
        valid_x, _, _ = load_split(args.data, "valid")
        parity = {"prefill_vs_torch": 0.0, "step_vs_prefill": 0.0, "torch_float32_vs_float64": 0.0}
        reference = wide if args.precision == "float64" else model
        for ids in (valid_x[:2].numpy(), valid_x[2:5, :17].numpy()):
            p = {**check_parity(graph_model, pre_tmp, step_tmp, ids.astype(np.int64), reference),
                 "torch_float32_vs_float64": float64_floor(model, wide, ids)}
            parity = {k: max(parity[k], p[k]) for k in parity}
        print(json.dumps({"parity": parity}), flush=True)
        if max(parity["prefill_vs_torch"], parity["step_vs_prefill"]) > args.tolerance:
            raise SystemExit(f"parity above tolerance {args.tolerance}: {parity}; nothing written to {out}")
        for f in (pre_tmp, step_tmp):
            f.replace(out / f.name)

    save_weights(model, out)  # PyTorch eager baselines (the speed suite) run the same weights
    # Golden logits from the reference the graphs were checked against (float64 for float64 graphs).
    (out / "golden.json").write_text(json.dumps(golden(reference, valid_x[2:4, :32].numpy(), vocab, args.seed, args.tolerance)) + "\n")
    write_log(out / "train-log.csv", log)

    files = [{"path": n, "sha256": sha256(out / n), "bytes": (out / n).stat().st_size}
             for n in ("prefill.onnx", "step.onnx", WEIGHTS, "golden.json", "train-log.csv")]
    # Bytes of state per sequence; growing caches (past_seq) are counted at the trained length.
    at = int(task["params"].get("seq_len", 0)) or int(valid_x.shape[1])  # tasks without a seq_len: the split's length
    itemsize = {"float32": 4, "float64": 8}
    state_bytes = sum(itemsize[s["dtype"]] * int(np.prod([at if d == "past_seq" else d for d in s["shape"][1:]])) for s in spec)
    grows = any("past_seq" in s["shape"] for s in spec)
    card = {
        "id": args.id or default_id,
        "family": family.FAMILY,
        "variant": getattr(model, "variant", None) or getattr(family, "VARIANT", family.FAMILY),
        "paper": family.PAPER,
        "seedEntries": seed_entries(family.FAMILY),
        "task": task,
        "vocab": vocab,
        "config": config,
        "params": count_params(model),
        "states": spec,
        "stateBytesPerSequence": state_bytes,
        "maxSeqLen": MAX_SEQ,
        **({"stateBytesAt": at} if grows else {}),
        "files": files,
        "export": {"torch": torch.__version__, "onnx": onnx.__version__, "opset": opset,
                   "exporter": "torch.export + torch.onnx.export(dynamo=True)", "onnxruntime_check": ort.__version__,
                   "host": platform.machine(), "precision": args.precision, "git_sha": _git_sha(),
                   # nodes outside the standard ONNX domain (ortops): the graphs then need onnxruntime
                   "contrib_ops": contrib_ops(out / "prefill.onnx", out / "step.onnx"),
                   "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "training": training,
        "parity": {**parity, "tolerance": args.tolerance,
                   "reference": "PyTorch float64" if args.precision == "float64" else "PyTorch float32"},
    }
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    # Greedy decoding in one call (step.onnx in an ONNX Loop), checked token for token against step.onnx.
    from . import generate  # here: generate builds on this module's sessions and hashes

    generated = generate.write(out, args.tolerance)
    print(f"wrote {out}: {', '.join(f['path'] for f in files)}, {generate.FILE} ({generated['tokens']} greedy tokens as "
          "step.onnx gives them), card.json", flush=True)


def _git_sha() -> str | None:
    """The commit of the code that wrote the graphs (a re-export with changed kernels differs from the training's)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
        # Uncommitted changes to the code (not to models/ or results/, which this export itself writes).
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/packages", ":/scripts"],
                               capture_output=True, text=True, cwd=Path(__file__).parent)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


if __name__ == "__main__":
    main()
