"""Parity of the Mamba reference: the shared contract (chunked scan vs naive recurrence, step vs prefill),
long sequences across many chunks, and equality with transformers' MambaMixer."""
import pytest
import torch

import model as mamba
from ssmbench_trainer.contract import check_contract, check_parallel_matches_sequential


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return mamba.Model({"d_model": 32, "n_layers": 2, "chunk": 8}, vocab=50).eval()


def test_contract(net):
    torch.manual_seed(1)
    check_contract(net, 50)


def test_long_sequence_beyond_many_chunks(net):
    """Hundreds of chunks exercise every level of the log-depth scan across chunks."""
    torch.manual_seed(2)
    check_parallel_matches_sequential(net, 50, lengths=(8 * 300 + 3,), batch=1, tol=1e-4)


def test_decay_floor_is_inactive_at_init():
    """The -80/Q clamp (module docstring) must not change the freshly initialised model."""
    mixer = mamba.MambaMixer(64, chunk=32)
    dt = torch.nn.functional.softplus(mixer.dt_proj.bias)  # dt at zero input
    assert (dt[:, None] * -torch.exp(mixer.A_log)).min() > mixer.log_decay_floor


def test_mixer_matches_transformers_mamba_mixer():
    """Our block is the reference: same weights give the same output as transformers' MambaMixer (slow path)."""
    transformers = pytest.importorskip("transformers")
    from transformers.models.mamba.modeling_mamba import MambaMixer as HFMixer

    torch.manual_seed(3)
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
        got, _ = ours(u)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
