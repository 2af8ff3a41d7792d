"""The replay's warm-up (hbbatch.sim.replay, `warmup_steps`) on the real 2024-01-05 minute bars, against
three oracles: the same bars folded by hand through `policy.remember` in a Python loop, the EWMAs in closed
form with numpy, and the simulator's own historical world (`history.warmup_world` and a whole episode of
`rollout.simulate`) over the same bars."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hbbatch.shadow.bars import read_minute_bars, to_bars
from hbbatch.sim import RolloutSpec, env, make_params, policy, precision, simulate
from hbbatch.sim.history import (ACTIVITY, GAS_USD, LOG_HIGH, LOG_LOW, LOG_RETURN, N_COLUMNS, EpisodeLevel,
                                 HistoryParams, warmup_world)
from hbbatch.sim.price import gas_paid_usd
from hbbatch.sim.replay import Bars, opening_state, replay
from hbbatch.sim.types import ACTION_KINDS

BARS = (Path(__file__).resolve().parents[1] / "data" / "mainnet_usdc_weth_2024-01-05"
        / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.minute.csv")
WARMUP, STEPS = 240, 1200         # four hours folded in, then the rest of the day's decisions
# 100-tick bands and the EV gate (believed gas $1, no fee gate): a busy agent whose gate reads the memory's
# variance and volume estimates
WIDTH_TICKS, GATING = 100, "ev"


def _settings(price_start_usd: float, pool_liquidity: float):
    market = {"price_start_usd": price_start_usd, "pool_liquidity": pool_liquidity, "gas_usd_median": 4.7}
    widths = dict.fromkeys(("mean_revert", "jumpy", "trend_up"), WIDTH_TICKS)
    agent = {"width": widths, "gas_usd": 1.0, "fee_gate_usd": 0.0, "rules": {"cooldown_minutes": 5},
             "rails": {"max_actions": 1000, "max_actions_episodes": 1}}
    return make_params(market=market, agent=agent, floors=widths, dtype="float64", gating=GATING)


@pytest.fixture(scope="module")
def day():
    frame = read_minute_bars(BARS)
    bars, price_start = to_bars(frame, "float64", WARMUP)
    # one pool liquidity for both models (the historical world's is one level per window)
    liquidity = float(np.median(frame["pool_liquidity"]))
    bars = bars._replace(pool_liquidity=np.full_like(bars.pool_liquidity, liquidity))
    return bars, price_start, liquidity


def _prior(params) -> policy.Memory:
    """The simulator's cold memory: the regime mix's variance per step and the market's volume level."""
    m = params.market
    prior_vol = float(np.sum(np.asarray(m.vol_annual) * np.diff(np.asarray(m.regime_cdf), prepend=0.0)))
    return policy.initial_memory(jnp.float64(prior_vol**2 * float(m.dt_years)), m.volume_usd_per_step)


def _warmed(bars: Bars, params, n: int) -> policy.Memory:
    with precision.scope():
        return jax.device_get(opening_state(params, bars.pool_liquidity[n], bars.log_return[:n],
                                            bars.volume_usd[:n]).memory)


def _assert_memory_equal(got, expected, rtol):
    for name in got._fields:
        np.testing.assert_allclose(np.asarray(getattr(got, name)), np.asarray(getattr(expected, name)), rtol=rtol,
                                   atol=0, err_msg=name)


def test_warmup__memory_is_the_bars_folded_by_hand_and_in_closed_form(day):
    bars, price_start, liquidity = day
    params = _settings(price_start, liquidity)
    warmed = _warmed(bars, params, WARMUP)
    with precision.scope():
        memory = _prior(params)
        for r, v in zip(bars.log_return[:WARMUP], bars.volume_usd[:WARMUP]):   # one remember per bar, eagerly
            memory = policy.remember(memory, jnp.float64(r), jnp.float64(v), jnp.bool_(False), jnp.bool_(False),
                                     params.agent)
        memory, cold = jax.device_get((memory, _prior(params)))
    _assert_memory_equal(warmed, memory, rtol=1e-12)

    # the EWMAs in closed form: m_n = (1 - a)^n m_0 + sum_j a (1 - a)^(n - 1 - j) x_j
    r, v = np.asarray(bars.log_return[:WARMUP]), np.asarray(bars.volume_usd[:WARMUP])

    def ewma(start, x, alpha):
        weights = alpha * (1 - alpha) ** np.arange(len(x) - 1, -1, -1)
        return (1 - alpha) ** len(x) * start + np.sum(weights * x)

    a = params.agent
    assert float(warmed.mean_return) == pytest.approx(ewma(0.0, r, float(a.classifier_alpha)), rel=1e-10)
    assert float(warmed.var_long) == pytest.approx(ewma(float(cold.var_long), r**2, float(a.vol_long_alpha)),
                                                   rel=1e-10)
    assert float(warmed.var_short) == pytest.approx(ewma(float(cold.var_short), r**2, float(a.vol_short_alpha)),
                                                    rel=1e-10)
    assert float(warmed.mean_volume_usd) == pytest.approx(
        ewma(float(cold.mean_volume_usd), v, float(a.vol_long_alpha)), rel=1e-10)
    assert float(warmed.steps_since_action) == float(cold.steps_since_action) + WARMUP
    # and the warm-up matters: the morning's jumps are remembered, and its short-window robust volatility sits
    # about a fifth below its long-window one (the prior: equal), which the width rules read
    assert float(warmed.mean_sq_jump) > 0.0 == float(cold.mean_sq_jump)
    assert float(policy.robust_vol_ratio(warmed)) < 0.85 and float(policy.robust_vol_ratio(cold)) == 1.0


def _history(bars: Bars, params) -> HistoryParams:
    """The simulator's historical world over the same bars: one step per bar, the bar's own volume, the
    replay's median gas, no drift, no restarts, episode e starting at bar e * WARMUP."""
    f = lambda x: np.asarray(x, np.float64)  # noqa: E731
    r = np.asarray(bars.log_return)
    columns = np.zeros((len(r), N_COLUMNS))
    columns[:, LOG_RETURN] = r
    columns[:, LOG_HIGH], columns[:, LOG_LOW] = np.maximum(r, 0.0), np.minimum(r, 0.0)
    columns[:, ACTIVITY] = np.asarray(bars.volume_usd) / float(params.market.volume_usd_per_step)
    with precision.scope():
        columns[:, GAS_USD] = float(gas_paid_usd(jnp.float64(0.0), jnp.bool_(False), params.market))
    return HistoryParams(bars=f(columns), pool_levels=f([[1.0, 1.0]]), restart_prob=f(0.0),
                         window_bars=np.asarray(WARMUP, np.int32), steps_per_bar=np.asarray(1, np.int32),
                         drift_per_step=f(0.0), gas_scale=f(1.0), lp_fee_share=f(1.0),
                         trend_tstat=f(params.agent.trend_tstat),
                         jumpy_variance_share=f(params.agent.jumpy_variance_share))


def test_warmup__memory_is_the_simulators_historical_warmup_of_the_same_bars(day):
    bars, price_start, liquidity = day
    params = _settings(price_start, liquidity)
    world = _history(bars, params)
    with precision.scope():
        level = EpisodeLevel(volume_multiple=jnp.float64(1.0), liquidity_multiple=jnp.float64(1.0))
        before = warmup_world(jnp.zeros((2,), jnp.uint32), jnp.int32(WARMUP), level, jnp.float64(liquidity),
                              jax.tree.map(jnp.asarray, world), params.market.fee_rate,
                              params.market.volume_usd_per_step, WARMUP)
        simulated = jax.device_get(jax.jit(lambda m: env.warm_up(m, before, WARMUP, params))(_prior(params)))
    _assert_memory_equal(_warmed(bars, params, WARMUP), simulated, rtol=1e-12)


def _actions(path) -> list[str]:
    return [ACTION_KINDS[int(a)] for a in np.asarray(path.action).reshape(-1)]


def test_warmup__first_decisions_are_the_simulators_on_the_same_bars_where_cold_ones_are_not(day):
    bars, price_start, liquidity = day
    params = _settings(price_start, liquidity)
    head = jax.tree.map(lambda a: a[: WARMUP + STEPS], bars)
    warm_metrics, warm = replay(head, params, gating=GATING, warmup_steps=WARMUP)
    cold_metrics, cold = replay(jax.tree.map(lambda a: a[WARMUP:], head), params, gating=GATING)
    # the simulator: episode 1 of the historical world over the same bars starts at bar WARMUP, warmed up on
    # the WARMUP bars before it
    spec = RolloutSpec(n_episodes=1, n_steps=STEPS, gating=GATING, dtype="float64", record_path=True,
                       warmup_steps=WARMUP)
    simulated = simulate(spec, params._replace(world=_history(bars, params)), seed=0, episodes=[1]).path

    assert int(warm_metrics["warmup_steps"]) == WARMUP and int(cold_metrics["warmup_steps"]) == 0
    assert len(_actions(warm)) == len(_actions(simulated)) == STEPS
    assert _actions(warm) == _actions(simulated)
    for band in ("tick_lower", "tick_upper"):
        assert np.array_equal(np.asarray(getattr(warm, band)), np.asarray(getattr(simulated, band)).reshape(-1))
    assert sum(a != "hold" for a in _actions(warm)) >= 5                   # decisions worth comparing
    # started cold on the same bars (as before the warm-up), the replay decided otherwise than the simulator
    # at 10 of the 1,200 steps (9 actions against 7) and held another band for 426 of them
    differing = sum(a != b for a, b in zip(_actions(cold), _actions(simulated)))
    other_band = np.sum(np.asarray(cold.tick_lower) != np.asarray(simulated.tick_lower).reshape(-1))
    assert differing >= 5 and other_band >= 100


def test_warmup__bars_no_longer_than_the_warm_up_are_refused(day):
    bars, price_start, liquidity = day
    short = jax.tree.map(lambda a: a[:WARMUP], bars)
    with pytest.raises(ValueError, match=f"warmup_steps={WARMUP}: the replay needs more bars than its warm-up"):
        replay(short, _settings(price_start, liquidity), gating=GATING, warmup_steps=WARMUP)
