"""World configs -> simulator inputs: bar choice, replay windows, stress worlds, pool levels, the volume link."""

import logging

import numpy as np
import pandas as pd
import pytest

from hbbatch.sim import RolloutSpec, make_params, simulate

# hourly steps: the agent's timers must be at least one step (a 15-minute timer is refused)
HOURLY = {"warmup_minutes": 0, "rules": {"rebalance_after_minutes": 60, "vol_persist_minutes": 120}}
from hbbatch.sim.history import ACTIVITY, GAS_USD, LOG_RETURN
from hbbatch.worlds import build, history, inputs, pool


def _hourly_file(tmp_path, n=240, first=39742):
    bars = history.bars(60).iloc[first:first + n]    # 10 real days of 2022-03, no gap (the pool's history covers them)
    path = tmp_path / "eth_1h.csv"
    bars.assign(date=bars["date"].astype(str)).to_csv(path, index=False)
    return path, bars


@pytest.mark.parametrize("step, start, end, expected", [
    (1.0, "2020-01-01", None, 60), (5.0, "2020-01-01", None, 60), (60.0, None, None, 60),
    (1.0, "2022-08-01", None, 5), (15.0, "2022-08-01", None, 5), (1.0, "2024-07-27", "2024-08-24", 1)])
def test_build__auto_bars_are_the_finest_that_cover_the_worlds_window(step, start, end, expected):
    # minute bars hold one month (2024-07-26 -> 08-25, the crash inside); five-minute bars start 2022-08
    assert build.choose_bar_minutes(step, None, start, end) == expected
    assert build.choose_bar_minutes(1.0, 1, "2020-01-01", None) == 1


def test_build__replay_of_a_user_file_uses_every_window_in_order_and_says_so(tmp_path, caplog):
    path, bars = _hourly_file(tmp_path)
    with caplog.at_level(logging.WARNING):
        built = build.world_params({"name": "replay", "kind": "replay", "history": str(path)},
                                   {"step_minutes": 60.0}, HOURLY, n_steps=48, n_episodes=50)
    # 240 bars give 239 returns: 4 whole windows of 48 (no warm-up: the first window opens on the first bar)
    assert built.n_episodes == 4 and "holds 4 windows" in caplog.text
    assert built.info["history_sha256"] and built.info["window_bars"] == 48
    result = simulate(RolloutSpec(n_episodes=4, n_steps=48), make_params(market={"step_minutes": 60.0}, agent=HOURLY)
                      ._replace(world=built.params), seed=1)
    closes = bars["close"].to_numpy()
    expected = closes[np.arange(1, 5) * 48] / closes[np.arange(4) * 48]   # window e: bars 48e+1 .. 48(e+1)
    np.testing.assert_allclose(result.episodes["price_end"] / result.episodes["price_start"], expected, rtol=1e-5)


def test_build__replay_windows_begin_after_the_bars_their_warm_up_reads(tmp_path, caplog):
    import jax
    import jax.numpy as jnp

    from hbbatch.sim import history as sim_history

    path, bars = _hourly_file(tmp_path)
    warmed = {**HOURLY, "warmup_minutes": 24 * 60}   # a day of hourly bars: 24 bars before the first window
    with caplog.at_level(logging.WARNING):
        built = build.world_params({"name": "replay", "kind": "replay", "history": str(path)},
                                   {"step_minutes": 60.0}, warmed, n_steps=48, n_episodes=50)
    assert built.n_episodes == 4 and built.info["first_window_bar"] == 24 and "after 24 bars of warm-up" in caplog.text
    params = make_params(market={"step_minutes": 60.0}, agent=warmed)._replace(world=built.params)
    result = simulate(RolloutSpec(n_episodes=4, n_steps=48, warmup_steps=24), params, seed=1)
    closes = bars["close"].to_numpy()
    expected = closes[24 + np.arange(1, 5) * 48] / closes[24 + np.arange(4) * 48]   # window e: bars 24 + 48e ..
    np.testing.assert_allclose(result.episodes["price_end"] / result.episodes["price_start"], expected, rtol=1e-5)
    # the first window too opens on a day of real bars: its memory is not the prior a cold start keeps (as it was
    # when the first window began on the first bar, with no bar before it to warm up on)
    traced = jax.tree.map(jnp.asarray, params)
    warm, cold = (sim_history.reset(jnp.uint32(1), jnp.uint32(0), traced, "online", n)[0].memory for n in (24, 0))
    assert float(warm.var_short) != pytest.approx(float(cold.var_short), rel=1e-3)
    with pytest.raises(build.WorldError, match="after the 216 bars of the warm-up .agent.warmup_minutes=12960"):
        build.world_params({"name": "replay", "kind": "replay", "history": str(path)}, {"step_minutes": 60.0},
                           {**HOURLY, "warmup_minutes": 216 * 60}, n_steps=48, n_episodes=4)


def test_build__replay_windows_before_the_pools_history_are_refused_and_its_days_are_read(tmp_path):
    # the 0.05 % pool's first 30-day volume level is 2021-06-03: a window of 2017 has no pool day to take
    path, _ = _hourly_file(tmp_path, first=1000)
    with pytest.raises(build.WorldError, match=r"4 of 4 replay windows start before 2021-06-03.*replay bars from "
                                               r"2021-06-03 on"):
        build.world_params({"name": "replay", "kind": "replay", "history": str(path)}, {"step_minutes": 60.0},
                           HOURLY, n_steps=48, n_episodes=4)
    with pytest.raises(build.WorldError, match=r"world.history_start=2021-05-20: .* start before 2021-06-03.*"
                                               r"set world.history_start=2021-06-03 or later"):
        build.world_params({"name": "replay", "kind": "replay", "history_start": "2021-05-20",
                            "history_end": "2021-07-01"}, {"step_minutes": 60.0}, HOURLY, n_steps=168, n_episodes=4)
    # from the first day on, window e takes the pool's own levels of the day it starts on (hand-read from the table)
    built = build.world_params({"name": "replay", "kind": "replay", "history_start": "2021-06-03",
                                "history_end": "2021-07-01"}, {"step_minutes": 60.0}, HOURLY, n_steps=168, n_episodes=3)
    table = pool.levels(5).set_index("date")
    for e, day in enumerate(("2021-06-03", "2021-06-10", "2021-06-17")):
        row = table.loc[pd.Timestamp(day, tz="UTC")]
        np.testing.assert_allclose(built.params.pool_levels[e], [row["volume_multiple"], row["liquidity_multiple"]],
                                   rtol=1e-6)


def test_build__stress_worlds_change_only_their_assumption():
    market, steps = {"step_minutes": 60.0}, 24 * 7
    base = build.world_params({"name": "historical", "bar_minutes": 60}, market, {}, steps, 16)
    high = build.world_params({"name": "stress_high_gas", "bar_minutes": 60, "gas_median_usd": 37.5}, market, {},
                              steps, 16)
    down = build.world_params({"name": "stress_down_trend", "bar_minutes": 60, "drift_annual": -2.67}, market, {},
                              steps, 16)
    assert high.info["gas_median_usd"] == pytest.approx(37.5)
    gas = np.asarray(high.params.bars[:, GAS_USD]) * float(high.params.gas_scale)
    assert np.median(gas) == pytest.approx(37.5, rel=1e-4)
    spec = RolloutSpec(n_episodes=16, n_steps=steps)
    params = make_params(market=market, agent={**HOURLY, "rules": {**HOURLY["rules"], "enabled": []}})
    a = simulate(spec, params._replace(world=base.params), seed=5).episodes
    d = simulate(spec, params._replace(world=down.params), seed=5).episodes
    # the same real path, shifted by the drift: ln(P_end) moves by -2.67 / yr x one week exactly
    shift = np.log(d["price_end"] / a["price_end"])
    np.testing.assert_allclose(shift, -2.67 * steps * 60 / 525_600, atol=2e-4)


def test_build__historical_gas_is_the_real_days_cost_of_an_action():
    # gas as history charged it (stress_high_gas): each day's own cost, no rescaling
    built = build.world_params({"name": "historical", "bar_minutes": 60, "gas_median_usd": None},
                               {"step_minutes": 60.0}, {}, 168, 4)
    gas = history.gas_daily().set_index("date")
    day = gas.loc[pd.Timestamp("2024-01-05", tz="UTC")]
    expected = 787_760 * day["gas_price_gwei"] * 1e-9 * day["eth_price_usd"]   # about $41 (issue 8)
    assert expected == pytest.approx(41, abs=2)
    hourly = build._window(history.bars(60), "2020-01-01", None)    # the world's default window
    # the bar of 2024-01-05 12:00 carries that day's cost
    kept = inputs.contiguous_returns(hourly, 60)["date"]
    row = np.flatnonzero(kept == pd.Timestamp("2024-01-05 12:00", tz="UTC"))
    assert len(row) == 1
    assert float(built.params.bars[row[0], GAS_USD]) == pytest.approx(expected, rel=1e-5)
    assert np.mean(np.asarray(built.params.bars[:, ACTIVITY])) == pytest.approx(1.0, rel=1e-5)
    returns = np.diff(np.log(hourly["close"].to_numpy()))
    assert np.asarray(built.params.bars[:, LOG_RETURN]).std() == pytest.approx(returns.std(), rel=0.05)


def test_pool__levels_are_one_on_the_calibration_day_and_the_volume_link_is_fitted():
    levels = pool.levels(5).set_index("date")
    day = pd.Timestamp(pool.REFERENCE_DAY, tz="UTC")
    ref = levels.loc[day]
    daily = history.pool_daily(5).set_index("date")["volume_usd"]
    # the calibration day itself: its 30-day level over its own volume (150.8 M that day, 4.4x its level)
    assert daily.loc[day] == pytest.approx(150.8e6, rel=0.01)
    assert ref["volume_multiple"] == pytest.approx(daily.loc[:day].iloc[-30:].mean() / daily.loc[day], rel=1e-9)
    assert ref["liquidity_multiple"] == pytest.approx(1.0)
    assert len(levels) > 1400 and (levels > 0).all().all()
    link = pool.fit_volume_link(5)
    assert 0.7 < link.elasticity < 1.05 and link.r_squared > 0.3 and link.level_r_squared < link.r_squared


@pytest.mark.parametrize("world, message", [
    ({"kind": "bootstrap"}, "world.kind='bootstrap'"),
    ({"lp_fee_share": 1.5}, "world.lp_fee_share=1.5"),
    ({"block_hours": 0.0}, "world.block_hours=0.0"),
    ({"bar_minutes": 15}, "world.bar_minutes=15"),
    ({"gas_median_usd": -1.0}, "world.gas_median_usd=-1.0"),
    ({"gas_level_days": 0}, "world.gas_level_days=0"),
    ({"within_bar": "smooth"}, "world.within_bar='smooth'"),
])
def test_build__bad_world_settings_name_the_key(world, message):
    with pytest.raises(build.WorldError, match=message.replace("(", r"\(")):
        build.world_params({"name": "x", **world}, {"step_minutes": 1.0}, {}, 100, 4)


def test_build__the_oracle_classifier_is_refused_in_a_historical_world():
    with pytest.raises(build.WorldError, match="agent.classifier=oracle"):
        build.world_params({"name": "historical"}, {"step_minutes": 60.0}, {"classifier": "oracle"}, 100, 4)


def test_build__the_default_world_charges_the_deployment_level_with_the_days_spread_around_their_level():
    built = build.world_params({"name": "historical", "bar_minutes": 60}, {"step_minutes": 60.0}, {}, 168, 4)
    gas = np.asarray(built.params.bars[:, GAS_USD], float) * float(built.params.gas_scale)
    assert np.median(gas) == pytest.approx(1.62, rel=1e-4)          # world.gas_median_usd's default
    # by hand on the daily frame: the 2024-01-05 cost over the median of the 90 days centred on it
    daily = history.gas_daily().set_index("date")
    usd = 787_760 * daily["gas_price_gwei"] * 1e-9 * daily["eth_price_usd"]
    day = pd.Timestamp("2024-01-05", tz="UTC")
    around = usd.loc[day - pd.Timedelta(days=45): day + pd.Timedelta(days=44)]
    assert len(around) == 90
    kept = inputs.contiguous_returns(build._window(history.bars(60), "2020-01-01", None), 60)["date"]
    row = np.flatnonzero(kept == pd.Timestamp("2024-01-05 12:00", tz="UTC"))[0]
    relative = usd.loc[day] / around.median()
    assert gas[row] / float(built.params.gas_scale) == pytest.approx(relative, rel=1e-5)
    # the spread is the deployment month's (30 days to 2026-06-02: log sd 0.49, q10 $0.95, q90 $3.32), not the
    # years' swings of the raw history (log sd 1.40: $213 a recenter in 2021, $5 in 2025)
    latest = usd.iloc[-30:]
    assert np.log(latest).std() == pytest.approx(0.49, abs=0.01)
    assert np.log(gas).std() == pytest.approx(np.log(latest).std(), abs=0.1)
    assert np.quantile(gas, 0.1) == pytest.approx(np.quantile(latest, 0.1), rel=0.15)
    assert np.quantile(gas, 0.9) == pytest.approx(np.quantile(latest, 0.9), rel=0.2)
    raw = usd.loc["2020-01-01":"2025-04-30"]
    assert np.log(raw).std() > 1.3
    assert built.info["history_gas_median_usd"] == pytest.approx(np.median(usd.reindex(kept.dt.floor("D"))), rel=1e-3)


def test_build__hours_lay_their_variance_out_by_real_profiles_and_finer_bars_stay_flat(tmp_path):
    from hbbatch.sim.history import FLAT_PROFILE
    from hbbatch.worlds import profiles

    hourly = build.world_params({"name": "historical"}, {"step_minutes": 1.0}, {}, 100, 4)
    table = profiles.within_bar_variance(60).table
    np.testing.assert_array_equal(hourly.params.within_bar_variance, table.astype(np.float32))
    assert hourly.info["within_bar"]["kind"] == "profile" and hourly.info["within_bar"]["n_profiles"] == len(table)
    assert hourly.info["within_bar"]["slots"] == 12 and hourly.info["steps_per_bar"] == 60
    # a user's hourly file borrows the embedded hours' profiles, as the embedded hours do
    path, _ = _hourly_file(tmp_path)
    own = build.world_params({"name": "mine", "history": str(path)}, {"step_minutes": 1.0}, {}, 100, 4)
    assert own.info["within_bar"]["kind"] == "profile"
    flat = build.world_params({"name": "historical", "within_bar": "flat"}, {"step_minutes": 1.0}, {}, 100, 4)
    np.testing.assert_array_equal(flat.params.within_bar_variance, FLAT_PROFILE)
    assert flat.info["within_bar"] == {"kind": "flat"}
    # 5-minute bars: no 5-minute slots inside them, spread flat and recorded so
    five = build.world_params({"name": "historical", "history_start": "2022-08-02"}, {"step_minutes": 1.0}, {}, 100, 4)
    assert five.info["bar_minutes"] == 5 and five.info["within_bar"]["kind"] == "flat"
    np.testing.assert_array_equal(five.params.within_bar_variance, FLAT_PROFILE)
    # hourly steps: one step a bar, nothing to lay out
    steps = build.world_params({"name": "historical"}, {"step_minutes": 60.0}, HOURLY, 100, 4)
    assert steps.info["within_bar"]["kind"] == "none"
