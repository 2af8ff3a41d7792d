import math

import numpy as np
import pytest

from hbbatch.calibration.regimes import (REGIMES, Thresholds, classify_window, fit_jumps, fit_regimes,
                                         split_windows, window_stats)
from hbbatch.config.sim import AgentConf


def test_classify_window__thresholds_default_to_the_agents():
    assert Thresholds() == Thresholds(AgentConf.jump_sigmas, AgentConf.jumpy_variance_share, AgentConf.trend_tstat)


def test_window_stats__match_a_hand_computation():
    r = [0.01, -0.02, 0.015, 0.0, -0.005, 0.012, 0.3]
    # median 0.01; |r - med| = .00, .03, .005, .01, .015, .002, .29 -> MAD = .01; robust sigma = .014826
    stats = window_stats(r)
    assert stats.median == pytest.approx(0.01)
    assert stats.robust_sigma == pytest.approx(0.014826)
    assert stats.jumps.tolist() == [False] * 6 + [True]          # .29 > 4 * .014826; .03 is not
    assert stats.jump_variance_share == pytest.approx(0.09 / sum(x * x for x in r))
    mean, std = np.mean(r), np.std(r, ddof=1)
    assert stats.drift_tstat == pytest.approx(mean / (std / math.sqrt(7)))


def test_classify_window__applies_the_rule_in_order():
    jumpy = [0.01, -0.02, 0.015, 0.0, -0.005, 0.012, 0.3]            # share 0.990, t = 1.04
    assert classify_window(jumpy) == "jumpy"
    assert classify_window(jumpy, jumpy_variance_share=0.995) == "mean_revert"
    assert classify_window(jumpy, trend_tstat=1.0) == "trend_up"     # trend wins over jumps
    assert classify_window([0.02, 0.021, 0.019, 0.022, 0.018, 0.02, 0.0205]) == "trend_up"
    assert classify_window([0.01, -0.01, 0.012, -0.011, 0.009, -0.01, 0.0]) == "mean_revert"
    assert classify_window([0.0] * 7) == "mean_revert"               # flat: no drift, no variance
    assert classify_window([0.01] * 7) == "trend_up"                 # constant positive drift: t = +inf


def test_split_windows__end_at_the_newest_return():
    windows = split_windows(np.arange(17.0), 7)
    assert windows.tolist() == [list(range(3, 10)), list(range(10, 17))]
    with pytest.raises(ValueError):
        split_windows(np.arange(5.0), 7)


def _simulate(n_windows, window, mix, sigma, drift, jump_rate, jump_std, seed):
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n_windows, p=mix)
    returns = []
    for label in labels:
        r = drift[label] + sigma[label] * rng.standard_normal(window)
        jumps = rng.random(window) < jump_rate[label]
        returns.append(r + jumps * jump_std[label] * rng.standard_normal(window))
    return np.concatenate(returns), np.bincount(labels, minlength=3) / n_windows


def test_fit_regimes__recovers_known_mix_volatility_drift_and_jumps():
    # Separable regimes over 60-step windows: a calm walk, a quiet walk with big jumps, a trend.
    sigma, drift, rate, size = [0.03, 0.01, 0.02], [0.0, 0.0, 0.01], [0.0, 0.2, 0.0], [0.0, 0.06, 0.0]
    returns, true_mix = _simulate(2000, 60, [0.5, 0.3, 0.2], sigma, drift, rate, size, seed=1)
    fit = fit_regimes(returns, window=60, step_days=1.0)
    for i, regime in enumerate(REGIMES):
        assert fit["mix"][regime] == pytest.approx(true_mix[i], abs=0.03)
        per = fit["per_regime"][regime]
        assert per["diffusive_sigma_per_step"] == pytest.approx(sigma[i], rel=0.05)
        assert per["log_drift_annual"] == pytest.approx(drift[i] * 365, abs=0.5)
    jumpy = fit["per_regime"]["jumpy"]
    assert jumpy["jumps_per_day"] == pytest.approx(0.2, rel=0.1)
    assert jumpy["jump_size_std"] == pytest.approx(0.06, rel=0.1)
    assert fit["per_regime"]["mean_revert"]["jumps_per_day"] == 0.0
    assert sum(fit["mix"].values()) == pytest.approx(1.0)
    # annualised: sigma * sqrt(365); drift as the simulator reads it adds sigma^2 / 2
    trend = fit["per_regime"]["trend_up"]
    assert trend["vol_annual"] == pytest.approx(trend["diffusive_sigma_per_step"] * math.sqrt(365))
    assert trend["drift_annual"] > trend["log_drift_annual"] + 0.5 * trend["vol_annual"] ** 2 - 1e-9


def test_fit_jumps__sees_through_the_threshold():
    # Jumps N(0, 0.05^2) on diffusion 0.01, seen only beyond 0.04: the moment fit recovers rate and size.
    rng = np.random.default_rng(7)
    n, rate = 400_000, 0.05
    x = 0.01 * rng.standard_normal(n) + (rng.random(n) < rate) * 0.05 * rng.standard_normal(n)
    seen = np.abs(x) > 0.04
    calm_sigma = float(np.std(x[~seen], ddof=1))
    prob, jump_std, sigma = fit_jumps(x[seen], n, calm_sigma, 0.04)
    assert prob == pytest.approx(rate, rel=0.05)
    assert jump_std == pytest.approx(0.05, rel=0.03)
    assert sigma == pytest.approx(0.01, rel=0.03)


def test_fit_regimes__random_walk_shows_no_supported_mean_reversion():
    returns, _ = _simulate(300, 7, [1.0, 0.0, 0.0], [0.03] * 3, [0.0] * 3, [0.0] * 3, [0.0] * 3, seed=3)
    reversion = fit_regimes(returns, 7, 1.0)["per_regime"]["mean_revert"]["mean_reversion"]
    assert reversion["kappa_selection_bias_per_day"] > 0      # classifying alone makes walks look reverting
    assert not reversion["supported"] and reversion["kappa_per_day"] == 0.0


def test_fit_regimes__finds_strong_mean_reversion():
    rng = np.random.default_rng(5)
    kappa, sigma, windows = 0.4, 0.03, []
    for _ in range(400):
        x, r = 0.0, []
        for _ in range(7):
            step = -kappa * x + sigma * rng.standard_normal()
            r.append(step)
            x += step
        windows.append(r)
    reversion = fit_regimes(np.concatenate(windows), 7, 1.0)["per_regime"]["mean_revert"]["mean_reversion"]
    assert reversion["supported"]
    assert reversion["kappa_per_day"] == pytest.approx(kappa, rel=0.35)
