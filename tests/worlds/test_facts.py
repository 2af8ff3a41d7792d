"""Stylised facts against hand computations and independent implementations (scipy, statsmodels, v3 math)."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from statsmodels.tsa.stattools import acf

from hbbatch import uniswap
from hbbatch.worlds import facts
from hbbatch.worlds.facts import MarketPaths, stylised_facts, to_hourly
from hbbatch.worlds.reference import history_paths

HOURS = facts.HOURS_PER_WEEK


def _hourly(log_close: np.ndarray, **kw) -> MarketPaths:
    return MarketPaths(step_minutes=60.0, close_usd=2000.0 * np.exp(np.atleast_2d(log_close)), **kw)


def test_facts__band_stay_and_time_in_range_by_hand():
    # week 1 flat; week 2 steps 500 ticks up after 84 h (outside a 800-tick band, inside 1200: half-widths 400, 600)
    week2 = np.where(np.arange(HOURS) < 84, 0.0, 500 * facts.LOG_TICK)
    log_close = np.concatenate([[0.0], np.zeros(HOURS), week2])
    f = stylised_facts(_hourly(log_close))
    assert f["band_stay_share_800"] == 0.5 and f["band_stay_share_1200"] == 1.0
    assert f["time_in_range_800"] == pytest.approx((HOURS + 84) / (2 * HOURS))
    assert f["time_in_range_1200"] == 1.0
    assert f["weekly_abs_return_q50"] == pytest.approx(250 * facts.LOG_TICK)   # median of 0 and 500 ticks


def test_facts__an_hours_high_outside_the_band_breaks_the_stay_though_every_close_is_inside():
    log_close = np.zeros(HOURS + 1)
    high = np.full(HOURS, 2000.0)
    high[100] = 2000.0 * math.exp(450 * facts.LOG_TICK)
    f = stylised_facts(_hourly(log_close, high_usd=high[None, :], low_usd=np.full((1, HOURS), 2000.0)))
    assert f["band_stay_share_800"] == 0.0 and f["band_stay_share_1200"] == 1.0
    assert f["time_in_range_800"] == 1.0


def test_facts__acf_and_kurtosis_match_statsmodels_and_scipy():
    rng = np.random.default_rng(3)
    n = 24 * 7 * 12
    vol = np.exp(np.convolve(rng.normal(0, 0.3, n), np.ones(48) / 7, mode="same"))   # clustered volatility
    returns = 0.01 * vol * rng.standard_t(4, n)
    f = stylised_facts(_hourly(np.concatenate([[0.0], np.cumsum(returns)])))
    expected = acf(np.abs(returns), nlags=168, adjusted=True, fft=False)
    for lag in (1, 24, 168):
        assert f[f"acf_abs_hourly_return_{lag}h"] == pytest.approx(expected[lag], rel=1e-9)
    assert f["hourly_excess_kurtosis"] == pytest.approx(scipy.stats.kurtosis(returns, fisher=True, bias=True), rel=1e-9)


def test_facts__pooled_acf_never_pairs_hours_of_two_episodes():
    # two episodes, each |r| constant within it but different between them: inside an episode nothing varies
    # around the pooled mean in a way that pairs across: ACF is positive only from within-episode pairs
    x = np.vstack([np.full(10, 1.0), np.full(10, 3.0)])
    assert facts.pooled_acf(x, 1) == pytest.approx(1.0)
    y = np.vstack([np.r_[np.full(5, 1.0), np.full(5, 3.0)]])   # one path: the switch is a pair across levels
    assert facts.pooled_acf(y, 1) < 1.0


def test_facts__minute_steps_make_hours_of_their_closes_extremes_and_summed_volume():
    minutes = 60 * 3
    close = 2000.0 * np.exp(np.r_[0.0, np.linspace(0.001, 0.18, minutes)])
    volume = np.arange(minutes, dtype=float)[None, :]
    hourly = to_hourly(MarketPaths(step_minutes=1.0, close_usd=close[None, :], volume_usd=volume))
    assert np.allclose(np.exp(hourly.close[0]), close[::60])
    assert np.allclose(np.exp(hourly.high[0]), close[60::60])   # rising: each hour's last minute is its high
    assert np.allclose(np.exp(hourly.low[0]), close[0:-1:60])  # ... and its opening close its low
    assert np.allclose(hourly.volume_usd[0], volume[0].reshape(3, 60).sum(axis=1))


def test_facts__gas_that_follows_daily_moves_is_rank_correlated_and_independent_gas_is_not():
    rng = np.random.default_rng(0)
    days = 28 * 8
    daily_returns = rng.normal(0, 0.03, days)
    hourly_returns = np.repeat(daily_returns / 24, 24)
    log_close = np.r_[0.0, np.cumsum(hourly_returns)]
    linked = np.repeat(10 * (1 + 20 * np.abs(daily_returns)), 24)[None, :]
    independent = np.repeat(rng.lognormal(2, 0.5, days), 24)[None, :]
    # gas relative to its 14-day median: monotone in |return| inside a segment, nearly so across them
    assert stylised_facts(_hourly(log_close, gas_usd=linked))["gas_abs_return_rank_corr"] > 0.9
    assert abs(stylised_facts(_hourly(log_close, gas_usd=independent))["gas_abs_return_rank_corr"]) < 0.15


def test_facts__wide_position_fee_apr_matches_exact_v3_amounts():
    # flat price at a whole tick: always in range; fees = fee x volume x L / (L + L_pool), with L the liquidity
    # the capital buys on the band by the contracts' own integer math (getAmountsForLiquidity)
    tick, width, capital, pool_l, volume_per_hour = 76_000, 3000, 100_000.0, 5e6, 1e6
    price = 1.0001**tick
    unit = 10**24
    eth, usd = uniswap.get_amounts_for_liquidity(uniswap.get_sqrt_ratio_at_tick(tick),
                                                 uniswap.get_sqrt_ratio_at_tick(tick - width // 2),
                                                 uniswap.get_sqrt_ratio_at_tick(tick + width // 2), unit)
    own = capital / ((eth * price + usd) / unit)
    n = 2 * HOURS
    paths = MarketPaths(step_minutes=60.0, close_usd=np.full((1, n + 1), price),
                        volume_usd=np.full((1, n), volume_per_hour), pool_liquidity=np.full((1, n), pool_l),
                        fee_rate=0.0005)
    expected = 0.0005 * volume_per_hour * 24 * 365 * own / (own + pool_l) / capital
    assert stylised_facts(paths)["fee_apr_3000"] == pytest.approx(expected, rel=1e-6)


def test_facts__every_fact_has_a_title_and_the_suite_checks_each_once():
    import json

    from hbbatch.quality import EXPECTATIONS_DIR

    names = set(stylised_facts(_hourly(np.zeros(3 * HOURS + 1))))
    assert names == set(facts.FACT_TITLES)
    suite = json.loads((EXPECTATIONS_DIR / "world" / "stylised_facts.json").read_text())
    columns = [e["kwargs"]["column"] for e in suite["expectations"]]
    assert sorted(columns) == sorted(names)


def test_history_paths__daily_volume_and_gas_come_back_exactly_and_a_gap_repeats_the_close():
    dates = pd.date_range("2024-01-01 00:00", periods=24 * 28, freq="h", tz="UTC")
    rng = np.random.default_rng(1)
    close = 2000 * np.exp(np.cumsum(rng.normal(0, 0.005, len(dates))))
    bars = pd.DataFrame({"date": dates, "open": close, "high": close * 1.001, "low": close * 0.999, "close": close})
    bars = bars.drop(index=[100, 101])                     # a two-hour gap
    days = pd.date_range("2024-01-01", periods=28, freq="D", tz="UTC")
    volume = pd.DataFrame({"date": days, "volume_usd": rng.uniform(1e7, 1e8, 28)})
    gas = pd.DataFrame({"date": days, "gas_usd": rng.uniform(2, 50, 28)})
    paths = history_paths(bars, volume, gas)
    assert paths.close_usd.shape == (1, 24 * 28 + 1)
    assert paths.close_usd[0, 101] == paths.close_usd[0, 102] == paths.close_usd[0, 100]  # hours 100, 101 repeat 99's
    f = stylised_facts(paths)
    assert f["daily_volume_usd_q50"] == pytest.approx(np.quantile(volume["volume_usd"], 0.5))
    assert f["gas_per_action_usd_q90"] == pytest.approx(np.quantile(gas["gas_usd"], 0.9))
