"""Within-bar variance profiles against real data. The oracle is the real finer path: on dates with 5-minute
(and 1-minute) bars, the bars are aggregated to hours, the simulator's own sub-bar step (`history.move`)
rebuilds the hour's steps with real profiles and flat, and the policy's own volatility-ratio estimator
(`update_estimates`, `robust_vol_ratio`, default thresholds) runs over each path. The profiles a test hour
draws come from other dates than its own (out of sample). Data: the embedded Binance ETH/USDT bars."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from hbbatch.config.sim import RulesConf
from hbbatch.sim import make_params
from hbbatch.sim import history as sim_history
from hbbatch.sim.policy import initial_memory, robust_vol_ratio, update_estimates
from hbbatch.worlds import history, profiles

WEEK_MINUTES = 10080.0


def _whole_hours(minutes: int) -> dict[str, np.ndarray]:
    """Hours whose 60 / minutes bars and the bar before them are all present: the fine log returns (vs the
    previous close), the hour's log return, high and low vs the previous hour's close, and its open time."""
    bars = history.bars(minutes)
    seconds = pd.DatetimeIndex(bars["date"]).as_unit("s").asi8
    n = 60 // minutes
    hour, slot = seconds // 3600, (seconds % 3600) // (60 * minutes)
    counts = pd.Series(slot).groupby(hour).count()
    whole = counts.index[counts == n].to_numpy()
    whole = whole[np.isin(whole - 1, whole)]
    rows = np.flatnonzero(np.isin(hour, whole)).reshape(-1, n)
    assert (slot[rows] == np.arange(n)).all()
    close, high, low = (bars[c].to_numpy(float) for c in ("close", "high", "low"))
    opening = close[rows[:, 0] - 1]
    returns = np.log(close[rows] / np.concatenate([opening[:, None], close[rows[:, :-1]]], axis=1))
    hour_return = returns.sum(axis=1)
    return {"fine": returns, "hour": whole * 3600, "log_return": hour_return,
            "log_high": np.maximum(np.log(high[rows].max(axis=1) / opening), np.maximum(hour_return, 0.0)),
            "log_low": np.minimum(np.log(low[rows].min(axis=1) / opening), np.minimum(hour_return, 0.0))}


def _rebuilt(hours: dict[str, np.ndarray], steps_per_hour: int, table: np.ndarray, seed: int) -> np.ndarray:
    """The hours' steps as the historical world spreads them (replay, in order): history.move over the hours."""
    columns = np.zeros((len(hours["log_return"]), sim_history.N_COLUMNS))
    for name, column in (("log_return", sim_history.LOG_RETURN), ("log_high", sim_history.LOG_HIGH),
                         ("log_low", sim_history.LOG_LOW)):
        columns[:, column] = hours[name]
    columns[:, sim_history.ACTIVITY] = 1.0
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    world = sim_history.HistoryParams(
        bars=f(columns), pool_levels=f([[1.0, 1.0]]), restart_prob=f(0.0), window_bars=jnp.int32(len(columns)),
        steps_per_bar=jnp.int32(steps_per_hour), drift_per_step=f(0.0), gas_scale=f(1.0), lp_fee_share=f(1.0),
        trend_tstat=f(2.5), jumpy_variance_share=f(0.35), within_bar_variance=f(table))
    zero = jnp.zeros((), jnp.float32)
    cursor = sim_history.Cursor(bar=jnp.int32(0), substep=jnp.int32(0), within=zero, sum_return=zero,
                                sum_sq_return=zero, sum_sq_jump=zero, n=zero, profile=jnp.int32(0), share=zero)
    level = sim_history.EpisodeLevel(volume_multiple=f(1.0), liquidity_multiple=f(1.0))
    key = jnp.asarray([0, seed], jnp.uint32)

    def step(cursor, t):
        u = sim_history.draw(key, t, jnp.float32)
        cursor, move = sim_history.move(u, cursor, level, f(1e7), world, f(5e-4), f(1e5))
        return cursor, move.log_return

    n_steps = len(columns) * steps_per_hour
    return np.asarray(jax.jit(lambda: jax.lax.scan(step, cursor, jnp.arange(n_steps, dtype=jnp.uint32))[1])())


def _ratio(log_returns: np.ndarray, step_minutes: float) -> np.ndarray:
    """The policy's robust short/long volatility ratio along one path, after a day's burn-in."""
    agent = make_params(market={"step_minutes": float(step_minutes)}).agent
    warm = int(1440 / step_minutes)
    path = jnp.asarray(log_returns, jnp.float32)
    memory = initial_memory(jnp.var(path[:warm]), jnp.zeros((), jnp.float32))

    def fold(memory, r):
        memory = update_estimates(memory, r, jnp.zeros((), jnp.float32), agent)
        return memory, robust_vol_ratio(memory)

    return np.asarray(jax.jit(lambda: jax.lax.scan(fold, memory, path)[1])())[warm:]


def _widen_statistics(log_returns: np.ndarray, step_minutes: float) -> tuple[float, float]:
    """(vol-widen triggers a week, share of steps with the ratio above vol_widen_ratio): a trigger is every
    vol_persist_minutes of a spell above the threshold (the rule's clock restarts at each action)."""
    rules = RulesConf()
    above = _ratio(log_returns, step_minutes) > rules.vol_widen_ratio
    edges = np.diff(np.concatenate([[0], above.astype(np.int8), [0]]))
    spells = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    persist = int(rules.vol_persist_minutes / step_minutes)
    weeks = above.size * step_minutes / WEEK_MINUTES
    return float(np.sum(spells // persist) / weeks), float(np.mean(above))


def _profiles_outside(hours: np.ndarray, first: int, last: int) -> np.ndarray:
    """The embedded hourly profiles of hours outside [first, last] (open times, seconds)."""
    shares, opens = profiles.slot_profiles(history.bars(5), 5, 60)
    return profiles.cumulative(shares[(opens < first) | (opens > last)])


FLAT = sim_history.FLAT_PROFILE


@pytest.fixture(scope="module")
def five_minute_hours():
    return _whole_hours(5)


def test_profiles__hours_rebuilt_with_real_profiles_give_the_real_5_minute_widen_statistics(five_minute_hours):
    hours = five_minute_hours
    n = len(hours["log_return"])
    assert n > 24_000   # 143 weeks of whole hours, 2022-08 -> 2025-04
    real = _widen_statistics(hours["fine"].ravel(), 5.0)
    flat = _widen_statistics(_rebuilt(hours, 12, FLAT, seed=1), 5.0)
    # each half of the dates draws its profiles from the other half
    half = n // 2
    rebuilt = []
    for part, other in ((slice(0, half), slice(half, n)), (slice(half, n), slice(0, half))):
        table = _profiles_outside(hours["hour"], hours["hour"][part][0], hours["hour"][part][-1])
        assert len(table) == pytest.approx(n - (part.stop - part.start), abs=50)
        rebuilt.append(_rebuilt({k: v[part] for k, v in hours.items()}, 12, table, seed=1))
    profiled = _widen_statistics(np.concatenate(rebuilt), 5.0)
    # real: 2.08 triggers a week, 6.1 % of steps above 1.5; flat 2.82, 7.7 %; profiles 2.1, 6.5 %
    assert 1.9 < real[0] < 2.3 and 0.055 < real[1] < 0.067, real
    assert flat[0] > real[0] + 0.5 and flat[1] > real[1] + 0.01, (flat, real)          # the finding
    assert abs(profiled[0] - real[0]) < 0.25, (profiled, real)   # the real figure's own noise: about 0.12
    assert abs(profiled[1] - real[1]) < 0.007, (profiled, real)
    assert abs(profiled[0] - real[0]) < 0.4 * abs(flat[0] - real[0])


def test_profiles__at_one_minute_steps_profiles_match_the_real_1_minute_month_where_flat_does_not():
    hours = _whole_hours(1)
    assert len(hours["log_return"]) > 700   # 2024-07-26 -> 08-25, the 2024-08-05 crash inside
    table = _profiles_outside(hours["hour"], hours["hour"][0], hours["hour"][-1])
    real = _widen_statistics(hours["fine"].ravel(), 1.0)
    flat = [_widen_statistics(_rebuilt(hours, 60, FLAT, seed=s), 1.0)[1] for s in range(4)]
    profiled = [_widen_statistics(_rebuilt(hours, 60, table, seed=s), 1.0)[1] for s in range(4)]
    # share of minutes above the widen ratio: real 5.7 %, flat 7.0 %, profiles 5.6 % (four seeds' means;
    # a month holds too few widen spells, about 13, to compare their count)
    assert 0.05 < real[1] < 0.065, real
    assert np.mean(flat) > real[1] + 0.008, (flat, real)
    assert abs(np.mean(profiled) - real[1]) < 0.005, (profiled, real)


def test_profiles__the_embedded_table_is_whole_real_hours_of_5_minute_ranges():
    found = profiles.within_bar_variance(60)
    table = found.table
    assert table.shape == (found.info["n_profiles"], 13) and found.info["n_profiles"] > 24_000
    np.testing.assert_array_equal(table[:, 0], 0.0)
    np.testing.assert_array_equal(table[:, -1], 1.0)
    assert (np.diff(table, axis=1) >= 0).all()
    # a hand computation of one hour: 2024-08-05 02:00 UTC (the crash), its twelve 5-minute ranges
    bars = history.bars(5)
    start = pd.Timestamp("2024-08-05 02:00", tz="UTC")
    at = int(np.flatnonzero(bars["date"] == start)[0])
    hour = bars.iloc[at - 1: at + 12]
    previous = hour["close"].to_numpy()[:-1]
    variance = np.log(np.maximum(hour["high"].to_numpy()[1:], previous)
                      / np.minimum(hour["low"].to_numpy()[1:], previous)) ** 2
    _, opens = profiles.slot_profiles(bars, 5, 60)
    row = table[int(np.flatnonzero(opens == start.value // 10**9)[0])]
    np.testing.assert_allclose(np.diff(row), variance / variance.sum(), atol=1e-12)
    # real hours are far from flat: the mean Herfindahl index is about 0.17 against a flat hour's 1/12
    assert 0.14 < found.info["mean_herfindahl"] < 0.2
    # 5-minute bars and finer are spread flat (1-minute profiles do not fit the real 1-minute path)
    assert profiles.within_bar_variance(5) is None and profiles.within_bar_variance(7) is None
