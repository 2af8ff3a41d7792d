"""hbbatch.stats against closed forms, published table values and hand computations (no SciPy)."""

import collections
import math
import os
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


@pytest.mark.parametrize("n", [7, 300, 1000, stats.BINCOUNT_BLOCK_ELEMENTS // 3, stats.BINCOUNT_BLOCK_ELEMENTS + 1])
def test_bootstrap_counts__are_the_multiplicities_of_the_generators_draws(n):
    draws = np.random.default_rng(4).integers(0, n, size=(50, n))
    expected = np.zeros((50, n))
    for r, row in enumerate(draws):
        for i, count in collections.Counter(row.tolist()).items():
            expected[r, i] = count
    np.testing.assert_array_equal(stats.bootstrap_counts(n, 50, np.random.default_rng(4)), expected)


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


@pytest.mark.parametrize("n, chunk_elements", [(7, 7), (7, 20), (1000, 3000), (1000, 1 << 22)])
def test_bootstrap_sums__same_numbers_as_one_dense_resampling_whatever_the_chunk(n, chunk_elements):
    columns = np.random.default_rng(2).normal(size=(n, 3))
    dense = stats.bootstrap_counts(n, 301, np.random.default_rng(9)) @ columns
    chunked = stats.bootstrap_sums(columns, 301, np.random.default_rng(9), chunk_elements=chunk_elements)
    np.testing.assert_allclose(chunked, dense, rtol=1e-12, atol=1e-9)


def test_describe_metrics__one_resampling_serves_every_metric():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"episode": np.arange(500), "x": rng.normal(size=500), "widens": rng.poisson(1, 500),
                          "actions": rng.poisson(5, 500) + 1})
    both = stats.describe_metrics(frame, ["x", "widen_share"], 0.95, 800, seed=3, label="A")
    counts = stats.bootstrap_counts(500, 800, stats._rng(3, "describe", "A"))
    x_low, x_high = stats.percentile_interval(counts @ frame["x"].to_numpy() / 500, 0.95)
    share = (counts @ frame["widens"].to_numpy(float)) / (counts @ frame["actions"].to_numpy(float))
    s_low, s_high = stats.percentile_interval(share, 0.95)
    assert (both["x"]["boot_low"], both["x"]["boot_high"]) == (pytest.approx(x_low), pytest.approx(x_high))
    assert (both["widen_share"]["boot_low"], both["widen_share"]["boot_high"]) == (pytest.approx(s_low),
                                                                                   pytest.approx(s_high))


def test_compare_pair__counts_each_side_and_the_paired_share():
    regimes = ["mean_revert", "jumpy"] * 5
    base = _episodes(np.arange(10.0), regimes)
    variant = _episodes(np.arange(10.0) + 1, regimes).iloc[:4]     # ran 4 of the baseline's 10 episodes
    variant = pd.concat([variant, _episodes([0.0] * 6, ["trend_up"] * 6).assign(episode=np.arange(4, 10))])
    out = stats.compare_pair(variant, base, ["net_pnl_usd"], variant_label="C", baseline_label="A").set_index("regime")
    assert tuple(out.loc["all", ["n_pairs", "n_variant", "n_baseline"]]) == (4, 10, 10)
    assert out.loc["all", "paired_share"] == pytest.approx(0.4)
    assert tuple(out.loc["trend_up", ["n_pairs", "n_variant", "n_baseline"]]) == (0, 6, 0)
    assert math.isnan(out.loc["trend_up", "paired_share"])
    assert out.loc["mean_revert", "paired_share"] == pytest.approx(1.0)   # 2 of min(2, 5)


def test_pair_episodes__rows_with_a_different_market_path_are_not_pairs():
    regimes = ["mean_revert"] * 4
    market = {"price_start": [2000.0, 2100.0, 1900.0, 2050.0], "realized_vol": [0.5, 0.6, 0.7, 0.8]}
    base = _episodes([1.0, 2.0, 3.0, 4.0], regimes, **market)
    variant = _episodes([2.0, 3.0, 4.0, 5.0], regimes, **market)
    variant.loc[1, "price_start"] = 2100.0 * (1 + 1e-6)          # another path
    variant.loc[2, "realized_vol"] = 0.7 * (1 + 1e-6)
    variant.loc[3, "price_start"] = 2050.0 * (1 + 1e-12)          # float noise: still the same path
    joined, mismatched = stats.pair_episodes(variant, base, "C", "A")
    assert list(joined["episode"]) == [0, 3] and list(mismatched["episode"]) == [1, 2]
    row = stats.compare_pair(variant, base, ["net_pnl_usd"], variant_label="C", baseline_label="A").iloc[0]
    assert (row.n_pairs, row.unpaired_mismatch, row.paired_share) == (2, 2, 0.5)
    with pytest.raises(stats.PairingError, match=r"C vs A: different markets: same episode index, different price"):
        stats.pair_episodes(variant.assign(price_start=variant.price_start * 1.01), base, "C", "A")


# ---------------------------------------------------------------- bootstraps of many episodes: groups

def test_resampling_units__rows_up_to_the_limit_then_groups_spanning_the_table():
    columns = np.arange(10.0).reshape(5, 2)
    units, sizes = stats.resampling_units(columns, max_units=5)
    assert sizes is None and units is not None and np.array_equal(units, columns)
    units, sizes = stats.resampling_units(np.arange(10.0)[:, None], max_units=4)   # rows 0,4,8 | 1,5,9 | 2,6 | 3,7
    np.testing.assert_array_equal(units[:, 0], [12.0, 15.0, 8.0, 10.0])
    np.testing.assert_array_equal(sizes, [3.0, 3.0, 2.0, 2.0])
    units, sizes = stats.resampling_units(np.ones((1_000_003, 3)), max_units=stats.BOOTSTRAP_UNITS)
    assert units.shape == (stats.BOOTSTRAP_UNITS, 3) and sizes.sum() == 1_000_003   # work O(units), not O(n)


def test_bootstrap_totals__up_to_the_limit_the_ordinary_bootstrap_to_the_bit():
    columns = np.random.default_rng(5).normal(size=(stats.BOOTSTRAP_UNITS, 2))
    sums, sizes = stats.bootstrap_totals(columns, 300, np.random.default_rng(8))
    assert sizes == stats.BOOTSTRAP_UNITS
    np.testing.assert_array_equal(sums, stats.bootstrap_sums(columns, 300, np.random.default_rng(8)))


def test_compare_pair__grouped_bootstrap_of_normal_pairs_matches_the_t_interval():
    # n well beyond BOOTSTRAP_UNITS: groups are resampled; the mean of normals has the t interval as oracle
    n = 50_000
    rng = np.random.default_rng(11)
    base = _episodes(rng.normal(100.0, 40.0, n), ["mean_revert"] * n)
    variant = base.assign(net_pnl_usd=base["net_pnl_usd"] + rng.normal(3.0, 25.0, n))
    row = stats.compare_pair(variant, base, ["net_pnl_usd"], variant_label="B", baseline_label="A",
                             n_bootstrap=2000, seed=1).iloc[0]
    diff = variant["net_pnl_usd"].to_numpy() - base["net_pnl_usd"].to_numpy()
    t_half = stats.t_quantile(0.975, n - 1) * diff.std(ddof=1) / math.sqrt(n)
    assert (row.t_high - row.t_low) / 2 == pytest.approx(t_half, rel=1e-9)
    boot_half = (row.boot_high - row.boot_low) / 2
    assert boot_half == pytest.approx(t_half, rel=0.08)          # resampling noise of 2,000 resamples: ~2.5 %
    assert (row.boot_high + row.boot_low) / 2 == pytest.approx(diff.mean(), abs=0.15 * t_half)


def test_bootstrap_totals__groups_give_the_ordinary_bootstraps_interval():
    # the same data, every row a unit vs 64 groups: the same interval up to resampling noise
    x = np.random.default_rng(12).exponential(1.0, 6000)[:, None]
    intervals = []
    for max_units in (len(x), 64):
        sums, sizes = stats.bootstrap_totals(x, 4000, np.random.default_rng(3), max_units=max_units)
        intervals.append(stats.percentile_interval(sums[:, 0] / sizes, 0.95))
    (low_rows, high_rows), (low_groups, high_groups) = intervals
    half = (high_rows - low_rows) / 2
    assert (high_groups - low_groups) / 2 == pytest.approx(half, rel=0.2)   # 64 groups: sd known to ~9 %
    assert (low_groups + high_groups) / 2 == pytest.approx((low_rows + high_rows) / 2, abs=0.2 * half)


def test_bootstrap_totals__grouped_intervals_cover_the_true_mean_about_95_percent():
    rng = np.random.default_rng(2025)
    hits, trials = 0, 300
    for i in range(trials):   # skewed data, 2,000 observations in 128 unequal groups (15 or 16 each)
        x = rng.exponential(1.0, 2000)[:, None]
        sums, sizes = stats.bootstrap_totals(x, 400, np.random.default_rng(i), max_units=128)
        low, high = stats.percentile_interval(sums[:, 0] / sizes, 0.95)
        hits += low <= 1.0 <= high
    assert 0.91 <= hits / trials <= 0.98


def test_describe_metrics__widen_share_of_many_episodes_matches_its_linearised_t_interval():
    n = 30_000
    rng = np.random.default_rng(13)
    actions = rng.poisson(4, n) + 1
    frame = pd.DataFrame({"episode": np.arange(n), "widens": rng.binomial(actions, 0.2), "actions": actions})
    d = stats.describe_metric(frame, "widen_share", 0.95, 2000, seed=2)
    assert d["estimate"] == pytest.approx(frame["widens"].sum() / frame["actions"].sum())
    assert (d["boot_high"] - d["boot_low"]) / 2 == pytest.approx((d["t_high"] - d["t_low"]) / 2, rel=0.08)


def test_bootstrap_totals__one_or_two_openblas_threads_give_the_simulators_intervals_to_the_bit():
    # the command line runs NumPy on one OpenBLAS thread (hbbatch.cli.prepare_environment). The simulator's
    # float32 metrics make every resample's sum exact in float64, so the order OpenBLAS sums in cannot show:
    # the same bits with one thread or two. Float64 values differ in the last bits only.
    import subprocess
    import sys

    script = ("import sys, numpy as np; from hbbatch import stats\n"
              "x = np.random.default_rng(3).normal(size=(6000, 4)) * [1.0, 1e3, 1e-3, 7.0]\n"
              "x = x.astype(sys.argv[1]).astype(np.float64)\n"
              "for n in (333, 1000, 1500, 6000):\n"
              "    s, _ = stats.bootstrap_totals(x[:n], 400, np.random.default_rng(n), max_units=4096)\n"
              "    print(s.tobytes().hex())\n")

    def sums(dtype, threads):
        done = subprocess.run([sys.executable, "-c", script, dtype], capture_output=True, text=True, check=True,
                              env={**os.environ, "OPENBLAS_NUM_THREADS": threads})
        return [np.frombuffer(bytes.fromhex(line), np.float64) for line in done.stdout.split()]

    one, two = sums("float32", "1"), sums("float32", "2")
    assert len(one) == 4 and all(a.tobytes() == b.tobytes() for a, b in zip(one, two))
    one, two = sums("float64", "1"), sums("float64", "2")
    assert all(np.allclose(a, b, rtol=1e-11, atol=0.0) for a, b in zip(one, two))
