"""Parity of the Mamba reference: chunked scan vs naive recurrence, step vs prefill, and vs transformers' MambaMixer."""
import pytest
import torch

import model as mamba

torch.manual_seed(0)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return mamba.Model({"d_model": 32, "n_layers": 2, "chunk": 8}, vocab=50).eval()


@pytest.mark.parametrize("T", [1, 2, 7, 8, 9, 31, 64, 100])
def test_chunked_prefill_matches_sequential_recurrence(net, T):
    ids = torch.randint(0, 50, (3, T))
    with torch.no_grad():
        fast = net(ids)
        slow = net.forward_sequential(ids)
    assert fast[0].shape == (3, T, 50)
    for a, b in zip(fast, slow):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_step_continues_prefill(net):
    ids = torch.randint(0, 50, (2, 40))
    with torch.no_grad():
        full = net(ids)[0]
        _, *state = net(ids[:, :25])
        logits = []
        for t in range(25, 40):
            lg, *state = net(ids[:, t : t + 1], *state)
            logits.append(lg)
    torch.testing.assert_close(torch.cat(logits, 1), full[:, 25:], atol=1e-5, rtol=1e-5)


def test_state_spec_matches_state_tensors(net):
    _, *state = net(torch.randint(0, 50, (2, 5)))
    spec = net.state_spec()
    assert [s["name"] for s in spec] == ["conv.0", "ssm.0", "conv.1", "ssm.1"]
    for s, t in zip(spec, state):
        assert list(t.shape) == [2, *s["shape"][1:]]


def test_decay_floor_is_inactive_at_init():
    """The -80/Q clamp (module docstring) must not change the freshly initialised model."""
    mixer = mamba.MambaMixer(64, chunk=32)
    dt = torch.nn.functional.softplus(mixer.dt_proj.bias)  # dt at zero input
    assert (dt[:, None] * -torch.exp(mixer.A_log)).min() > mixer.log_decay_floor


def test_long_sequence_beyond_many_chunks(net):
    """Hundreds of chunks exercise every level of the log-depth scan across chunks."""
    ids = torch.randint(0, 50, (1, 8 * 300 + 3))
    with torch.no_grad():
        fast = net(ids)
        slow = net.forward_sequential(ids)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_mixer_matches_transformers_mamba_mixer():
    """Our block is the reference: same weights give the same output as transformers' MambaMixer (slow path)."""
    transformers = pytest.importorskip("transformers")
    from transformers.models.mamba.modeling_mamba import MambaMixer as HFMixer

    d_model, d_state = 48, 16
    ours = mamba.MambaMixer(d_model, d_state=d_state, d_conv=4, expand=2, chunk=16).eval()
    cfg = transformers.MambaConfig(hidden_size=d_model, state_size=d_state, conv_kernel=4, expand=2,
                                   time_step_rank=ours.dt_rank, use_bias=False, use_conv_bias=True, hidden_act="silu",
                                   use_mambapy=False)
    ref = HFMixer(cfg, layer_idx=0).eval()
    missing, unexpected = ref.load_state_dict(ours.state_dict(), strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    u = torch.randn(2, 37, d_model)
    with torch.no_grad():
        expected = ref(u)
        got, _, _ = ours(u)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
