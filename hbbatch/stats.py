"""Paired comparisons between variants, and intervals for one variant: t and percentile bootstrap.

Episodes of two variants that share (seed, episode index, regime) saw the same market path, so a
variant is compared with its baseline on the per-episode differences Δ_i = x_i(variant) − x_i(baseline)
of the episodes they share. Widen share is a ratio of sums (Σ widens / Σ actions), not a mean: its
bootstrap resamples episodes and recomputes the ratio, its t interval uses the ratio's linearisation.
Student's t quantiles come from the regularised incomplete beta function (no SciPy at run time).

Bootstraps cost O(n + B x min(n, BOOTSTRAP_UNITS)): up to BOOTSTRAP_UNITS observations each one is a resampled
unit (the ordinary bootstrap); beyond, observation i joins group i mod BOOTSTRAP_UNITS and the groups' sums
and sizes are resampled (a bootstrap of batch means: episodes are independent, so the groups are
independent and nearly equal, and a resample's mean is its summed values over its summed sizes). At 4 M
episodes one bootstrap then resamples 4,096 groups of about 1,000 episodes, not 4 M episodes.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from hbbatch.config.sim import REGIMES

PAIR_KEYS = ("episode", "regime")   # plus "seed" where both sides carry it: pooled replications pair per seed
MARKET_KEYS = ("price_start", "realized_vol")   # the path itself: equal on paired episodes (common random numbers)
MARKET_RTOL = 1e-9
BOOTSTRAP_CHUNK_ELEMENTS = 1 << 22   # resamples drawn a block of rows at a time: memory O(chunk x n), not O(B x n)
BOOTSTRAP_UNITS = 4096   # most units a bootstrap resamples: beyond, sums of this many groups (module docstring)
RATIO_METRICS = {"widen_share": ("widens", "actions")}   # metric: (numerator, denominator) columns
ALL = "all"


class PairingError(ValueError):
    """Two variants cannot be compared episode by episode (different seeds, or missing columns)."""


# ---------------------------------------------------------------- Student's t distribution

def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Lentz's evaluation of the continued fraction of I_x(a, b) (Numerical Recipes, betacf)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


@functools.lru_cache(maxsize=4096)   # every interval of a run asks for the same few (p, df)
def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df degrees of freedom (bisection on the CDF to 1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile: p={p} must be in (0, 1)")
    if df > 1e7:
        return NormalDist().inv_cdf(p)
    lo, hi = -1.0, 1.0
    while t_cdf(lo, df) > p:
        lo *= 2.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, abs(mid)):
            break
    return 0.5 * (lo + hi)


# ---------------------------------------------------------------- intervals

def t_half_width(sd: float, n: int, confidence: float) -> float:
    """Half-width of the t interval of a mean of n observations with standard deviation sd."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    return t_quantile(0.5 + confidence / 2.0, n - 1) * sd / math.sqrt(n)


def t_interval(values: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """(mean, sd, low, high): the t interval of the mean of `values`."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return (math.nan,) * 4
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if x.size > 1 else math.nan
    half = t_half_width(sd, x.size, confidence)
    return mean, sd, mean - half, mean + half


BINCOUNT_BLOCK_ELEMENTS = 1 << 14   # draws counted by one bincount: its bins stay in the L1/L2 cache


def bootstrap_counts(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(n_resamples, n) multiplicities of each observation in each resample (rows sum to n): the counts of
    rng.integers(0, n, (n_resamples, n)), row by row."""
    draws = rng.integers(0, n, size=(n_resamples, n))
    counts = np.empty((n_resamples, n))
    # a block of rows at a time, row r's draws offset by r * n into one bincount: a bincount per row pays a
    # call per row (1.5x slower at n = 1,000, 2x at n = 100), one over every row leaves the cache
    rows = max(1, BINCOUNT_BLOCK_ELEMENTS // max(n, 1))
    offsets = n * np.arange(min(rows, n_resamples))[:, None]
    for start in range(0, n_resamples, rows):
        block = draws[start:start + rows]
        counts[start:start + len(block)] = np.bincount(
            (block + offsets[:len(block)]).ravel(), minlength=len(block) * n).reshape(len(block), n)
    return counts


def bootstrap_sums(columns: np.ndarray, n_resamples: int, rng: np.random.Generator,
                   chunk_elements: int = BOOTSTRAP_CHUNK_ELEMENTS) -> np.ndarray:
    """(n_resamples, k) column sums of `columns` (n, k) over each resample of its n rows.

    One resampling serves every column (every metric, both sides of a pair). Rows of resamples are drawn
    a block at a time, so memory stays O(chunk x n); the draws come in the same order as one
    bootstrap_counts(n, n_resamples, rng) call, so the numbers are the same for the same seed.
    """
    columns = np.asarray(columns, dtype=np.float64)
    n = columns.shape[0]
    out = np.empty((n_resamples, columns.shape[1]))
    rows = max(1, min(n_resamples, chunk_elements // max(n, 1)))
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        out[start:stop] = bootstrap_counts(n, stop - start, rng) @ columns
    return out


def resampling_units(columns: np.ndarray, max_units: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The units a bootstrap of `columns` (n, k) resamples and their sizes: the rows themselves (sizes None:
    one each) up to max_units rows; beyond, the column sums of max_units groups (row i in group
    i mod max_units, so each group spans the whole table) and the groups' row counts."""
    columns = np.asarray(columns, dtype=np.float64)
    n, max_units = columns.shape[0], int(max_units or BOOTSTRAP_UNITS)
    if n <= max_units:
        return columns, None
    group = np.arange(n) % max_units
    sums = np.column_stack([np.bincount(group, weights=columns[:, j], minlength=max_units)
                            for j in range(columns.shape[1])])
    return sums, np.bincount(group, minlength=max_units).astype(np.float64)


def bootstrap_totals(columns: np.ndarray, n_resamples: int, rng: np.random.Generator,
                     max_units: int | None = None) -> tuple[np.ndarray, np.ndarray | float]:
    """(sums, sizes) of each resample: sums (n_resamples, k) of `columns` (n, k), sizes the observations each
    resample holds (a float n when the rows themselves are the units, as in bootstrap_sums; an array
    (n_resamples,) when groups are). A resample's mean is sums / sizes. Cost O(n + n_resamples x units)."""
    units, sizes = resampling_units(columns, max_units)
    if sizes is None:
        return bootstrap_sums(units, n_resamples, rng), float(units.shape[0])
    totals = bootstrap_sums(np.column_stack([units, sizes]), n_resamples, rng)
    return totals[:, :-1], totals[:, -1]


def percentile_interval(resampled: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = resampled[np.isfinite(resampled)]
    if finite.size == 0:
        return math.nan, math.nan
    alpha = 1.0 - confidence
    low, high = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def _rng(seed: int, *names: str) -> np.random.Generator:
    # Seeded by the names it serves, so results do not depend on the order comparisons are made in.
    return np.random.default_rng([seed, zlib.crc32("|".join(names).encode())])


def ratio_of_sums(num: np.ndarray, den: np.ndarray) -> float:
    total = float(den.sum())
    return float(num.sum()) / total if total > 0 else math.nan


def _ratio_influence(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Per-observation linearisation of Σnum/Σden: its sample mean is 0, its sd gives the ratio's s.e."""
    mean_den = den.mean()
    if mean_den <= 0:
        return np.full(num.shape, math.nan)
    return (num - ratio_of_sums(num, den) * den) / mean_den


def _sums_ratio(num_sums: np.ndarray, den_sums: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return num_sums / den_sums


def _metric_columns(metric: str, suffix: str = "") -> tuple[str, ...]:
    """The episode columns a metric's bootstrap resamples: the metric, or a ratio's numerator and denominator."""
    return tuple(f"{c}{suffix}" for c in RATIO_METRICS.get(metric, (metric,)))


# ---------------------------------------------------------------- one variant

def estimate(frame: pd.DataFrame, metric: str) -> float:
    """A metric's point estimate: the mean, or the ratio of sums for ratio metrics (widen share)."""
    if len(frame) == 0:
        return math.nan
    if metric in RATIO_METRICS:
        num, den = RATIO_METRICS[metric]
        return ratio_of_sums(frame[num].to_numpy(np.float64), frame[den].to_numpy(np.float64))
    return float(frame[metric].to_numpy(np.float64).mean())


def describe_metrics(frame: pd.DataFrame, metrics: Sequence[str], confidence: float, n_bootstrap: int,
                     seed: int, label: str = "") -> dict[str, dict[str, float]]:
    """Estimate and intervals of each metric of one variant (a mean, or a ratio of sums: widen share);
    one bootstrap resampling of the episodes serves every metric."""
    n = len(frame)
    if n == 0:
        return {m: {"n": 0, "estimate": math.nan, "sd": math.nan, "t_low": math.nan, "t_high": math.nan,
                    "boot_low": math.nan, "boot_high": math.nan} for m in metrics}
    names = list(dict.fromkeys(c for m in metrics for c in _metric_columns(m)))
    sums, sizes = bootstrap_totals(frame[names].to_numpy(np.float64), n_bootstrap, _rng(seed, "describe", label))
    boot_of = {c: sums[:, i] for i, c in enumerate(names)}
    out = {}
    for metric in metrics:
        if metric in RATIO_METRICS:
            num, den = (frame[c].to_numpy(np.float64) for c in RATIO_METRICS[metric])
            estimate = ratio_of_sums(num, den)
            sd = float(np.std(_ratio_influence(num, den), ddof=1)) if n > 1 else math.nan
            half = t_half_width(sd, n, confidence)
            low, high = estimate - half, estimate + half
            boot = _sums_ratio(*(boot_of[c] for c in RATIO_METRICS[metric]))
        else:
            estimate, sd, low, high = t_interval(frame[metric].to_numpy(np.float64), confidence)
            boot = boot_of[metric] / sizes
        boot_low, boot_high = percentile_interval(boot, confidence)
        out[metric] = {"n": n, "estimate": estimate, "sd": sd, "t_low": low, "t_high": high,
                       "boot_low": boot_low, "boot_high": boot_high}
    return out


def describe_metric(frame: pd.DataFrame, metric: str, confidence: float, n_bootstrap: int,
                    seed: int, label: str = "") -> dict[str, float]:
    """Estimate and intervals of one metric of one variant."""
    return describe_metrics(frame, [metric], confidence, n_bootstrap, seed, label)[metric]


def convergence(frame: pd.DataFrame, metric: str, sizes: Sequence[int], confidence: float,
                n_bootstrap: int, seed: int, label: str = "") -> pd.DataFrame:
    """CI half-widths of a metric's mean over the first k episodes, for each k in `sizes` up to len(frame)."""
    ordered = frame.sort_values("episode")
    rows = []
    for k in sorted(set(int(s) for s in sizes) | {len(ordered)}):   # the whole run is the last row
        if k > len(ordered) or k < 2:
            continue
        d = describe_metric(ordered.iloc[:k], metric, confidence, n_bootstrap, seed, f"{label}|{k}")
        rows.append({"variant": label, "metric": metric, "n_episodes": k, "estimate": d["estimate"],
                     "t_half_width": (d["t_high"] - d["t_low"]) / 2.0,
                     "boot_half_width": (d["boot_high"] - d["boot_low"]) / 2.0})
    return pd.DataFrame(rows, columns=["variant", "metric", "n_episodes", "estimate", "t_half_width",
                                       "boot_half_width"])


# ---------------------------------------------------------------- paired comparisons

def _same_market(joined: pd.DataFrame) -> np.ndarray:
    """Per joined row: True where the path columns both sides carry agree to MARKET_RTOL (relative)."""
    same = np.ones(len(joined), dtype=bool)
    for key in MARKET_KEYS:
        if f"{key}_v" in joined.columns and f"{key}_b" in joined.columns:
            a, b = joined[f"{key}_v"].to_numpy(np.float64), joined[f"{key}_b"].to_numpy(np.float64)
            same &= np.isclose(a, b, rtol=MARKET_RTOL, atol=0.0, equal_nan=True)
    return same


def pair_episodes(variant: pd.DataFrame, baseline: pd.DataFrame, variant_label: str = "variant",
                  baseline_label: str = "baseline") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Episodes both variants ran on the same market path, columns suffixed _v (variant) and _b (baseline),
    and the rows that shared (episode, regime) but not the path (price_start, realized_vol): not pairs."""
    for name, frame in ((variant_label, variant), (baseline_label, baseline)):
        missing = [k for k in PAIR_KEYS if k not in frame.columns]
        if missing:
            raise PairingError(f"{name} episodes lack column(s) {missing}; cannot pair episodes")
    if "seed" in variant.columns and "seed" in baseline.columns:
        seeds_v, seeds_b = set(variant["seed"].unique()), set(baseline["seed"].unique())
        if seeds_v != seeds_b:
            raise PairingError(f"seeds differ ({sorted(seeds_v)} vs {sorted(seeds_b)}); paired comparisons "
                               "need identical seeds (set HB_SEED or seed= once for every job)")
    keys = list(PAIR_KEYS) + (["seed"] if "seed" in variant.columns and "seed" in baseline.columns else [])
    joined = variant.merge(baseline, on=keys, suffixes=("_v", "_b"), validate="one_to_one")
    same = _same_market(joined)
    mismatched = int((~same).sum())
    if len(joined) and mismatched == len(joined):   # nothing pairs: a configuration error, not noise
        raise PairingError(f"{variant_label} vs {baseline_label}: different markets: same episode index, different "
                           "price paths (market overrides or calibration.apply_market?); "
                           f"all {mismatched} episodes sharing (episode, regime) differ in {', '.join(MARKET_KEYS)}")
    if not mismatched:
        return joined, joined.iloc[:0]
    return joined[same].reset_index(drop=True), joined[~same].reset_index(drop=True)


def _paired_columns(part: pd.DataFrame, metrics: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """The per-pair columns the bootstrap resamples: Δ of each mean metric, and both sides of each ratio's
    numerator and denominator."""
    names, columns = [], []
    for metric in metrics:
        if metric in RATIO_METRICS:
            for col in _metric_columns(metric, "_v") + _metric_columns(metric, "_b"):
                if col not in names:
                    names.append(col)
                    columns.append(part[col].to_numpy(np.float64))
        else:
            names.append(f"{metric}_diff")
            columns.append(part[f"{metric}_v"].to_numpy(np.float64) - part[f"{metric}_b"].to_numpy(np.float64))
    return np.column_stack(columns), names


def _paired_metric(part: pd.DataFrame, metric: str, boot_of: dict[str, np.ndarray], sizes: np.ndarray | float,
                   confidence: float) -> dict[str, float]:
    n = len(part)
    if metric in RATIO_METRICS:
        num, den = RATIO_METRICS[metric]
        nv, dv = part[f"{num}_v"].to_numpy(np.float64), part[f"{den}_v"].to_numpy(np.float64)
        nb, db = part[f"{num}_b"].to_numpy(np.float64), part[f"{den}_b"].to_numpy(np.float64)
        mean_v, mean_b = ratio_of_sums(nv, dv), ratio_of_sums(nb, db)
        diff = mean_v - mean_b
        influence = _ratio_influence(nv, dv) - _ratio_influence(nb, db)
        sd = float(np.std(influence, ddof=1)) if n > 1 else math.nan
        half = t_half_width(sd, n, confidence)
        low, high = diff - half, diff + half
        boot = (_sums_ratio(boot_of[f"{num}_v"], boot_of[f"{den}_v"])
                - _sums_ratio(boot_of[f"{num}_b"], boot_of[f"{den}_b"]))
    else:
        xv, xb = part[f"{metric}_v"].to_numpy(np.float64), part[f"{metric}_b"].to_numpy(np.float64)
        mean_v, mean_b = float(xv.mean()), float(xb.mean())
        diff, sd, low, high = t_interval(xv - xb, confidence)
        boot = boot_of[f"{metric}_diff"] / sizes
    boot_low, boot_high = percentile_interval(boot, confidence)
    return {"mean_variant": mean_v, "mean_baseline": mean_b, "mean_diff": diff, "sd_diff": sd,
            "t_low": low, "t_high": high, "boot_low": boot_low, "boot_high": boot_high}


STAT_COLUMNS = ["mean_variant", "mean_baseline", "mean_diff", "sd_diff", "t_low", "t_high", "boot_low", "boot_high"]
COMPARISON_COLUMNS = ["variant", "baseline", "pair", "metric", "regime", "n_pairs", "n_variant", "n_baseline",
                      "paired_share", "unpaired_mismatch", *STAT_COLUMNS, "confidence", "n_bootstrap"]


def paired_share(n_pairs: int, n_variant: int, n_baseline: int) -> float:
    """Paired episodes over the episodes the smaller side ran (1.0: every episode found its twin)."""
    smaller = min(n_variant, n_baseline)
    return n_pairs / smaller if smaller else math.nan


def compare_pair(variant: pd.DataFrame, baseline: pd.DataFrame, metrics: Sequence[str], *, variant_label: str,
                 baseline_label: str, confidence: float = 0.95, n_bootstrap: int = 2000,
                 seed: int = 0) -> pd.DataFrame:
    """Paired statistics of variant − baseline, per metric, overall ("all") and per regime.

    Each row also says how many episodes each side ran (n_variant, n_baseline), the share that paired and
    how many shared (episode, regime) but saw a different path (unpaired_mismatch).
    """
    joined, mismatched = pair_episodes(variant, baseline, variant_label, baseline_label)
    mismatched_regimes = mismatched["regime"]
    rows = []
    for regime in (ALL,) + REGIMES:
        part = joined if regime == ALL else joined[joined["regime"] == regime]
        n = len(part)
        n_v = len(variant) if regime == ALL else int((variant["regime"] == regime).sum())
        n_b = len(baseline) if regime == ALL else int((baseline["regime"] == regime).sum())
        mismatch = len(mismatched_regimes) if regime == ALL else int((mismatched_regimes == regime).sum())
        boot_of, sizes = {}, float(n)
        if n:
            columns, names = _paired_columns(part, metrics)
            sums, sizes = bootstrap_totals(columns, n_bootstrap, _rng(seed, variant_label, baseline_label, regime))
            boot_of = {c: sums[:, i] for i, c in enumerate(names)}
        for metric in metrics:
            stats = (_paired_metric(part, metric, boot_of, sizes, confidence) if n
                     else dict.fromkeys(STAT_COLUMNS, math.nan))
            rows.append({"variant": variant_label, "baseline": baseline_label,
                         "pair": f"{variant_label} - {baseline_label}", "metric": metric, "regime": regime,
                         "n_pairs": n, "n_variant": n_v, "n_baseline": n_b,
                         "paired_share": paired_share(n, n_v, n_b), "unpaired_mismatch": mismatch,
                         **stats, "confidence": confidence, "n_bootstrap": n_bootstrap})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def paired_means_by(variant: pd.DataFrame, baseline: pd.DataFrame, metric: str, by: str) -> dict[int, float]:
    """The paired mean difference of `metric` within each value of `by` (a calibration refit: the spread of a
    comparison across assumptions, beside its Monte-Carlo interval within one)."""
    keys = [k for k in (by, "seed", *PAIR_KEYS) if k in variant.columns and k in baseline.columns]
    joined = variant.merge(baseline, on=keys, suffixes=("_v", "_b"))
    diffs = (joined[f"{metric}_v"] - joined[f"{metric}_b"]).groupby(joined[by]).mean()
    return {int(k): float(v) for k, v in diffs.items()}
