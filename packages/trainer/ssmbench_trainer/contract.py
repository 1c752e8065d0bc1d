"""Checks every model family must pass (used by each packages/model-*/test_model.py).

The model contract (DESIGN.md): Model(config, vocab) with
  forward(input_ids)            -> (logits [B, T, V], *present)   full sequence from the zero state (parallel form)
  forward(input_ids[:, :1], *past) -> (logits [B, 1, V], *present) one step
  forward_sequential(input_ids) -> same as forward(input_ids), computed token by token (naive reference)
  init_state(batch), state_spec(), hidden(ids), head(h)
"""
from __future__ import annotations

import torch


def close(a, b, tol: float = 1e-5):
    """assert_close with one tolerance, absolute and relative (the family tests' default: 1e-5)."""
    torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def seeded_model(model_cls, config: dict, vocab: int, seed: int, prepare=None):
    """model_cls(config, vocab=vocab) in eval mode, built right after torch.manual_seed(seed); prepare(model), if
    given, then runs under no_grad (tests move gates, decays or phases off their init so that the checks see them)."""
    torch.manual_seed(seed)
    model = model_cls(config, vocab=vocab).eval()
    if prepare is not None:
        with torch.no_grad():
            prepare(model)
    return model


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
            close(a, b, tol)


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
    close(torch.cat(logits, 1), full[:, split:], tol)


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
    close(model.head(model.hidden(ids)), model(ids)[0], 1e-6)


def check_contract(model, vocab: int, *, seed: int | None = None, **kw):
    """All of the above; seed, if given, seeds torch's generator first (a module fixture's model is built earlier)."""
    if seed is not None:
        torch.manual_seed(seed)
    check_state_spec(model, vocab)
    check_hidden_and_head(model, vocab)
    check_parallel_matches_sequential(model, vocab, **kw)
    check_step_continues_prefill(model, vocab)


def check_default_config(model_cls, states: dict, *, seed: int = 2, lengths=(1, 31, 32, 33, 70), vocab: int = 40,
                         d_model: int = 64, n_layers: int = 2):
    """Model({}) (the family's defaults) is d_model wide and n_layers deep, its state_spec() is `states` ({name: shape},
    in order), and its prefill equals the recurrence at `lengths` (batch 2; the defaults straddle a chunk of 32).
    Returns the model for the family's own checks."""
    model = seeded_model(model_cls, {}, vocab, seed)
    assert (model.config["d_model"], model.config["n_layers"]) == (d_model, n_layers)
    assert [(s["name"], s["shape"]) for s in model.state_spec()] == list(states.items())
    check_parallel_matches_sequential(model, vocab, lengths=lengths, batch=2)
    return model


def check_onnx_export(model, vocab: int, directory, *, trace_len: int = 40, lengths=(37, 300), batch: int = 2,
                      tol: float = 1e-5, logits_rtol: float = 0.0, step: bool = True, opset: int | None = None):
    """Export prefill.onnx (dynamic batch and seq, traced at trace_len tokens) and, with step, step.onnx (dynamic batch,
    traced with a 5-token prefill's state) into directory with export.export_graph, as the exporter does; then, on
    onnxruntime, for `batch` sequences of each length in lengths:
      prefill.onnx's logits equal PyTorch's within tol absolute (logits_rtol relative), its final states within tol
      absolute and relative (states that sum hundreds of terms carry their float32 round-off);
      with step, stepping step.onnx token by token from init_state gives the same logits and final states, to the
      same tolerances.
    opset: export.DEFAULT_OPSET unless given."""
    from torch.export import Dim

    from . import export  # onnx and onnxruntime: imported by the tests that export only

    opset = export.DEFAULT_OPSET if opset is None else opset
    spec = model.state_spec()
    batch_dim, seq_dim = Dim("batch", min=1, max=1024), Dim("seq", min=1, max=export.MAX_SEQ)
    outs = ["logits", *[f"present_{s['name']}" for s in spec]]
    ids = torch.randint(0, vocab, (2, trace_len))
    pre_path, step_path = directory / "prefill.onnx", directory / "step.onnx"
    export.export_graph(export.Prefill(model), (ids.clone(),), ({0: batch_dim, 1: seq_dim},), ["input_ids"], outs,
                        pre_path, {("input_ids", 0): "batch", ("input_ids", 1): "seq"}, opset)
    prefill = export.ort_session(pre_path)
    if step:
        with torch.no_grad():
            past = tuple(p.clone() for p in model(ids[:, :5].clone())[1:])
        export.export_graph(export.Step(model), (ids[:, :1].clone(), *past),
                            ({0: batch_dim}, tuple({0: batch_dim} for _ in spec)),
                            ["input_ids", *[f"past_{s['name']}" for s in spec]], outs, step_path, {}, opset)
        stepper = export.ort_session(step_path)
        past_names = [i.name for i in stepper.get_inputs()][1:]
    for T in lengths:
        ids = torch.randint(0, vocab, (batch, T))
        with torch.no_grad():
            logits, *states = model(ids)
        got, *got_states = prefill.run(None, {"input_ids": ids.numpy()})
        assert len(got_states) == len(states) == len(spec), f"T={T}: {len(got_states)} states from ONNX, {len(states)}"
        torch.testing.assert_close(torch.from_numpy(got), logits, atol=tol, rtol=logits_rtol)
        for a, ref in zip(got_states, states):
            close(torch.from_numpy(a), ref, tol)
        if not step:
            continue
        past, steps = [p.numpy() for p in model.init_state(batch)], []
        for t in range(T):
            lg, *past = stepper.run(None, {"input_ids": ids[:, t : t + 1].numpy(), **dict(zip(past_names, past))})
            steps.append(torch.from_numpy(lg))
        torch.testing.assert_close(torch.cat(steps, 1), logits, atol=tol, rtol=logits_rtol)
        for b, ref in zip(past, states):
            close(torch.from_numpy(b), ref, tol)
