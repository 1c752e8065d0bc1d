"""generate.onnx: greedy decoding of many tokens in one onnxruntime call, built from a checkpoint's step.onnx.

    python -m ssmbench_trainer.generate models/mamba-induction-heads [models/...]

One call of step.onnx per token costs a fixed price on top of the step's own work (onnxruntime-node binds every input
and output tensor and builds its JavaScript objects: a third of a small model's step, docs/speed.md). generate.onnx
runs the step graph unchanged as the body of an ONNX Loop, so the states stay inside onnxruntime between tokens:

    inputs   max_new_tokens  int64 scalar (>= 1)
             input_ids       int64 [batch, 1]     the next token to feed (e.g. the prompt's argmax after prefill)
             past_<state>    as step.onnx
    outputs  tokens          int64 [batch, max_new_tokens]   tokens[:, i] = argmax of the logits after feeding
                                                             input_ids, tokens[:, 0], ..., tokens[:, i-1]
             present_<state> the state after feeding input_ids and tokens[:, :-1] (tokens[:, -1] is the next input)

so calling it twice, the second time with tokens[:, -1:] and the returned state, continues exactly where stepping
would. Greedy only (argmax, first index on ties, as onnxruntime's ArgMax): no sampling, so the result is deterministic.
The body is step.onnx's graph with every name prefixed (a subgraph may not redeclare a name of its outer scope); the
weights are its own, so the file is about as large as step.onnx.

`write(dir)` builds the file, checks that its tokens equal stepping step.onnx with argmax (from a prefilled random
prompt, two sequences) and records both in card.json (files, and `generate`: step.onnx's sha256 and the tokens
checked). export.py calls it for every new checkpoint.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from . import ortops  # noqa: F401  (declares onnxruntime's contrib ops to onnx's registry, for the checker)
from .export import ort_session, sha256, state_diff

FILE = "generate.onnx"
PREFIX = "step/"


def _rename_graph(graph: onnx.GraphProto, rename) -> None:
    """Renames every value name of a graph and of its nested subgraphs (If/Loop/Scan bodies) in place."""
    for vi in [*graph.input, *graph.output, *graph.value_info]:
        vi.name = rename(vi.name)
    for init in graph.initializer:
        init.name = rename(init.name)
    for sp in graph.sparse_initializer:
        sp.values.name = rename(sp.values.name)
    for node in graph.node:
        node.input[:] = [rename(n) if n else n for n in node.input]  # "" marks an omitted optional input
        node.output[:] = [rename(n) if n else n for n in node.output]
        for attr in node.attribute:
            for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                _rename_graph(g, rename)


def build(step: onnx.ModelProto) -> onnx.ModelProto:
    """The generate graph (module docstring) around a step graph: input_ids + past_* -> logits + present_*."""
    g = step.graph
    ins, outs = [i.name for i in g.input], [o.name for o in g.output]
    if ins[0] != "input_ids" or outs[0] != "logits" or len(ins) != len(outs):
        raise ValueError(f"not a step graph of the model contract: inputs {ins}, outputs {outs}")
    states = ins[1:]
    if [o.replace("present_", "past_", 1) for o in outs[1:]] != states:
        raise ValueError(f"step outputs {outs[1:]} do not pair with its inputs {states} in order")

    body = copy.deepcopy(g)
    body.name = "greedy_step"
    _rename_graph(body, lambda n: PREFIX + n)
    p = lambda n: PREFIX + n  # noqa: E731
    # Loop body: (iteration, condition, input_ids, past_*) -> (condition, next input_ids, present_*, token)
    body_ins = list(body.input)
    del body.input[:]
    body.input.extend([helper.make_tensor_value_info(p("iteration"), TensorProto.INT64, []),
                       helper.make_tensor_value_info(p("cond_in"), TensorProto.BOOL, []), *body_ins])
    body.node.extend([
        # argmax over the vocabulary of the step's logits [batch, 1, vocab] -> [batch, 1], the next token
        helper.make_node("ArgMax", [p("logits")], [p("next_ids")], axis=2, keepdims=0),
        helper.make_node("Identity", [p("cond_in")], [p("cond_out")]),
        helper.make_node("Identity", [p("next_ids")], [p("token")]),
    ])
    present = list(body.output)[1:]
    del body.output[:]
    body.output.extend([helper.make_tensor_value_info(p("cond_out"), TensorProto.BOOL, []),
                        helper.make_tensor_value_info(p("next_ids"), TensorProto.INT64, ["batch", 1]), *present,
                        helper.make_tensor_value_info(p("token"), TensorProto.INT64, ["batch", 1])])

    nodes = [
        helper.make_node("Constant", [], ["always"], value=helper.make_tensor("always", TensorProto.BOOL, [], [True])),
        # Loop(M, cond, carried...) -> (final carried..., scan outputs stacked on a new first axis)
        helper.make_node("Loop", ["max_new_tokens", "always", *ins], ["last_ids", *outs[1:], "tokens_by_step"], body=body),
        helper.make_node("Transpose", ["tokens_by_step"], ["tokens_batch_major"], perm=[1, 0, 2]),  # [batch, M, 1]
        helper.make_node("Squeeze", ["tokens_batch_major", "last_axis"], ["tokens"]),
    ]
    graph = helper.make_graph(
        nodes, "generate",
        [helper.make_tensor_value_info("max_new_tokens", TensorProto.INT64, []), *copy.deepcopy(list(g.input))],
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "max_new_tokens"]),
         *copy.deepcopy(list(g.output)[1:])],
        [helper.make_tensor("last_axis", TensorProto.INT64, [1], [2])],
    )
    model = helper.make_model(graph, opset_imports=list(step.opset_import), ir_version=step.ir_version,
                              producer_name="ssmbench_trainer.generate")
    return model


def greedy_by_steps(step: ort.InferenceSession, ids: np.ndarray, state: list[np.ndarray], n: int):
    """Greedy decoding through step.onnx one call per token: (tokens [batch, n], state) as generate.onnx defines them."""
    tokens = []
    for _ in range(n):
        out = step.run(None, {"input_ids": ids, **{i.name: s for i, s in zip(step.get_inputs()[1:], state)}})
        ids = out[0][:, -1].argmax(-1).reshape(-1, 1).astype(np.int64)
        tokens.append(ids)
        state = out[1:]
    # the state after the last fed token (not the last generated one), as the Loop carries it
    return np.concatenate(tokens, 1), state


def check(dir: Path, n: int = 48, batch: int = 2, prompt: int = 24, seed: int = 0) -> dict:
    """generate.onnx against greedy stepping through step.onnx, from a prefilled random prompt: tokens must be
    equal; the returned states agree within round-off (both run the same nodes; onnxruntime may fuse them
    differently inside a Loop body), measured as export.state_diff (relative where a state exceeds 1)."""
    card = json.loads((dir / "card.json").read_text())
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, card["vocab"], (batch, prompt), dtype=np.int64)
    pre = ort_session(dir / "prefill.onnx").run(None, {"input_ids": ids})
    first = pre[0][:, -1].argmax(-1).reshape(-1, 1).astype(np.int64)
    want_tokens, want_state = greedy_by_steps(ort_session(dir / "step.onnx"), first, pre[1:], n)
    gen = ort_session(dir / FILE)
    names = [i.name for i in gen.get_inputs()]
    got = gen.run(None, {"max_new_tokens": np.array(n, np.int64), "input_ids": first, **dict(zip(names[2:], pre[1:]))})
    mismatched = int((got[0] != want_tokens).sum())
    worst = max((state_diff(a, b) for a, b in zip(got[1:], want_state) if a.size), default=0.0)
    return {"tokens": n * batch, "mismatched": mismatched, "state_diff": worst}


def write(dir: Path, tolerance: float = 1e-4) -> dict:
    """Builds <dir>/generate.onnx from <dir>/step.onnx, checks it (check()) and records it in card.json."""
    dir = Path(dir)
    step_path, out = dir / "step.onnx", dir / FILE
    model = build(onnx.load(str(step_path)))
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    result = check(dir)
    if result["mismatched"] or result["state_diff"] > tolerance:
        out.unlink()
        raise SystemExit(f"{out}: greedy tokens differ from stepping step.onnx ({result}); not written")
    card_path = dir / "card.json"
    card = json.loads(card_path.read_text())
    entry = {"path": FILE, "sha256": sha256(out), "bytes": out.stat().st_size}
    card["files"] = [f for f in card["files"] if f["path"] != FILE] + [entry]
    card["generate"] = {"step_sha256": sha256(step_path), "checked_tokens": result["tokens"],
                        "state_vs_steps": result["state_diff"]}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return {"dir": str(dir), **result, "bytes": entry["bytes"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", type=Path, help="checkpoint folders (models/<id>)")
    args = ap.parse_args(argv)
    for d in args.checkpoints:
        print(json.dumps(write(d)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
