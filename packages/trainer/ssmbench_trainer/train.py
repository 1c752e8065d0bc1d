"""Train one model family on one task split, with a small learning-rate sweep (best kept, sweep recorded).

Loss only at scored positions, gathered before the LM head (a vocab-8192 softmax at every position would waste
most of the compute). AdamW, linear warm-up then cosine decay, gradient clipping. Checkpoints are saved at every
evaluation, so a run that is stopped resumes where it was (`--resume`, the default).

    python -m ssmbench_trainer.train --model-dir packages/model-mamba --data datasets/mqar/data/128-8 \
        --out runs/mamba-mqar --lrs 1e-3,3e-3 --steps 4000

Under torchrun (`torchrun --standalone --nproc_per_node N -m ssmbench_trainer.train ...`) the same run is split over
N processes with DistributedDataParallel (gloo on CPU, nccl with one GPU per process): every process draws the same
global batch and takes its contiguous slice, and the loss is scaled so that DDP's gradient average is the gradient
of the whole batch, so the result is the one-process result. Rank 0 alone evaluates and writes; the swept learning
rates run one after another in the process group.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .common import build_model, count_params, load_family, load_split

IGNORE = -100


def scored_loss(model, ids, targets):
    h = model.hidden(ids)
    mask = targets != IGNORE
    logits = model.head(h[mask])
    y = targets[mask]
    return F.cross_entropy(logits, y), (logits.argmax(-1) == y).sum().item(), y.numel()


class ScoredObjective(nn.Module):
    """The training objective as a module, so that DistributedDataParallel (which hooks forward) can wrap it.

    Returns the summed (not averaged) cross-entropy over the scored positions and how many of them are right: the
    caller divides by the scored positions of the whole global batch, which no single process sees.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids, targets):
        h = self.model.hidden(ids)
        mask = targets != IGNORE
        logits = self.model.head(h[mask])
        y = targets[mask]
        return F.cross_entropy(logits, y, reduction="sum"), (logits.argmax(-1) == y).sum()


@dataclass(frozen=True)
class Dist:
    """Where this process sits in a torchrun launch (world 1, rank 0 without one)."""

    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> tuple[Dist, str]:
    """Joins the process group when torchrun started us (WORLD_SIZE > 1): gloo on CPU, nccl on cuda:LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device
    d = Dist(world, int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")))
    if device.startswith("cuda"):
        device = f"cuda:{d.local_rank}"
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=torch.device(device))
    else:
        dist.init_process_group("gloo")
    return d, device


def global_sum(values: list[float], device, d: Dist) -> list[float]:
    """Sums a few numbers over the processes (float64, so integer counts stay exact)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if d.world > 1:
        dist.all_reduce(t)
    return t.tolist()


def from_rank0(value: float, device, d: Dist) -> float:
    if d.world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(t, 0)
    return t.item()


def any_rank(flag: bool, device, d: Dist) -> bool:
    """True on every process when it is true on one (wall-clock budgets end on different steps per process)."""
    if d.world == 1:
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def save_atomic(obj, path: Path) -> None:
    """A stop in the middle of a save leaves the previous checkpoint, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def validate(model, inputs, targets, batch: int, device) -> tuple[float, float]:
    """-> (accuracy, mean cross-entropy in nats) over the scored positions of a split."""
    model.eval()
    correct = total = 0
    loss_sum = 0.0
    for i in range(0, len(inputs), batch):
        loss, c, n = scored_loss(model, inputs[i : i + batch].to(device), targets[i : i + batch].to(device))
        correct, total, loss_sum = correct + c, total + n, loss_sum + loss.item() * n
    model.train()
    return correct / max(total, 1), loss_sum / max(total, 1)


def evaluate(model, inputs, targets, batch: int, device) -> float:
    return validate(model, inputs, targets, batch, device)[0]


# Tasks whose metric is a likelihood: the learning rate (and the checkpoint within it) with the lowest validation
# loss is kept, and the sweep's metric is validation bits per scored token (for byte-lm: bits per byte). Other tasks
# keep the highest validation accuracy.
LIKELIHOOD_METRICS = ("bits_per_byte", "perplexity")


def selects_by_loss(meta: dict) -> bool:
    return meta.get("metric") in LIKELIHOOD_METRICS


def param_groups(model, weight_decay: float):
    """Decay matrices only; norms, biases, A_log, D and other vectors are not decayed (as in the Mamba code)."""
    decay, rest = [], []
    for name, p in model.named_parameters():
        # A_log is 2-D but is not a weight matrix: Mamba marks it (and D) _no_weight_decay.
        no_decay = p.ndim < 2 or getattr(p, "_no_weight_decay", False) or name.rsplit(".", 1)[-1] in ("A_log", "D")
        (rest if no_decay else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_one(args, family, lr: float, data, out: Path, log_rows: list, d: Dist = Dist()) -> dict:
    (tr_x, tr_y, meta), (va_x, va_y, _) = data
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    model = build_model(family, json.loads(args.config), meta["vocab"]).to(device)
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location=device))
    opt = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=lr, betas=(0.9, 0.98))
    # The checkpoint is keyed by everything that defines the run, so --resume never continues a different one.
    # The number of processes is not part of it: a run started on 1 process may resume on N, and back.
    key = json.dumps([args.config, args.init, args.steps, args.batch, args.seed, args.warmup, args.weight_decay, meta], sort_keys=True)
    ckpt = out / f"ckpt-lr{lr:g}-{hashlib.sha256(key.encode()).hexdigest()[:10]}.pt"
    by_loss = selects_by_loss(meta)
    # best_score: the selection metric's best so far (valid accuracy, or valid bits per token for likelihood tasks);
    # best_acc: valid accuracy's best, which --target-acc compares.
    step, wall, best_acc, best_state = 0, 0.0, -1.0, None
    best_score = math.inf if by_loss else -1.0
    if args.resume and ckpt.exists():  # every process reads it (one host, or a shared file system)
        saved = torch.load(ckpt, map_location=device)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        step, wall, best_acc = saved["step"], saved["wall"], saved["best_acc"]
        best_score = saved.get("best_score", best_acc)
        best_state = saved["best_state"]
        log_rows.extend(saved["log"])
        if d.main:
            print(f"[lr {lr:g}] resumed at step {step}", flush=True)
    objective = ScoredObjective(model)
    if d.world > 1:
        # Buffers (RoPE frequencies, decay constants) are constants, so they are not re-broadcast at every step.
        objective = nn.parallel.DistributedDataParallel(
            objective, device_ids=[device.index] if device.type == "cuda" else None, broadcast_buffers=False)
    gen = torch.Generator().manual_seed(args.seed * 1000 + step)
    warmup = max(1, int(args.warmup * args.steps))
    t0 = time.time() - wall
    out_of_time = wall >= args.max_minutes * 60
    bounded = math.isfinite(args.max_minutes)
    model.train()
    while step < args.steps and best_acc < args.target_acc and not out_of_time:
        # Every process draws the same global batch (so the data order is the one-process order) and takes its
        # contiguous slice of it. The loss is the sum over this slice's scored positions divided by the scored
        # positions of the whole batch, times the number of processes: DDP averages gradients over processes, so
        # the average is exactly the gradient of the batch mean, however the scored positions fall on the slices.
        idx = torch.randint(len(tr_x), (args.batch,), generator=gen)
        n_batch = max(1, int((tr_y[idx] != IGNORE).sum()))
        mine = idx.tensor_split(d.world)[d.rank]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, lr, warmup)
        loss_sum, correct = objective(tr_x[mine].to(device, non_blocking=True), tr_y[mine].to(device, non_blocking=True))
        loss = loss_sum / n_batch * d.world
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        step += 1
        if bounded:
            out_of_time = any_rank(time.time() - t0 >= args.max_minutes * 60, device, d)
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            batch_loss_sum, batch_correct = global_sum([loss_sum.item(), correct.item()], device, d)
            batch_loss = batch_loss_sum / n_batch
            acc, vloss = validate(model, va_x, va_y, args.eval_batch, device) if d.main else (0.0, 0.0)
            acc, vloss = from_rank0(acc, device, d), from_rank0(vloss, device, d)
            row = {"lr": lr, "step": step, "loss": round(batch_loss, 5), "train_acc": round(batch_correct / n_batch, 5),
                   "valid_acc": round(acc, 5), "wall_s": round(time.time() - t0, 2), "valid_loss": round(vloss, 5)}
            log_rows.append(row)
            best_acc = max(best_acc, acc)
            score = vloss / math.log(2) if by_loss else acc
            if (score < best_score) if by_loss else (score > best_score):
                best_score = score
                if d.main:
                    best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if d.main:
                print(json.dumps(row), flush=True)
                save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "wall": time.time() - t0,
                             "best_acc": best_acc, "best_score": best_score, "best_state": best_state, "log": [r for r in log_rows if r["lr"] == lr]}, ckpt)
            if not math.isfinite(batch_loss):
                if d.main:
                    print(f"[lr {lr:g}] loss is not finite; stopping this learning rate", flush=True)
                break
    return {"lr": lr, "steps": step, "metric": best_score, "wall_s": round(time.time() - t0, 2), "state": best_state,
            "params": count_params(model)}


def run_parallel(argv, lrs, out: Path, log_rows: list) -> list:
    """One process per learning rate (each in out/lr-<lr>), then gather their results here."""
    import subprocess
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    procs = []
    for lr in lrs:
        sub = out / f"lr-{lr:g}"
        cmd = [sys.executable, "-m", "ssmbench_trainer.train", *argv, "--lrs", str(lr), "--out", str(sub), "--jobs", "1"]
        procs.append((lr, sub, subprocess.Popen(cmd, stdout=open(out / f"lr-{lr:g}.log", "w"), stderr=subprocess.STDOUT)))
    results = []
    for lr, sub, p in procs:
        if p.wait() != 0:
            print(f"[lr {lr:g}] failed: see {out / f'lr-{lr:g}.log'}", flush=True)
            continue
        s = json.loads((sub / "summary.json").read_text())
        with open(sub / "train-log.csv") as f:
            log_rows.extend({k: float(v) for k, v in r.items()} for r in csv.DictReader(f))
        results.append({"lr": lr, "steps": s["steps"], "metric": s["sweep"][0]["metric"], "wall_s": s["wall_s"],
                        "state": torch.load(sub / "best.pt"), "params": s["params"]})
    if not results:
        raise SystemExit("every learning rate failed")
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--data", required=True, help="folder with train.* and valid.* .npy files from @ssmbench/tasks")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default="{}", help="JSON overrides of the family's DEFAULT_CONFIG")
    ap.add_argument("--lrs", default="1e-3,3e-3", help="comma-separated learning rates to sweep; the best is kept")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--eval-batch", type=int, default=250)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--warmup", type=float, default=0.05, help="fraction of steps")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--target-acc", type=float, default=1.01, help="stop a learning rate early once valid accuracy reaches this")
    ap.add_argument("--max-minutes", type=float, default=float("inf"), help="wall-clock budget per learning rate")
    ap.add_argument("--init", help="start from these weights (a best.pt of an earlier run) with a fresh optimizer and schedule")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-resume", dest="resume", action="store_false")
    ap.add_argument("--jobs", type=int, default=1, help="train the swept learning rates in parallel processes (GPU); "
                    "ignored under torchrun, where they run one after another")
    args = ap.parse_args(argv)
    d, args.device = init_distributed(args.device)
    try:
        run(args, argv, d)
    finally:
        if d.world > 1:
            dist.destroy_process_group()


def run(args, argv, d: Dist) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False  # keep float32 numerics identical to the CPU export
    family = load_family(args.model_dir)
    data = (load_split(args.data, "train"), load_split(args.data, "valid"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_rows: list = []
    lrs = [float(x) for x in args.lrs.split(",")]
    if d.world > 1 and args.batch < d.world:
        raise SystemExit(f"--batch {args.batch} is smaller than the {d.world} processes: each takes a slice of the batch")
    if args.jobs > 1 and len(lrs) > 1 and d.world == 1:
        results = run_parallel(argv, lrs, out, log_rows)
    else:
        results = [train_one(args, family, lr, data, out, log_rows, d) for lr in lrs]
    if not d.main:
        dist.barrier()  # rank 0 writes the outputs below
        return
    meta = data[0][2]
    by_loss = selects_by_loss(meta)
    best = (min if by_loss else max)(results, key=lambda r: r["metric"])
    torch.save(best["state"], out / "best.pt")
    with open(out / "train-log.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["lr", "step", "loss", "train_acc", "valid_acc", "wall_s", "valid_loss"])
        w.writeheader()
        w.writerows(log_rows)
    summary = {
        "family": family.FAMILY, "config": {**family.DEFAULT_CONFIG, **json.loads(args.config)}, "vocab": meta["vocab"],
        "task": {"id": meta["task"], "version": meta["version"], "params": meta["params"]},
        "seed": args.seed, "batch": args.batch, "lr": best["lr"], "steps": best["steps"],
        "device": args.device if d.world == 1 else f"{args.device.split(':')[0]} x{d.world} (torchrun)",
        "wall_s": round(sum(r["wall_s"] for r in results), 2), "params": best["params"],
        "sweep": [{k: r[k] for k in ("lr", "steps", "metric", "wall_s")} for r in results],
        "final": {"valid_bits_per_token": best["metric"]} if by_loss else {"valid_accuracy": best["metric"]},
        "selection": "lowest valid bits per scored token" if by_loss else "highest valid accuracy",
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: summary[k] for k in ("lr", "sweep", "final")}), flush=True)
    if d.world > 1:
        dist.barrier()


if __name__ == "__main__":
    main()
