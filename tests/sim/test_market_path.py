"""The market alone (hbbatch.sim.market_path) is the market the rollout's episodes see: the oracle is the
full rollout's own recorded path, step for step, in a parametric and a historical world."""

import numpy as np
import pytest

from hbbatch.sim import RolloutSpec, make_params, simulate
from hbbatch.sim.history import GAS_USD, LOG_HIGH, LOG_LOW, LOG_RETURN, N_COLUMNS, ACTIVITY, HistoryParams
from hbbatch.sim.market_path import market_paths

FIELDS = ("price_usd", "volume_usd", "gas_usd", "pool_liquidity")


def _historical(params):
    rng = np.random.default_rng(3)
    n = 400
    bars = np.zeros((n, N_COLUMNS))
    bars[:, LOG_RETURN] = rng.normal(0, 0.004, n)
    bars[:, LOG_HIGH] = np.maximum(bars[:, LOG_RETURN], 0) + rng.uniform(0, 0.003, n)
    bars[:, LOG_LOW] = np.minimum(bars[:, LOG_RETURN], 0) - rng.uniform(0, 0.003, n)
    bars[:, ACTIVITY] = rng.lognormal(0, 0.5, n)
    bars[:, GAS_USD] = rng.lognormal(2, 0.7, n)
    f = lambda x: np.asarray(x, np.float32)  # noqa: E731
    world = HistoryParams(bars=f(bars), pool_levels=f([[0.7, 1.3], [1.5, 0.8]]), restart_prob=f(0.05),
                          window_bars=np.asarray(0, np.int32), steps_per_bar=np.asarray(3, np.int32),
                          drift_per_step=f(-1e-5), gas_scale=f(2.0), lp_fee_share=f(0.75), trend_tstat=f(2.5),
                          jumpy_variance_share=f(0.35))
    return params._replace(world=world)


@pytest.mark.parametrize("world", ["parametric", "historical"])
def test_market_path__is_the_rollouts_recorded_market_step_for_step(world):
    params = make_params(market={"gas_spells_per_day": 20.0})
    params = _historical(params) if world == "historical" else params
    spec = RolloutSpec(n_episodes=5, n_steps=300, gating="ev", record_path=True)
    full = simulate(spec, params, seed=11, episode_offset=7)
    alone = market_paths(spec, params, seed=11, episode_offset=7)
    np.testing.assert_array_equal(alone.price_start_usd, full.episodes["price_start"])
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(alone, name), np.asarray(getattr(full.path, name)), err_msg=name)
    assert np.ptp(alone.price_usd) > 0 and np.ptp(alone.gas_usd) > 0   # a moving market, not a constant


def test_market_path__other_seeds_and_episodes_are_other_paths():
    params, spec = make_params(), RolloutSpec(n_episodes=3, n_steps=50)
    base = market_paths(spec, params, seed=1)
    assert not np.array_equal(base.price_usd, market_paths(spec, params, seed=2).price_usd)
    shifted = market_paths(spec, params, seed=1, episode_offset=1)
    np.testing.assert_array_equal(shifted.price_usd[:2], base.price_usd[1:])   # episode e is the same path


def test_market_path__carries_the_lps_fee_after_a_fee_switch():
    params = _historical(make_params())
    alone = market_paths(RolloutSpec(n_episodes=2, n_steps=20), params, seed=1)
    np.testing.assert_allclose(alone.lp_fee_rate, 0.75 * float(params.market.fee_rate), rtol=1e-6)
