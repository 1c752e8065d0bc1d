"""One cell of the speed suite on PyTorch eager: the baseline `pnpm bench --suite speed` measures in the same run
as onnxruntime, on the same weights (the checkpoint's weights.safetensors) and the same inputs' shapes.

    python -m ssmbench_trainer.speed --checkpoint models/mamba-mqar-d128 --kind prefill --seq-len 4096 --batch 1

--kind decode times one step per token after a --seq-len context; --kind generate times greedy decoding (step,
argmax, fed back) in samples of --chunk tokens from that context, as generate.onnx does it in onnxruntime.

Prints one JSON line: {"status": "ok", "samples_ms": [...], "state_bytes": ..., "peak_rss_mb": ..., "note": ...}
or {"status": "oom" | "error", "note": ...}. One cell per process, so peak RSS belongs to that cell alone.
The timing loop is the harness's (packages/runner/src/timing.ts): warm-up, then samples until both a minimum
count and a minimum time, stopping at a maximum time once a floor count is reached.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np
import torch

from .weights import load_checkpoint


def measure(fn, warmup: int, min_samples: int, min_time_ms: float, max_time_ms: float, floor: int) -> list[float]:
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
        elapsed = (time.perf_counter() - start) * 1000
        if len(samples) >= min_samples and elapsed >= min_time_ms:
            break
        if elapsed >= max_time_ms and len(samples) >= floor:
            break
    return samples


def random_ids(n: int, vocab: int, seed: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, vocab, n, dtype=np.int64))


def state_bytes(state, batch: int) -> float:
    return sum(t.numel() * t.element_size() for t in state) / batch


def synthetic_state(model, batch: int, context: int) -> list[torch.Tensor]:
    """A state of the right shapes after `context` tokens, filled with N(0, 1): used only when the prefill that
    would build it runs out of memory (step time depends on the shapes, not on the values)."""
    g = torch.Generator().manual_seed(0)
    shapes = [[batch if d == "batch" else context if d == "past_seq" else d for d in s["shape"]] for s in model.state_spec()]
    return [torch.randn(shape, generator=g) for shape in shapes]


@torch.inference_mode()
def run_cell(args) -> dict:
    torch.set_num_threads(args.threads)
    model, card = load_checkpoint(args.checkpoint)
    vocab = card["vocab"]
    timing = dict(warmup=args.warmup, min_samples=args.min_samples, min_time_ms=args.min_time_ms,
                  max_time_ms=args.max_time_ms, floor=args.floor)
    threads = f"{args.threads} thread(s)"
    if args.kind != "prefill" and args.step_threads is not None:
        threads += f" for the context's prefill, {args.step_threads} for the {'greedy loop' if args.kind == 'generate' else 'steps'}"
    note = f"torch {torch.__version__} eager, {threads}, inference_mode"
    if args.kind == "prefill":
        ids = random_ids(args.batch * args.seq_len, vocab, args.seq_len).view(args.batch, args.seq_len)
        out = model(ids)
        size = state_bytes(out[1:], args.batch)
        del out
        samples = measure(lambda: model(ids), **timing)
    else:
        context = args.seq_len
        ids = random_ids(context + args.warmup_steps + args.steps, vocab, 7).view(1, -1)
        state, why = context_state(model, ids[:, :context])
        note += why
        if args.step_threads is not None:
            torch.set_num_threads(args.step_threads)
        if args.kind == "generate":
            samples = greedy_samples(model, state, args, vocab)
            return {"status": "ok", "samples_ms": samples, "state_bytes": state_bytes(state, 1), "peak_rss_mb": peak_rss_mb(), "note": note}
        pos = context
        for _ in range(args.warmup_steps):
            state = list(model(ids[:, pos : pos + 1], *state)[1:])
            pos += 1
        # As the harness's stepTiming: at least --min-steps and --min-time-ms, at most --steps.
        samples = []
        start = time.perf_counter()
        for _ in range(args.steps):
            tok = ids[:, pos : pos + 1]
            t0 = time.perf_counter()
            state = list(model(tok, *state)[1:])
            samples.append((time.perf_counter() - t0) * 1000)
            pos += 1
            if len(samples) >= args.min_steps and (time.perf_counter() - start) * 1000 >= args.min_time_ms:
                break
        size = state_bytes(state, 1)
    return {"status": "ok", "samples_ms": samples, "state_bytes": size, "peak_rss_mb": peak_rss_mb(), "note": note}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def context_state(model, ids: torch.Tensor) -> tuple[list[torch.Tensor], str]:
    """The state after prefilling `ids` [1, context], or, where that prefill runs out of memory, a N(0, 1) state of
    its shapes (and the note that says so)."""
    try:
        return list(model(ids)[1:]), ""
    except (RuntimeError, MemoryError) as e:
        if not is_oom(e):
            raise
        context = ids.shape[1]
        return synthetic_state(model, 1, context), \
            f"; the {context}-token prefill ran out of memory, so the context is a N(0,1) state of its shape"


def greedy_samples(model, context: list[torch.Tensor], args, vocab: int) -> list[float]:
    """As the harness's generateTiming: greedy decoding (step, argmax, feed it back) of --chunk tokens per sample,
    every sample from the same context state; ms per token = a sample's time over --chunk. Untimed samples first
    (at least --warmup-steps tokens), then samples until --min-steps tokens and --min-time-ms, at most --steps."""
    first = random_ids(1, vocab, 8).view(1, 1)

    def greedy():
        tok, state = first, context
        for _ in range(args.chunk):
            logits, *state = model(tok, *state)
            tok = logits[:, -1].argmax(-1, keepdim=True)

    done = 0
    while done < max(1, args.warmup_steps):
        greedy()
        done += args.chunk
    samples: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        greedy()
        samples.append((time.perf_counter() - t0) * 1000 / args.chunk)
        if (len(samples) + 1) * args.chunk > args.steps:
            break
        if len(samples) * args.chunk >= args.min_steps and (time.perf_counter() - start) * 1000 >= args.min_time_ms:
            break
    return samples


def is_oom(e: BaseException) -> bool:
    return isinstance(e, MemoryError) or "can't allocate memory" in str(e) or "not enough memory" in str(e)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--kind", choices=["prefill", "decode", "generate"], required=True)
    ap.add_argument("--seq-len", type=int, required=True, help="prefill length, or decode context")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--step-threads", type=int, default=None, help="decode: threads while stepping (default --threads)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--min-samples", type=int, default=5)
    ap.add_argument("--min-time-ms", type=float, default=2000)
    ap.add_argument("--max-time-ms", type=float, default=30000)
    ap.add_argument("--floor", type=int, default=3, help="samples always taken, even past --max-time-ms")
    ap.add_argument("--steps", type=int, default=256, help="decode: most timed steps")
    ap.add_argument("--min-steps", type=int, default=32, help="decode: fewest timed steps")
    ap.add_argument("--warmup-steps", type=int, default=16)
    ap.add_argument("--chunk", type=int, default=64, help="generate: greedy tokens per sample")
    args = ap.parse_args(argv)
    try:
        result = run_cell(args)
    except (RuntimeError, MemoryError) as e:
        result = {"status": "oom" if is_oom(e) else "error", "note": str(e).splitlines()[0][:300]}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
