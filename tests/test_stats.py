"""hbbatch.stats against closed forms, published table values and hand computations (no SciPy)."""

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from hbbatch import stats


@pytest.mark.parametrize("p", [0.6, 0.9, 0.95, 0.975, 0.995, 0.025, 0.3])
def test_t_quantile__matches_closed_forms_for_1_2_4_degrees_of_freedom(p):
    cauchy = math.tan(math.pi * (p - 0.5))
    df2 = (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    q = 4 * p * (1 - p)
    df4 = math.copysign(math.sqrt(4 / math.sqrt(q) * math.cos(math.acos(math.sqrt(q)) / 3) - 4), p - 0.5)
    assert stats.t_quantile(p, 1) == pytest.approx(cauchy, rel=1e-9)
    assert stats.t_quantile(p, 2) == pytest.approx(df2, rel=1e-9)
    assert stats.t_quantile(p, 4) == pytest.approx(df4, rel=1e-9)


def test_t_quantile__matches_published_table_and_normal_limit():
    # Student's t table, two-sided 95 %: df 10 -> 2.228138852, df 30 -> 2.042272456, df 120 -> 1.979930405
    assert stats.t_quantile(0.975, 10) == pytest.approx(2.228138852, abs=1e-8)
    assert stats.t_quantile(0.975, 30) == pytest.approx(2.042272456, abs=1e-8)
    assert stats.t_quantile(0.975, 120) == pytest.approx(1.979930405, abs=1e-8)
    assert stats.t_quantile(0.975, 1e6) == pytest.approx(NormalDist().inv_cdf(0.975), abs=1e-5)


def test_betainc__matches_closed_forms():
    for x in (0.01, 0.3, 0.5, 0.77, 0.99):
        assert stats.betainc(1, 1, x) == pytest.approx(x, rel=1e-12)
        assert stats.betainc(3.5, 1, x) == pytest.approx(x**3.5, rel=1e-10)
        assert stats.betainc(1, 2.5, x) == pytest.approx(1 - (1 - x) ** 2.5, rel=1e-10)


def test_t_interval__hand_computation():
    mean, sd, low, high = stats.t_interval(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 0.95)
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)   # t_{0.975, 4} (closed form above)
    assert (mean, sd) == (3.0, pytest.approx(math.sqrt(2.5)))
    assert (low, high) == (pytest.approx(3 - half, rel=1e-9), pytest.approx(3 + half, rel=1e-9))


def test_bootstrap_counts__rows_are_resamples_of_n():
    counts = stats.bootstrap_counts(7, 500, np.random.default_rng(1))
    assert counts.shape == (500, 7)
    assert np.all(counts.sum(axis=1) == 7)
    assert counts.mean() == pytest.approx(1.0, abs=0.05)


def test_describe_metric__bootstrap_agrees_with_t_for_a_large_normal_sample():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"episode": np.arange(2000), "x": rng.normal(10.0, 4.0, 2000)})
    d = stats.describe_metric(frame, "x", 0.95, 4000, seed=1)
    assert d["estimate"] == pytest.approx(frame["x"].mean())
    t_half, boot_half = (d["t_high"] - d["t_low"]) / 2, (d["boot_high"] - d["boot_low"]) / 2
    assert t_half == pytest.approx(1.96 * frame["x"].std() / math.sqrt(2000), rel=0.01)
    assert boot_half == pytest.approx(t_half, rel=0.08)


def test_describe_metric__widen_share_is_a_ratio_of_sums_with_delta_method_interval():
    frame = pd.DataFrame({"episode": range(6), "widens": [1, 0, 2, 1, 0, 1], "actions": [4, 2, 4, 3, 1, 2]})
    d = stats.describe_metric(frame, "widen_share", 0.95, 1000, seed=0)
    ratio = 5 / 16
    # delta method by hand: Var(R) ~ Var(w - R a) / (n * mean(a)^2)
    resid = np.array([1, 0, 2, 1, 0, 1]) - ratio * np.array([4, 2, 4, 3, 1, 2])
    se = resid.std(ddof=1) / math.sqrt(6) / (16 / 6)
    t5 = stats.t_quantile(0.975, 5)
    assert d["estimate"] == pytest.approx(ratio)
    assert (d["t_low"], d["t_high"]) == (pytest.approx(ratio - t5 * se), pytest.approx(ratio + t5 * se))
    assert d["boot_low"] <= ratio <= d["boot_high"]


def _episodes(values, regimes, seed=42, **extra):
    n = len(values)
    return pd.DataFrame({"episode": np.arange(n), "regime": regimes, "seed": seed, "net_pnl_usd": values, **extra})


def test_compare_pair__constant_shift_gives_exact_difference_and_zero_width():
    regimes = ["mean_revert", "jumpy", "trend_up", "mean_revert"] * 5
    base = _episodes(np.linspace(-50, 80, 20), regimes)
    variant = _episodes(np.linspace(-50, 80, 20) + 12.5, regimes)
    out = stats.compare_pair(variant, base, ["net_pnl_usd"], variant_label="B", baseline_label="A")
    row = out[out.regime == "all"].iloc[0]
    assert row.pair == "B - A" and row.n_pairs == 20
    assert row.mean_diff == pytest.approx(12.5)
    assert row.t_low == pytest.approx(12.5) and row.t_high == pytest.approx(12.5)
    assert row.boot_low == pytest.approx(12.5) and row.boot_high == pytest.approx(12.5)
    assert out.set_index("regime").loc["mean_revert", "n_pairs"] == 10


def test_compare_pair__pairs_only_episodes_sharing_index_and_regime():
    base = _episodes([1.0, 2.0, 3.0, 4.0], ["mean_revert", "jumpy", "jumpy", "trend_up"])
    variant = _episodes([11.0, 12.0, 23.0, 14.0], ["mean_revert", "mean_revert", "jumpy", "trend_up"])
    out = stats.compare_pair(variant, base, ["net_pnl_usd"], variant_label="C", baseline_label="A")
    overall = out[out.regime == "all"].iloc[0]
    assert overall.n_pairs == 3                       # episode 1 changed regime: not paired
    assert overall.mean_diff == pytest.approx((10 + 20 + 10) / 3)
    assert overall.mean_variant == pytest.approx((11 + 23 + 14) / 3)
    jumpy = out[out.regime == "jumpy"].iloc[0]
    assert jumpy.n_pairs == 1 and jumpy.mean_diff == pytest.approx(20.0) and math.isnan(jumpy.t_low)


def test_compare_pair__t_interval_matches_an_independent_pandas_computation():
    rng = np.random.default_rng(7)
    regimes = rng.choice(["mean_revert", "jumpy", "trend_up"], 300)
    base = _episodes(rng.normal(0, 100, 300), regimes)
    variant = base.assign(net_pnl_usd=base.net_pnl_usd + rng.normal(5, 30, 300))
    out = stats.compare_pair(variant, base, ["net_pnl_usd"], variant_label="B", baseline_label="A",
                             confidence=0.9)
    d = (variant.net_pnl_usd - base.net_pnl_usd)[regimes == "trend_up"]
    half = stats.t_quantile(0.95, len(d) - 1) * d.std() / math.sqrt(len(d))
    row = out[out.regime == "trend_up"].iloc[0]
    assert row.t_low == pytest.approx(d.mean() - half) and row.t_high == pytest.approx(d.mean() + half)
    assert row.boot_low < d.mean() < row.boot_high


def test_compare_pair__widen_share_difference_of_ratios():
    regimes = ["mean_revert"] * 3
    base = _episodes([0.0] * 3, regimes, widens=[2, 2, 2], actions=[4, 4, 4])
    variant = _episodes([0.0] * 3, regimes, widens=[1, 0, 2], actions=[4, 2, 4])
    out = stats.compare_pair(variant, base, ["widen_share"], variant_label="B", baseline_label="A")
    row = out[out.regime == "all"].iloc[0]
    assert (row.mean_variant, row.mean_baseline) == (pytest.approx(0.3), pytest.approx(0.5))
    assert row.mean_diff == pytest.approx(-0.2)


def test_compare_pair__is_reproducible_and_refuses_different_seeds():
    regimes = ["jumpy"] * 50
    rng = np.random.default_rng(0)
    base, variant = _episodes(rng.normal(size=50), regimes), _episodes(rng.normal(size=50), regimes)
    first = stats.compare_pair(variant, base, ["net_pnl_usd"], variant_label="B", baseline_label="A", seed=5)
    again = stats.compare_pair(variant, base, ["net_pnl_usd"], variant_label="B", baseline_label="A", seed=5)
    pd.testing.assert_frame_equal(first, again)
    with pytest.raises(stats.PairingError, match="seeds differ"):
        stats.compare_pair(variant.assign(seed=7), base, ["net_pnl_usd"], variant_label="B", baseline_label="A")


def test_convergence__half_width_shrinks_like_one_over_root_n():
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"episode": np.arange(1000), "return": rng.normal(0.01, 0.02, 1000)})
    table = stats.convergence(frame, "return", [100, 250, 500, 1000, 5000], 0.95, 500, seed=0, label="A")
    assert list(table.n_episodes) == [100, 250, 500, 1000]            # 5000 > the episodes run: left out
    assert list(stats.convergence(frame.iloc[:300], "return", [100, 250, 500], 0.95, 100, 0).n_episodes) == [100, 250, 300]
    ratio = table.t_half_width.iloc[0] / table.t_half_width.iloc[-1]
    assert ratio == pytest.approx(math.sqrt(10), rel=0.15)


@pytest.mark.slow
def test_bootstrap_and_t_intervals__cover_the_true_mean_about_95_percent():
    rng = np.random.default_rng(2024)
    hits_t = hits_b = 0
    trials = 400
    for i in range(trials):
        frame = pd.DataFrame({"episode": np.arange(200), "x": rng.exponential(1.0, 200)})
        d = stats.describe_metric(frame, "x", 0.95, 1000, seed=i)
        hits_t += d["t_low"] <= 1.0 <= d["t_high"]
        hits_b += d["boot_low"] <= 1.0 <= d["boot_high"]
    assert 0.91 <= hits_t / trials <= 0.98 and 0.90 <= hits_b / trials <= 0.98
