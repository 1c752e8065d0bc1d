"""Checks every model family must pass (used by each packages/model-*/test_model.py).

The model contract (DESIGN.md): Model(config, vocab) with
  forward(input_ids)            -> (logits [B, T, V], *present)   full sequence from the zero state (parallel form)
  forward(input_ids[:, :1], *past) -> (logits [B, 1, V], *present) one step
  forward_sequential(input_ids) -> same as forward(input_ids), computed token by token (naive reference)
  init_state(batch), state_spec(), hidden(ids), head(h)
"""
from __future__ import annotations

import torch


def _close(a, b, tol):
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


@torch.no_grad()
def check_parallel_matches_sequential(model, vocab: int, lengths=(1, 2, 7, 8, 9, 31, 64, 100), batch: int = 3, tol: float = 1e-5):
    """The parallel/chunked prefill equals the naive token-by-token recurrence (logits and final state)."""
    model.eval()
    for T in lengths:
        ids = torch.randint(0, vocab, (batch, T))
        fast, slow = model(ids), model.forward_sequential(ids)
        assert fast[0].shape == (batch, T, vocab), f"logits shape {tuple(fast[0].shape)} at T={T}"
        assert len(fast) == len(slow) == 1 + len(model.state_spec())
        for a, b in zip(fast, slow):
            assert a.shape == b.shape, f"T={T}: {tuple(a.shape)} vs {tuple(b.shape)}"
            _close(a, b, tol)


@torch.no_grad()
def check_step_continues_prefill(model, vocab: int, split: int = 25, total: int = 40, tol: float = 1e-5):
    """Prefill a prefix, then step the rest: the logits equal one prefill of the whole sequence."""
    model.eval()
    ids = torch.randint(0, vocab, (2, total))
    full = model(ids)[0]
    _, *state = model(ids[:, :split])
    logits = []
    for t in range(split, total):
        lg, *state = model(ids[:, t : t + 1], *state)
        logits.append(lg)
    _close(torch.cat(logits, 1), full[:, split:], tol)


@torch.no_grad()
def check_state_spec(model, vocab: int):
    """state_spec() names and shapes the tensors that forward returns; init_state matches it at past_seq = 0."""
    model.eval()
    T = 5
    _, *state = model(torch.randint(0, vocab, (2, T)))
    spec = model.state_spec()
    assert len(spec) == len(state)
    for s, t in zip(spec, state):
        want = [2 if d == "batch" else T if d == "past_seq" else d for d in s["shape"]]
        assert list(t.shape) == want, f"{s['name']}: {list(t.shape)} vs {want}"
        assert s["dtype"] == "float32" and t.dtype == torch.float32
    for s, t in zip(spec, model.init_state(3)):
        assert list(t.shape) == [3 if d == "batch" else 0 if d == "past_seq" else d for d in s["shape"]]
        assert not t.any(), "initial state must be zeros"


@torch.no_grad()
def check_hidden_and_head(model, vocab: int):
    """Training's path (hidden, then head at chosen positions) gives the prefill logits."""
    model.eval()
    ids = torch.randint(0, vocab, (2, 11))
    _close(model.head(model.hidden(ids)), model(ids)[0], 1e-6)


def check_contract(model, vocab: int, **kw):
    check_state_spec(model, vocab)
    check_hidden_and_head(model, vocab)
    check_parallel_matches_sequential(model, vocab, **kw)
    check_step_continues_prefill(model, vocab)
