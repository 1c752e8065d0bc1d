"""Parity of the RWKV references (RWKV-6 Finch and RWKV-4): the shared contract (chunked prefill vs the naive
token-by-token recurrence, step vs prefill), exactness in float64, many chunks, the decay floor, and RWKV-4's
sub-layers against transformers' RwkvSelfAttention / RwkvFeedForward with the same weights."""
import pytest
import torch

import model as rwkv
from ssmbench_trainer.linattn import chunk_scan
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential

# Tiny tensors: extra intra-op threads only contend (on a busy 2-core machine this file took 76 s with the default
# thread count and 7 s with one).
torch.set_num_threads(1)


def randomize(net, lora: float = 0.1, decay_noise: float = 0.5):
    """Fresh RWKV init zeroes the output projections (every path then agrees trivially): draw every weight."""
    modules = dict(net.named_modules())
    with torch.no_grad():
        for name, p in net.named_parameters():
            owner, leaf = name.rsplit(".", 1)
            if isinstance(modules[owner], torch.nn.Linear):  # keys smaller, as RWKV's init has them (0.1x)
                p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5 * (0.5 if owner.endswith(".0.fn.key") else 1.0))
            elif leaf.endswith(("w1", "w2")):
                p.copy_(torch.randn_like(p) * lora)
            elif "maa" in leaf or "time_mix" in leaf:
                p.copy_(torch.rand_like(p))
            elif leaf in ("time_decay", "time_faaaa", "time_first"):
                p.add_(torch.randn_like(p) * decay_noise)
            elif owner.endswith(("ln_x", "norm")) and leaf == "weight":
                p.copy_(1 + 0.2 * torch.randn_like(p))
    return net


def make(version: int, **config):
    torch.manual_seed(0)
    cfg = {"version": version, "d_model": 32, "n_layers": 2, "head_size": 16, "chunk": 8, "v4_chunk": 8, **config}
    return randomize(rwkv.Model(cfg, vocab=50)).eval()


@pytest.mark.parametrize("version", [6, 4])
def test_contract(version):
    """Lengths 1 .. 100 with chunk 8: one chunk, exact multiples, and many chunks with a ragged end.

    RWKV-6's matrix states reach |S| ~ 30 here (sums of ~T outer products, decays near 1); float32 rounding of the
    naive recurrence alone is ~1e-5 absolute there, so v6 gets 5e-5 (the float64 test below shows the two forms
    are the same math to ~1e-12)."""
    net = make(version)
    torch.manual_seed(1)
    check_contract(net, 50, tol=5e-5 if version == 6 else 1e-5)


@pytest.mark.parametrize("version", [6, 4])
def test_chunked_equals_sequential_in_float64(version):
    """Same math, not just close: in float64 the chunked prefill equals the recurrence to rounding."""
    net = make(version, chunk=4, v4_chunk=4).double()
    torch.manual_seed(2)
    check_parallel_matches_sequential(net, 50, lengths=(1, 3, 4, 5, 17, 40), batch=2, tol=1e-10)


@pytest.mark.parametrize("version", [6, 4])
def test_long_sequence_beyond_many_chunks(version):
    """Hundreds of chunks exercise every level of the log-depth scan across chunks."""
    net = make(version)
    torch.manual_seed(3)
    check_parallel_matches_sequential(net, 50, lengths=(8 * 150 + 3,), batch=1, tol=1e-4)


def test_chunk_scan_matches_the_sequential_recurrence():
    """The scan across chunks (linattn.chunk_scan, shared with the other families) is S_c = exp(G_c) S_{c-1} + E_c."""
    torch.manual_seed(4)
    G, E = -torch.rand(2, 3, 13, 4, 1), torch.randn(2, 3, 13, 4, 4)
    seq, h = [], torch.zeros(2, 3, 4, 4)
    for c in range(13):
        h = torch.exp(G[:, :, c]) * h + E[:, :, c]
        seq.append(h)
    torch.testing.assert_close(chunk_scan(G, E, 4), torch.stack(seq, 2))


def test_decay_floor_is_inactive_at_init():
    """The -160/Q clamp (module docstring) cannot bind on a freshly initialised RWKV-6, whatever the input."""
    for layer in range(2):
        mix = rwkv.TimeMix6(64, layer, 2, head_size=32, chunk=32)
        d_max = mix.time_decay + mix.time_decay_w2.abs().sum(0)   # |tanh| <= 1 bounds the LoRA
        assert (-torch.exp(d_max)).min() > mix.log_decay_floor
        assert mix.log_decay_floor == -5.0


def test_decay_at_the_floor_stays_finite_and_exact():
    """Every channel at the floor (w = e^-5 each step) with large r, k: the chunked form neither overflows nor drifts,
    and its gradients are finite."""
    net = make(6)
    with torch.no_grad():
        for layer in net.layers:
            layer[0].fn.time_decay.fill_(4.0)
            layer[0].fn.receptance.weight.mul_(20)
            layer[0].fn.key.weight.mul_(20)
    torch.manual_seed(5)
    check_parallel_matches_sequential(net, 50, lengths=(7, 40), batch=2, tol=1e-4)
    net.train()
    ids = torch.randint(0, 50, (2, 40))
    net.head(net.hidden(ids)).logsumexp(-1).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name


def _hf_config(d_model, d_ffn):
    transformers = pytest.importorskip("transformers")
    return transformers.RwkvConfig(hidden_size=d_model, attention_hidden_size=d_model, intermediate_size=d_ffn,
                                   num_hidden_layers=2, vocab_size=50)


def test_rwkv4_time_mix_matches_transformers():
    """Our RWKV-4 time-mix is transformers' RwkvSelfAttention: same weights, same outputs; the same final state
    (compared as the represented num/den and log den, since ours is normalised); and one more step from our state."""
    from transformers.models.rwkv.modeling_rwkv import RwkvSelfAttention, rwkv_linear_attention_cpu

    D, T = 32, 37
    ours = make(4, d_model=D).layers[0][0].fn
    ref = RwkvSelfAttention(_hf_config(D, 128), layer_id=0).eval()
    missing, unexpected = ref.load_state_dict(ours.state_dict(), strict=True)
    assert not missing and not unexpected
    torch.manual_seed(6)
    x = torch.randn(2, T + 1, D)
    with torch.no_grad():
        expected, _ = ref(x[:, :T])                                      # its own empty state (max = -1e38)
        got, (shift, num, den, mx) = ours(x[:, :T])
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
        _, k, v, _ = ref.extract_key_value(x[:, :T])
        _, (hf_num, hf_den, hf_max) = rwkv_linear_attention_cpu(ref.time_decay, ref.time_first, k, v, return_state=True)
        torch.testing.assert_close(num / den, hf_num / hf_den, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(mx + torch.log(den), hf_max + torch.log(hf_den), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(shift, x[:, T - 1])
        # One token from our state. transformers 5.17 mixes a [B, 1, D] token with a [B, D] shift state, which
        # broadcasts to [B, B, D] when B > 1 (its batched single-token step is wrong): compare at batch 1.
        state = [torch.zeros(1, D, 2), *(t[:1].unsqueeze(-1).repeat(1, 1, 2) for t in (shift, num, den, mx))]
        expected, state = ref(x[:1, T:], state=state, use_cache=True)
        got, (shift, num, den, mx) = ours.step(x[:1, T], [t[:1] for t in (shift, num, den, mx)])
        torch.testing.assert_close(got, expected[:, 0], atol=1e-5, rtol=1e-4)
        hf_num, hf_den, hf_max = (t[:, :, 0] for t in state[2:])
        torch.testing.assert_close(num / den, hf_num / hf_den, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(mx + torch.log(den), hf_max + torch.log(hf_den), atol=1e-5, rtol=1e-4)


def test_rwkv4_channel_mix_matches_transformers():
    from transformers.models.rwkv.modeling_rwkv import RwkvFeedForward

    D = 32
    ours = make(4, d_model=D).layers[0][1].fn
    ref = RwkvFeedForward(_hf_config(D, ours.key.out_features), layer_id=0).eval()
    ref.load_state_dict(ours.state_dict(), strict=True)
    torch.manual_seed(7)
    x = torch.randn(2, 21, D)
    with torch.no_grad():
        state = [torch.zeros(2, D, 2) for _ in range(5)]
        expected, state = ref(x, state=state)
        got, (shift,) = ours(x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(shift, state[0][:, :, 0])


def test_default_config_shapes():
    net = rwkv.Model({}, vocab=64)
    spec = {s["name"]: s["shape"] for s in net.state_spec()}
    assert spec == {"shift.0.att": ["batch", 64], "wkv.0": ["batch", 2, 32, 32], "shift.0.ffn": ["batch", 64],
                    "shift.1.att": ["batch", 64], "wkv.1": ["batch", 2, 32, 32], "shift.1.ffn": ["batch", 64]}
    assert net.layers[0][1].fn.key.out_features == 224
    v4 = rwkv.Model({"version": 4}, vocab=64)
    assert [s["name"] for s in v4.state_spec()[:5]] == ["shift.0.att", "wkv.0.num", "wkv.0.den", "wkv.0.max", "shift.0.ffn"]
    # the trainer leaves mixes, LoRAs, decays and the bonus out of weight decay, not the projection matrices
    marked = {n for n, p in net.named_parameters() if getattr(p, "_no_weight_decay", False)}
    assert "layers.0.0.fn.time_maa_w1" in marked and "layers.0.0.fn.key.weight" not in marked


def test_rwkv4_extreme_keys_stay_finite():
    """Keys of +-300 (e^k far outside float32): the stabilised forms neither overflow nor divide 0 by 0, the empty
    zero state included, and chunked equals stepped."""
    mix = make(4).layers[0][0].fn
    with torch.no_grad():
        mix.key.weight.mul_(100)
        torch.manual_seed(8)
        x = torch.randn(2, 29, 32) * 3
        got, states = mix(x)
        step_states, outs = [torch.zeros(2, 32) for _ in range(4)], []
        for t in range(x.shape[1]):
            o, step_states = mix.step(x[:, t], step_states)
            outs.append(o)
    assert torch.isfinite(got).all() and all(torch.isfinite(s).all() for s in states)
    torch.testing.assert_close(got, torch.stack(outs, 1), atol=1e-4, rtol=1e-4)
    for a, b in zip(states, step_states):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
