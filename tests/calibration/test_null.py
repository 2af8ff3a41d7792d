"""The regime null test: the window rule on regime-free bootstrap paths."""

import numpy as np
import pytest

from hbbatch.calibration.null import regime_null_test
from hbbatch.calibration.regimes import REGIMES, classify_window, classify_windows


def test_classify_windows__agrees_with_the_one_window_rule():
    rng = np.random.default_rng(5)
    windows = np.concatenate([rng.standard_t(3, (3000, 7)) * 0.02, rng.normal(0.01, 0.01, (500, 7)),
                              np.zeros((1, 7)), np.full((1, 7), 0.01)])
    expected = [REGIMES.index(classify_window(w)) for w in windows]
    np.testing.assert_array_equal(classify_windows(windows), expected)


def test_null__a_regime_free_walk_is_not_identified():
    returns = np.random.default_rng(7).standard_t(3, 7 * 300) * 0.02     # one distribution throughout
    result = regime_null_test(returns, 7, replicates=500)
    assert result["identified"] is False
    assert all(v["p_value"] > result["level"] for v in result["per_regime"].values())
    assert "cannot be told from noise" in result["verdict"]


def test_null__real_regimes_are_identified():
    rng = np.random.default_rng(8)
    weeks = []
    for k in range(300):   # a third of the weeks trend hard, a third are calm with one big jump
        kind = k % 3
        week = rng.normal(0.0, 0.02, 7)
        if kind == 1:
            week = rng.normal(0.0, 0.004, 7)
            week[rng.integers(7)] += rng.choice([-1, 1]) * 0.08
        elif kind == 2:
            week = rng.normal(0.03, 0.01, 7)
        weeks.append(week)
    result = regime_null_test(np.concatenate(weeks), 7, replicates=500)
    assert result["identified"] is True
    assert result["per_regime"]["trend_up"]["p_value"] < result["level"]
    assert result["per_regime"]["trend_up"]["observed_share"] > result["per_regime"]["trend_up"]["null_share_p95"]


def test_null__p_values_are_reproducible_for_a_seed():
    returns = np.random.default_rng(9).normal(0, 0.02, 7 * 100)
    first, second = (regime_null_test(returns, 7, replicates=200, seed=s) for s in (1, 1))
    assert first == second
    assert 0 < first["per_regime"]["mean_revert"]["p_value"] <= 1
