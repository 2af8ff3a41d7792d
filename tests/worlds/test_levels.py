"""The regimes world's levels from real pool days (hbbatch/worlds/levels.py), checked against the embedded
data itself: simulated daily pool volume and gas per action against the real days', the table against
the sources it is cut from, one compile for any table of the same size, and market paths the agent
cannot move."""

import dataclasses
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from hbbatch.config.sim import MarketConf
from hbbatch.config.world import RECENTER_GAS_UNITS, WorldConf
from hbbatch.sim import RolloutSpec, compiled_batch, make_params, simulate
from hbbatch.sim.price import LevelTable
from hbbatch.worlds import history, inputs, levels
from hbbatch.worlds.build import world_params

N_EPISODES, STEPS_PER_DAY = 256, 1440
REFERENCE_DAY = pd.Timestamp("2024-01-05", tz="UTC")   # MarketConf's 247 M a day: the USDC pool that day
QUANTILES = (0.1, 0.5, 0.9)


def _regimes(n_episodes, n_steps, **world):
    params = make_params()
    built = world_params({"name": "regimes", "kind": "parametric", **world}, {}, {}, n_steps, n_episodes)
    return params._replace(world=built.params), built


@pytest.fixture(scope="module")
def one_day():
    """256 one-day episodes of the regimes world at history's own gas (world.gas_median_usd=null), and its days."""
    params, built = _regimes(N_EPISODES, STEPS_PER_DAY, gas_median_usd=None)
    spec = RolloutSpec(n_episodes=N_EPISODES, n_steps=STEPS_PER_DAY, record_path=True)
    return simulate(spec, params, 42), built


def _real_days(built):
    first, last = (pd.Timestamp(built.info["level_days"][k], tz="UTC") for k in ("first", "last"))
    return lambda frame: frame[(frame["date"] >= first) & (frame["date"] <= last)]


def test_levels__daily_pool_volume_has_the_real_days_quantiles(one_day):
    result, built = one_day
    world = np.asarray(result.path.volume_usd, float).sum(axis=1)
    pool = history.pool_daily(5)
    days = _real_days(built)(pool)
    # the simulated pool is the reference USDC pool: the USDT pool's days times their ratio on the reference day
    scale = MarketConf().volume_usd_per_day / float(pool.loc[pool["date"] == REFERENCE_DAY, "volume_usd"].iloc[0])
    real = np.quantile(days["volume_usd"].to_numpy() * scale, QUANTILES)
    simulated = np.quantile(world, QUANTILES)
    # measured (seed 42): 1.08 / 1.08 / 0.96 x the real q10 / q50 / q90 (one day's 247 M: 7 x / 2.4 x / 0.85 x)
    np.testing.assert_allclose(simulated / real, 1.0, atol=0.25)
    assert simulated[2] / simulated[0] > 0.5 * real[2] / real[0]


def test_levels__daily_gas_per_action_has_the_real_days_quantiles(one_day):
    result, built = one_day
    world = np.asarray(result.path.gas_usd, float).mean(axis=1)
    gas = _real_days(built)(history.gas_daily())
    real = np.quantile(gas["gas_price_gwei"] * 1e-9 * RECENTER_GAS_UNITS * gas["eth_price_usd"], QUANTILES)
    # measured (seed 42): 1.08 / 0.96 / 0.86 x the real q10 / q50 / q90 (the tail rests on few of 256 days)
    np.testing.assert_allclose(np.quantile(world, QUANTILES) / real, 1.0, atol=0.3)


def test_levels__the_table_is_the_sources_on_consecutive_days():
    market = MarketConf()
    found = levels.embedded_level_table(RECENTER_GAS_UNITS, market.variance_level_days, market.garch_alpha,
                                        market.garch_beta, market.gas_vol_elasticity, market.volume_vol_share)
    table = found.table.set_index("date")
    assert (table.index.to_series().diff().dropna() == pd.Timedelta(days=1)).all()
    assert len(table) > 1300 and table.index[0].year == 2021 and table.index[-1].year == 2025
    np.testing.assert_allclose(table["week_hour"], table.index.day_of_week * 24)
    assert found.seasonal.shape == (168,) and found.seasonal.mean() == pytest.approx(1.0)
    # weekends are quiet, US hours busy (hours of the week from Monday 00:00 UTC)
    assert found.seasonal[5 * 24:].mean() < 0.85 and found.seasonal[14:17].mean() > 1.5
    # the opening variance is a GARCH state around its long-run level 1; the variance multiple has mean ~1
    # over 2020-2025 and less over the pool's calmer days
    assert 0.8 < table["start_variance_ratio"].mean() < 1.3 and 0.5 < table["variance_multiple"].mean() < 1.0
    # gas on a day of median volatility: the real gas itself there
    gas = inputs.daily_gas_usd(history.gas_daily(), RECENTER_GAS_UNITS)
    assert table["gas_usd"].median() == pytest.approx(gas[table.index].median(), rel=0.1)


def test_levels__gas_at_the_worlds_deployment_level_keeps_the_days_spread():
    _, deployed = _regimes(4, 64)                       # world.gas_median_usd: the deployment level, $1.62
    _, history_gas = _regimes(4, 64, gas_median_usd=None)
    assert deployed.info["gas_median_usd"] == pytest.approx(WorldConf().gas_median_usd)
    assert deployed.info["gas_level_days"] == WorldConf().gas_level_days and history_gas.info["gas_scale"] == 1.0
    deployed_q, history_q = (np.asarray(b.info["level_days"]["quantiles"]["gas_usd"]) for b in (deployed, history_gas))
    # the years' swings go (each day against its 90-day level), the day-to-day spread stays
    assert 1.5 < deployed_q[2] / deployed_q[0] < history_q[2] / history_q[0]


def test_levels__another_table_of_the_same_size_does_not_recompile():
    params, _ = _regimes(8, 64)
    spec = RolloutSpec(n_episodes=8, n_steps=64)
    compiled_batch.cache_clear()
    first = simulate(spec, params, 1)
    dearer = params.world._replace(days=params.world.days * np.array([1, 1, 1, 1, 3, 1], dtype=params.world.days.dtype))
    second = simulate(spec, params._replace(world=LevelTable(*dearer)), 1)
    assert compiled_batch(spec)[0]._cache_size() == 1
    assert np.all(second.episodes["gas_usd"] > 2.9 * first.episodes["gas_usd"])


def test_levels__market_paths_do_not_depend_on_agent_settings():
    params, built = _regimes(16, 720)
    spec = RolloutSpec(n_episodes=16, n_steps=720, record_path=True)
    calm = simulate(spec, params, 5)
    busy_agent = make_params(agent={"gas_usd": 0.5, "fee_gate_usd": 0.0,
                                    "width": {"mean_revert": 200, "jumpy": 300, "trend_up": 400},
                                    "rules": {"cooldown_minutes": 5, "edge_fraction": 0.3,
                                              "enabled": ["out_of_range", "edge"]}},
                             floors={"mean_revert": 200, "jumpy": 300, "trend_up": 400}).agent
    busy = simulate(dataclasses.replace(spec, gating="off"), params._replace(agent=busy_agent), 5)
    for name in ("price_usd", "volume_usd", "gas_usd", "pool_liquidity"):
        np.testing.assert_array_equal(getattr(calm.path, name), getattr(busy.path, name), err_msg=name)
    assert not np.array_equal(calm.episodes["actions"], busy.episodes["actions"])


def test_levels__forward_variance_and_garch_filter_by_hand():
    hours = pd.date_range("2024-01-01", periods=72, freq="h", tz="UTC")
    returns = pd.Series(np.where(np.arange(72) < 48, 0.01, 0.03), index=hours)
    level = levels.forward_variance(returns, 1.0)
    assert level[0] == pytest.approx(1e-4) and level[24] == pytest.approx(1e-4) and level[48] == pytest.approx(9e-4)
    assert level[30] == pytest.approx((18 * 1e-4 + 6 * 9e-4) / 24)
    assert np.isfinite(level[60]) and np.isnan(level[61])   # 12 of the 24 hours left: a level; 11: none
    # g_0 = 1; g_t = (1 - a - b) + a z_{t-1}^2 + b g_{t-1}
    g = levels.garch_variance(np.array([1.0, 3.0, 0.0, np.nan]), 0.1, 0.8)
    np.testing.assert_allclose(g, [1.0, 1.0, 0.1 + 0.9 + 0.8, 0.1 + 0.8 * 1.8])


def test_levels__seasonal_profile_recovers_a_known_weekly_pattern():
    hours = pd.date_range("2024-01-01", periods=168 * 200, freq="h", tz="UTC")   # a Monday 00:00 UTC
    truth = np.where(np.arange(168) >= 120, 0.5, 1.2)                          # quiet weekends
    truth = truth / truth.mean()
    z = np.random.default_rng(0).standard_normal(len(hours)) * np.sqrt(np.tile(truth, 200))
    profile = levels.seasonal_variance(z, levels.hour_of_week(hours))
    assert profile.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(profile[:120].mean(), truth[0], rtol=0.03)
    np.testing.assert_allclose(profile[120:].mean(), truth[-1], rtol=0.05)
