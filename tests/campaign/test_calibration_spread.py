"""Refits of the calibrated world on block-bootstrap resamples of the history."""

import numpy as np
import pandas as pd
import pytest

from hbbatch import stats
from hbbatch.campaign.calibration_spread import resampled_bars


def _bars(hours=24 * 7 * 6):
    dates = pd.date_range("2021-01-01", periods=hours, freq="h", tz="UTC")
    close = 2000 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, hours)))
    return pd.DataFrame({"date": dates, "open": close, "high": close, "low": close, "close": close, "volume": 1.0})


def test_resampled_bars__whole_weeks_of_real_returns_on_the_real_timeline():
    bars = _bars()
    assert resampled_bars(bars, 0, "2020-01-01").equals(bars)
    out = resampled_bars(bars, 1, "2020-01-01")
    assert (out["date"].to_numpy() == bars["date"].to_numpy()[:len(out)]).all()
    returns = np.diff(np.log(bars["close"].to_numpy()))
    weeks = returns[: len(returns) // 168 * 168].reshape(-1, 168)   # the history's weeks of returns
    drawn = np.diff(np.log(out["close"].to_numpy()))
    for block in drawn[: len(drawn) // 168 * 168].reshape(-1, 168):
        assert any(np.allclose(block, w) for w in weeks)
    assert not np.allclose(drawn, np.diff(np.log(bars["close"].to_numpy()))[:len(drawn)])
    assert resampled_bars(bars, 1, "2020-01-01").equals(out)               # seeded by k


def test_paired_means_by__the_gain_within_each_refit():
    base = pd.DataFrame({"resample": [0, 0, 1, 1], "seed": 1, "episode": [0, 1, 0, 1], "regime": "jumpy",
                         "net_pnl_usd": [10.0, 20.0, 10.0, 20.0]})
    variant = base.assign(net_pnl_usd=[13.0, 25.0, 9.0, 19.0])
    assert stats.paired_means_by(variant, base, "net_pnl_usd", "resample") == {0: 4.0, 1: -1.0}


@pytest.mark.slow
def test_refit__resampled_history_moves_the_fitted_volatility_but_not_beyond_reason():
    from hbbatch.campaign.calibration_spread import refit

    original, resampled = refit(0), refit(1)
    for regime, vol in original["market"]["vol_annual"].items():
        assert 0.5 * vol < resampled["market"]["vol_annual"][regime] < 2.0 * vol
    assert resampled["market"]["gas_usd_median"] == original["market"]["gas_usd_median"]   # kept from refit 0
    assert sum(resampled["regime_mix"].values()) == pytest.approx(1.0)
