"""onnxruntime's fused contrib ops (domain com.microsoft) in the exported graphs, where the installed onnxruntime has
them: each is a torch custom op whose eager body is the plain recurrence (tests, and anything that calls it
outside export) and whose ONNX translation is the one fused node. Families call them only while exporting
(`exporting()`), so PyTorch eager, training and the baseline of the speed suite keep the reference code. A graph
with such a node runs on onnxruntime only (node, web and the browser here): other ONNX runtimes lack the domain.

- `linear_attention(q, k, v, S, decay)`: com.microsoft LinearAttention (in onnxruntime 1.30, the version pinned here;
  its "linear" and "gated" update rules). Per head, for t = 1..T:  S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t,  o_t = q_t S_t  (scale 1), with
  g_t a scalar per head or a vector over the key dim (none: g = 0). q, k [B, T, H*d_k], v [B, T, H*d_v] packed;
  S [B, H, d_k, d_v]. One node replaces a decode step's outer product, decay and read-out, and a prefill's
  whole chunked form (onnxruntime's CPU kernel runs the recurrence itself).

- `causal_conv_step(x, state, weight, bias)`: com.microsoft CausalConvWithState with a fused SiLU, for Mamba's
  short depthwise conv in the decode step: window = [state, x], out = SiLU(sum(window * weight) + bias), the new
  state the window's last k-1 positions. One node for the step's concat, product, sum, bias, SiLU and slice
  (1.07x-1.17x faster Mamba-1 steps in ab_ort's A/B, docs/speed.md).

Every graph that uses them is checked against PyTorch within the contract's 1e-4 at export (export.check_parity),
and runs on onnxruntime-node and onnxruntime-web alike (both 1.30 builds have the kernel).
"""
from __future__ import annotations

import onnx
import onnxscript
import torch

DOMAIN = "com.microsoft"


def _declare(name: str, inputs: list[tuple[str, bool]], outputs: list[str], attributes: dict[str, str]) -> None:
    """Declares an onnxruntime contrib op to onnx's schema registry (once per process), so that onnxscript can build
    its node: onnx knows only the standard ops; onnxruntime checks the node against its own schema when it loads."""
    try:
        onnx.defs.get_schema(name, 1, DOMAIN)
        return
    except onnx.defs.SchemaError:
        pass
    P, A = onnx.defs.OpSchema.FormalParameter, onnx.defs.OpSchema.Attribute
    opt = onnx.defs.OpSchema.FormalParameterOption
    kinds = {"int": onnx.defs.OpSchema.AttrType.INT, "float": onnx.defs.OpSchema.AttrType.FLOAT,
             "string": onnx.defs.OpSchema.AttrType.STRING}
    onnx.defs.register_schema(onnx.defs.OpSchema(
        name, DOMAIN, 1, f"onnxruntime's {name} (declared by ssmbench_trainer.ortops)",
        inputs=[P(n, "T", "", param_option=opt.Optional if optional else opt.Single) for n, optional in inputs],
        outputs=[P(n, "T", "") for n in outputs],
        type_constraints=[("T", ["tensor(float)", "tensor(double)"], "")],
        attributes=[A(a, kinds[k], "", required=False) for a, k in attributes.items()],
    ))


_declare("LinearAttention", [("query", False), ("key", False), ("value", False), ("past_state", True), ("decay", True),
                             ("beta", True)], ["output", "present_state"],
         {"update_rule": "string", "q_num_heads": "int", "kv_num_heads": "int", "scale": "float", "chunk_size": "int"})
MS = onnxscript.values.Opset(DOMAIN, 1)


def exporting(*tensors: torch.Tensor) -> bool:
    """True while torch.export traces a float32 model: the time to emit the fused ops (their kernels take float32,
    float16 and bfloat16, so a float64 graph keeps the plain form)."""
    return torch.compiler.is_exporting() and all(t.dtype == torch.float32 for t in tensors)


# --- LinearAttention -------------------------------------------------------------------------------------------
@torch.library.custom_op("ssmbench::linear_attention", mutates_args=())
def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, state: torch.Tensor,
                     decay: torch.Tensor | None, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The recurrence token by token (module docstring); decay None, [B, T, H] or [B, T, H*d_k]."""
    B, T, _ = v.shape
    dk, dv = state.shape[-2], state.shape[-1]
    qh, kh, vh = q.view(B, T, heads, dk), k.view(B, T, heads, dk), v.view(B, T, heads, dv)
    S, outs = state, []
    for t in range(T):
        if decay is not None:
            g = decay[:, t].view(B, heads, -1)                          # [B, H, 1] or [B, H, d_k]
            S = S * torch.exp(g).unsqueeze(-1)
        S = S + kh[:, t].unsqueeze(-1) * vh[:, t].unsqueeze(-2)
        outs.append((qh[:, t].unsqueeze(-2) @ S).squeeze(-2))
    return torch.stack(outs, 1).reshape(B, T, heads * dv), S


@linear_attention.register_fake
def _(q, k, v, state, decay, heads):
    return v.new_empty(v.shape), state.new_empty(state.shape)


def _linear_attention_onnx(q, k, v, state, decay, heads: int):
    rule = "linear" if decay is None else "gated"
    inputs = [q, k, v, state] + ([] if decay is None else [decay])
    return MS.LinearAttention(*inputs, update_rule=rule, q_num_heads=heads, kv_num_heads=heads, scale=1.0, _outputs=2)


# --- CausalConvWithState ---------------------------------------------------------------------------------------
_declare("CausalConvWithState", [("input", False), ("weight", False), ("bias", True), ("past_state", True)],
         ["output", "present_state"], {"activation": "string", "ndim": "int", "dilation": "int"})


@torch.library.custom_op("ssmbench::causal_conv_step", mutates_args=())
def causal_conv_step(x: torch.Tensor, state: torch.Tensor, weight: torch.Tensor,
                     bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One token of a causal depthwise conv with a fused SiLU: x [B, C], state [B, C, k-1], weight [C, 1, k],
    bias [C] -> (SiLU(conv) [B, C], the next state [B, C, k-1])."""
    window = torch.cat([state, x.unsqueeze(-1)], dim=-1)
    return torch.nn.functional.silu((window * weight.squeeze(1)).sum(-1) + bias), window[:, :, 1:].contiguous()


@causal_conv_step.register_fake
def _(x, state, weight, bias):
    return x.new_empty(x.shape), state.new_empty(state.shape)


def _causal_conv_step_onnx(x, state, weight, bias):
    out, present = MS.CausalConvWithState(onnxscript.opset18.Unsqueeze(x, [2]), weight, bias, state,
                                          activation="silu", _outputs=2)
    return onnxscript.opset18.Squeeze(out, [2]), present


TRANSLATIONS = {
    torch.ops.ssmbench.linear_attention.default: _linear_attention_onnx,
    torch.ops.ssmbench.causal_conv_step.default: _causal_conv_step_onnx,
}
