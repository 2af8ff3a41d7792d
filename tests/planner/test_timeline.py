"""The planner simulation: hand-counted runs and credits on constant signals, the budget under random ones."""

from __future__ import annotations

from math import erf, log, sqrt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbbatch.config.sim import MarketConf
from hbbatch.planner.plans import DOMINATED_BY
from hbbatch.planner.settings import settings_from
from hbbatch.planner.timeline import SeriesError, SignalSeries, series_from_episodes, simulate_timeline, synthetic_series


def constant(n: int, drawdown: float = 0.0, actions_per_hour: float = 0.01) -> SignalSeries:
    return SignalSeries(gas_usd=np.full(n, 4.7), actions_per_hour=np.full(n, actions_per_hour),
                        realized_vol=np.full(n, 0.55), drawdown=np.full(n, drawdown), toxicity=np.full(n, 0.02))


def run(catalog, series, *modes):
    return simulate_timeline(catalog, series, {m: settings_from({"mode": m}, catalog) for m in modes})


def test_calm_days__p0_hourly_p1_daily_no_p2(roadmap_catalog_static):
    report = run(roadmap_catalog_static, constant(72), "normal")["normal"]
    assert report.credits_per_day == (500.0, 500.0, 500.0)       # 24 x (10 + 5 + 5) + 10 + 10
    assert report.runs == {"gas_regime": 72, "pool_hourly_fees": 72, "realized_vol_jumps": 72,
                           "dynamic_fee_analysis": 3, "regime_frequencies": 3, "liquidity_depth": 0, "mev_toxicity": 0}
    assert report.staleness_h["gas_price"] == {"mean_h": 0.0, "max_h": 0.0, "unknown_share": 0.0}
    assert report.staleness_h["regime_mix"]["mean_h"] == pytest.approx(11.5)     # 0 .. 23 h each day
    assert report.staleness_h["regime_mix"]["max_h"] == 23.0
    assert report.staleness_h["mev_share"]["unknown_share"] == 1.0
    assert report.reasons["mev_toxicity"] == {"no risk signal": 72}


def test_risk_days__normal_runs_depth_every_six_hours_high_churn_never(roadmap_catalog_static):
    reports = run(roadmap_catalog_static, constant(72, drawdown=0.3), "normal", "high_churn")
    normal, churn = reports["normal"], reports["high_churn"]
    # cycle 0: liquidity_depth takes the one expensive slot (tie on value per credit, name order);
    # cycle 1: mev_toxicity; then liquidity_depth every 6 h (TTL 21600 s), mev_toxicity every 24 h
    assert normal.runs["liquidity_depth"] == 12 and normal.runs["mev_toxicity"] == 3
    assert normal.credits_per_day == (600.0, 600.0, 600.0)
    assert normal.reasons["mev_toxicity"]["expensive cap"] == 1
    assert normal.staleness_h["liquidity_depth"]["max_h"] == 5.0
    assert churn.runs["liquidity_depth"] == churn.runs["mev_toxicity"] == 0
    assert churn.credits_per_day == (500.0, 500.0, 500.0)
    assert churn.reasons["liquidity_depth"] == {"expensive cap": 72}


def test_value_of_information__toxicity_far_from_the_gate_stops_after_enough_history(roadmap_catalog_static):
    series = constant(24 * 6, drawdown=0.3)
    series.realized_vol[:] = 0.7   # the gate, which flips near 54 % a year for a fresh band, far away
    report = run(roadmap_catalog_static, series, "normal")["normal"]
    assert report.runs["mev_toxicity"] == 3               # voi.min_history results, then the range is known
    assert report.reasons["mev_toxicity"]["would not change decisions"] == 24 * 6 - 1 - 3 * 24


def test_auto_mode_follows_churn(roadmap_catalog_static):
    series = constant(48, drawdown=0.3, actions_per_hour=0.01)
    series.actions_per_hour[24:] = 1.0
    report = run(roadmap_catalog_static, series, "auto")["auto"]
    assert report.high_churn_share == 0.5
    assert report.modes == {"normal": 24, "high_churn": 24}


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([480, 500, 560, 700]), st.sampled_from(["normal", "auto"]))
def test_random_signals__never_over_budget_and_p0_never_starved(roadmap_catalog_static, seed, budget, mode):
    catalog = roadmap_catalog_static
    series = synthetic_series(72, seed)
    series.drawdown[:] = np.where(np.arange(72) % 5 == 0, 0.3, 0.0)        # frequent risk: P2 competes
    conf = settings_from({"mode": mode, "budget_credits_per_day": budget}, catalog)
    report = simulate_timeline(catalog, series, {mode: conf}, seed=seed)[mode]
    assert max(report.credits_per_day) <= budget
    for query in ("gas_regime", "pool_hourly_fees", "realized_vol_jumps"):
        assert set(report.reasons[query]) <= {"P0 always", "fresh", DOMINATED_BY.strip()}
        assert report.runs[query] == 72


def test_series_from_episodes__laid_end_to_end():
    frame = pd.DataFrame({"episode": [1, 0], "actions": [0, 4], "gas_usd": [0.0, 20.0],
                          "realized_vol": [0.8, 0.5], "max_drawdown": [0.2, 0.1]})
    series = series_from_episodes(frame, hours_per_episode=2.0)
    np.testing.assert_allclose(series.gas_usd, [5.0, 5.0, 5.0, 5.0])      # no action: the overall 20 / 4
    np.testing.assert_allclose(series.actions_per_hour, [2.0, 2.0, 0.0, 0.0])
    np.testing.assert_allclose(series.realized_vol, [0.5, 0.5, 0.8, 0.8])
    np.testing.assert_allclose(series.drawdown, [0.05, 0.1, 0.1, 0.2])
    with pytest.raises(SeriesError, match="column 'max_drawdown' is missing"):
        series_from_episodes(frame.drop(columns="max_drawdown"), 2.0)


def test_series__shapes_and_values_are_checked():
    with pytest.raises(SeriesError, match=r"series.drawdown has shape \(2,\); give one value per cycle \(3\)"):
        SignalSeries(np.ones(3), np.ones(3), np.ones(3), np.ones(2), np.ones(3))
    with pytest.raises(SeriesError, match="series.gas_usd holds negative"):
        SignalSeries(-np.ones(3), np.ones(3), np.ones(3), np.ones(3), np.ones(3))


def test_vol_ratio__over_the_trailing_median():
    series = SignalSeries(np.ones(4), np.ones(4), np.array([1.0, 3.0, 1.0, 2.0]), np.zeros(4), np.zeros(4))
    np.testing.assert_allclose(series.vol_ratio(3), [1.0, 3.0 / 2.0, 1.0, 2.0 / 2.0])


def test_synthetic_gas__spell_share_matches_the_two_state_chain():
    market = MarketConf()
    series = synthetic_series(40_000, seed=7, market=market)
    # stationary spell share: p_in / (p_in + p_out) with p_in = 0.5/24, p_out = 1/3 per hour
    p_in, p_out = market.gas_spells_per_day / 24.0, 1.0 / market.gas_spell_hours
    spell = p_in / (p_in + p_out)
    # P(gas >= 2 x median): in a spell 4 x lognormal(0.35) >= 2 unless z < -ln 2 / 0.35; outside, z >= ln 2 / 0.35
    tail = 0.5 * (1 - erf(log(2) / market.gas_dispersion / sqrt(2)))
    head = 0.5 * (1 + erf(log(2) / market.gas_dispersion / sqrt(2)))
    expected = spell * head + (1 - spell) * tail
    assert np.mean(series.gas_usd >= 2 * market.gas_usd_median) == pytest.approx(expected, abs=0.012)
    first, again, other = synthetic_series(50, seed=3), synthetic_series(50, seed=3), synthetic_series(50, seed=4)
    for name in ("gas_usd", "actions_per_hour", "realized_vol", "drawdown", "toxicity"):
        assert np.array_equal(getattr(first, name), getattr(again, name))      # same seed, same series
    assert not np.array_equal(first.gas_usd, other.gas_usd)
