"""The regimes world's fit: GARCH by ML, residual jumps, the mean-reversion test, drift, on known data and
on the embedded history."""

import math

import numpy as np
import pandas as pd
import pytest

from hbbatch.calibration.world import fit_garch, fit_jump_mixture, fit_world, variance_ratio_test as vr_test
from hbbatch.worlds import history


def _garch_path(n, omega, alpha, beta, seed):
    rng = np.random.default_rng(seed)
    h = omega / (1 - alpha - beta)
    out = np.empty(n)
    for t in range(n):
        out[t] = math.sqrt(h) * rng.standard_normal()
        h = omega + alpha * out[t] ** 2 + beta * h
    return pd.Series(out, index=pd.date_range("2020-01-01", periods=n, freq="h", tz="UTC"))


def test_fit_garch__recovers_known_parameters():
    path = _garch_path(20_000, omega=2e-6, alpha=0.08, beta=0.9, seed=1)
    fit = fit_garch(path)
    assert fit["alpha"] == pytest.approx(0.08, abs=0.02) and fit["beta"] == pytest.approx(0.9, abs=0.03)
    assert fit["converged"] and fit["persistence"] < 1


def test_fit_jump_mixture__recovers_the_jump_share_and_size():
    rng = np.random.default_rng(2)
    n = 40_000
    jumps = rng.random(n) < 0.05
    z = 0.9 * rng.standard_normal(n) + jumps * 3.0 * rng.standard_normal(n)
    fit = fit_jump_mixture(z)
    assert fit["jump_prob_per_hour"] == pytest.approx(0.05, rel=0.2)
    assert fit["jump_scale"] == pytest.approx(3.0, rel=0.1) and fit["diffusive_scale"] == pytest.approx(0.9, rel=0.05)


def test_mean_reversion__random_walk_gets_none_and_a_pulled_price_gets_some():
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.normal(0, 0.01, 30_000))
    assert vr_test(walk)["supported"] is False and vr_test(walk)["kappa_per_day"] == 0.0
    pulled = np.zeros(30_000)
    kappa_hour = 0.02
    for t in range(1, pulled.size):
        pulled[t] = pulled[t - 1] * (1 - kappa_hour) + rng.normal(0, 0.01)
    result = vr_test(pulled)
    assert result["supported"] is True
    assert result["kappa_per_day"] == pytest.approx(kappa_hour * 24, rel=0.5)


@pytest.fixture(scope="module")
def world_fit():
    return fit_world(history.bars(60), history.pool_daily(5), history.gas_daily(), "2024-01-05")


def test_fit_world__on_the_embedded_history(world_fit):
    garch = world_fit["garch"]
    assert 0.03 < garch["alpha"] < 0.2 and 0.8 < garch["beta"] < 1 and garch["persistence"] < 1
    assert world_fit["mean_reversion"]["supported"] is False               # real ETH: no pull to a level
    assert world_fit["mean_reversion"]["kappa_per_day"] == 0.0
    assert world_fit["figures"]["acf_abs_return"]["1"] > 0.2                # volatility clusters
    trend = world_fit["per_regime"]["trend_up"]
    assert trend["weeks_down"] > 0 and trend["drift_dispersion_annual"] > abs(trend["drift_annual"]) / 2
    for regime in ("mean_revert", "jumpy", "trend_up"):
        numbers = world_fit["per_regime"][regime]
        assert 0.2 < numbers["vol_annual"] < 1.5 and numbers["jumps_per_day"] >= 0
    gas = world_fit["gas"]
    assert gas["level"]["window"]["last"].startswith("2024-01-05") and gas["level"]["days"] == 30
    assert gas["gas_vol_elasticity"] > 0 and gas["gas_ratio_top_decile_vol_days"] > 1   # dearer on volatile days
    assert 0 <= world_fit["volume"]["volume_vol_share"] <= 1


def test_fit_world__volatility_around_its_level_and_the_gas_spells_decision(world_fit):
    garch = world_fit["garch"]
    # fitted on r / sqrt(level x hour-of-week profile): a GARCH of hours, not of years (raw returns: 0.996)
    assert garch["level_days"] == 14.0 and 10 < garch["half_life_hours"] < 100
    profile = np.asarray(garch["hour_of_week_variance"])
    assert profile.shape == (168,) and profile.mean() == pytest.approx(1.0, abs=1e-3)
    assert profile[5 * 24:].mean() < 0.85 < 1.5 < profile[14:17].mean()     # quiet weekends, busy US open
    spells = world_fit["gas"]["spells"]
    assert spells["identified"] is False and spells["gas_spells_per_day"] == 0.0
    # between days: normal at 5 / 95 %, fatter only in the 1 % tails
    q, normal = spells["residual_quantiles"], spells["normal_quantiles"]
    assert abs(q["q05"]) <= abs(normal["q05"]) and q["q95"] <= normal["q95"] and q["q99"] > normal["q99"]
    assert 0.5 < spells["ar1"] < 0.95
    link = world_fit["volume"]["exchange_link"]
    assert link["elasticity"] == pytest.approx(0.90, abs=0.02) and link["level_r_squared"] < 0.2
