import pytest

from hbbatch.sim import RolloutSpec, make_params


@pytest.fixture
def tiny():
    """A small batch that still exercises every regime and most rules."""
    return RolloutSpec(n_episodes=64, n_steps=720)


@pytest.fixture
def default_params():
    return make_params()
