"""Stylised facts of a market: one function from price, volume and gas paths to one row of numbers.

The real history and a world's simulated episodes go through the same code (`stylised_facts`), so a
difference between their facts is a difference between the markets, never between two computations.
Every path is first put on an hourly grid: the hour's close, its highest and lowest price, the pool's
volume in the hour, the cost of one action in the hour (mean) and the pool's active liquidity (mean).
Hours, days and weeks are counted from each path's start (the real history starts at 00:00 UTC), and
only whole windows inside one path count: an episode is never joined to the next.

Missing values (NaN) are allowed where a source has none (a day without gas data): facts that need
them are computed over the hours, days or weeks that have them, and are NaN when none has.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

LOG_TICK = math.log(1.0001)
HOURS_PER_DAY, HOURS_PER_WEEK, DAYS_PER_YEAR = 24, 168, 365.0
BAND_WIDTHS_TICKS = (800, 1200, 1600, 3000)
WEEKLY_QUANTILES = (0.5, 0.9, 0.99)
ACF_LAGS_HOURS = (1, 24, 168)
DAILY_QUANTILES = (0.1, 0.5, 0.9)
GAS_SEGMENT_DAYS = 14          # gas is compared with |return| relative to its median over this many days
WIDE_WIDTH_TICKS = 3000        # the "wide position" whose fee APR is a fact
WIDE_CAPITAL_USD = 100_000.0


@dataclass(frozen=True)
class MarketPaths:
    """Market paths on one step grid; one row per path (a simulated episode, or one stretch of history).

    Steps are `step_minutes` long and a whole number of them makes an hour. Optional arrays may be None
    (the fact that needs them is NaN) or hold NaN where a value is missing.
    """

    step_minutes: float
    close_usd: np.ndarray                  # (n_paths, n_steps + 1) price at the step boundaries, [:, 0] the open
    high_usd: np.ndarray | None = None     # (n_paths, n_steps) the step's highest price (None: the higher close)
    low_usd: np.ndarray | None = None      # (n_paths, n_steps)
    volume_usd: np.ndarray | None = None   # (n_paths, n_steps) pool volume traded in the step
    gas_usd: np.ndarray | None = None      # (n_paths, n_steps) cost of one action (recenter) in the step
    pool_liquidity: np.ndarray | None = None  # (n_paths, n_steps) competing active liquidity, sqrt(ETH*USD)
    fee_rate: float = 0.0005               # the LP's share of each swap

    def __post_init__(self) -> None:
        close = np.asarray(self.close_usd, float)
        if close.ndim != 2 or close.shape[1] < 2:
            raise ValueError(f"MarketPaths.close_usd: shape {close.shape}; need (n_paths, n_steps + 1)")
        per_hour = 60.0 / self.step_minutes
        if per_hour < 1 or abs(per_hour - round(per_hour)) > 1e-9:
            raise ValueError(f"MarketPaths.step_minutes={self.step_minutes}: need a whole number of steps per hour")
        n_steps = close.shape[1] - 1
        for name in ("high_usd", "low_usd", "volume_usd", "gas_usd", "pool_liquidity"):
            value = getattr(self, name)
            if value is not None and np.shape(value) != (close.shape[0], n_steps):
                raise ValueError(f"MarketPaths.{name}: shape {np.shape(value)}; need {(close.shape[0], n_steps)}")

    @property
    def steps_per_hour(self) -> int:
        return int(round(60.0 / self.step_minutes))


@dataclass(frozen=True)
class HourlyPaths:
    """MarketPaths on the hourly grid (whole hours only)."""

    close: np.ndarray        # (n_paths, n_hours + 1) ln price at the hour boundaries
    high: np.ndarray         # (n_paths, n_hours) ln of the hour's highest price
    low: np.ndarray          # (n_paths, n_hours)
    volume_usd: np.ndarray   # (n_paths, n_hours) NaN where unknown
    gas_usd: np.ndarray      # (n_paths, n_hours) mean cost of one action in the hour
    pool_liquidity: np.ndarray  # (n_paths, n_hours)
    fee_rate: float


def _hourly_blocks(values: np.ndarray | None, shape: tuple[int, int, int], how: str) -> np.ndarray:
    if values is None:
        return np.full(shape[:2], np.nan)
    blocks = np.asarray(values, float)[:, : shape[1] * shape[2]].reshape(shape)
    with np.errstate(all="ignore"):
        if how == "sum":
            return blocks.sum(axis=2)   # NaN if any step is unknown: a partial hour is not an hour's volume
        return blocks.mean(axis=2)


def to_hourly(paths: MarketPaths) -> HourlyPaths:
    """Whole hours of each path: closes every hour, the hour's extremes, summed volume, mean gas and liquidity."""
    k = paths.steps_per_hour
    close = np.log(np.asarray(paths.close_usd, float))
    n_paths, n_hours = close.shape[0], (close.shape[1] - 1) // k
    if n_hours < 1:
        raise ValueError(f"MarketPaths: {close.shape[1] - 1} steps of {paths.step_minutes} min make no whole hour")
    steps = close[:, 1: n_hours * k + 1]
    opens = close[:, : n_hours * k]
    high = np.maximum(opens, steps) if paths.high_usd is None else np.log(np.asarray(paths.high_usd, float))[:, : n_hours * k]
    low = np.minimum(opens, steps) if paths.low_usd is None else np.log(np.asarray(paths.low_usd, float))[:, : n_hours * k]
    shape = (n_paths, n_hours, k)
    return HourlyPaths(
        close=close[:, : n_hours * k + 1: k], high=high.reshape(shape).max(axis=2), low=low.reshape(shape).min(axis=2),
        volume_usd=_hourly_blocks(paths.volume_usd, shape, "sum"), gas_usd=_hourly_blocks(paths.gas_usd, shape, "mean"),
        pool_liquidity=_hourly_blocks(paths.pool_liquidity, shape, "mean"), fee_rate=float(paths.fee_rate))


def _windows(hourly: HourlyPaths, hours: int) -> tuple[np.ndarray, ...]:
    """Whole non-overlapping windows of `hours` inside each path: (open, close, high, low, volume, liquidity),
    each (n_windows, hours) but the open (n_windows,)."""
    n_paths, n_hours = hourly.high.shape
    n = n_hours // hours
    if n == 0:
        empty = np.empty((0, hours))
        return np.empty(0), empty, empty, empty, empty, empty

    def cut(a: np.ndarray) -> np.ndarray:
        return a[:, : n * hours].reshape(n_paths * n, hours)

    opens = hourly.close[:, : n * hours: hours].reshape(-1)
    return (opens, cut(hourly.close[:, 1:]), cut(hourly.high), cut(hourly.low), cut(hourly.volume_usd),
            cut(hourly.pool_liquidity))


def band_facts(hourly: HourlyPaths, widths_ticks: Sequence[int] = BAND_WIDTHS_TICKS) -> dict[str, float]:
    """Per band width, over whole weeks: the share of weeks whose price never leaves a band centred on
    the week's open, and the band's mean time in range (share of hourly closes inside it)."""
    opens, closes, highs, lows, _, _ = _windows(hourly, HOURS_PER_WEEK)
    facts: dict[str, float] = {}
    for width in widths_ticks:
        half = 0.5 * width * LOG_TICK
        lower, upper = (opens - half)[:, None], (opens + half)[:, None]
        stays = (highs < upper).all(axis=1) & (lows >= lower).all(axis=1)
        inside = (closes >= lower) & (closes < upper)
        facts[f"band_stay_share_{width}"] = float(stays.mean()) if len(opens) else math.nan
        facts[f"time_in_range_{width}"] = float(inside.mean()) if len(opens) else math.nan
    return facts


def weekly_return_facts(hourly: HourlyPaths) -> dict[str, float]:
    """Quantiles of |weekly log return| over whole weeks."""
    opens, closes, *_ = _windows(hourly, HOURS_PER_WEEK)
    moves = np.abs(closes[:, -1] - opens) if len(opens) else np.empty(0)
    return {f"weekly_abs_return_q{_pct(q)}": _quantile(moves, q) for q in WEEKLY_QUANTILES}


def pooled_acf(x: np.ndarray, lag: int) -> float:
    """Autocorrelation at `lag` of rows of one series cut into paths: products only of pairs inside a path,
    centred and scaled by the mean and variance of all values (NaN pairs left out)."""
    x = np.asarray(x, float)
    if x.shape[1] <= lag:
        return math.nan
    mean, var = np.nanmean(x), np.nanvar(x)
    products = (x[:, lag:] - mean) * (x[:, :-lag] - mean)
    if var <= 0 or not np.isfinite(products).any():
        return math.nan
    return float(np.nanmean(products) / var)


def hourly_return_facts(hourly: HourlyPaths) -> dict[str, float]:
    """ACF of |hourly log return| at 1, 24 and 168 hours, and the excess kurtosis of hourly log returns."""
    returns = np.diff(hourly.close, axis=1)
    abs_returns = np.abs(returns)
    facts = {f"acf_abs_hourly_return_{lag}h": pooled_acf(abs_returns, lag) for lag in ACF_LAGS_HOURS}
    r = returns[np.isfinite(returns)]
    centred = r - r.mean()
    m2 = np.mean(centred**2) if len(r) else 0.0
    facts["hourly_excess_kurtosis"] = float(np.mean(centred**4) / m2**2 - 3.0) if m2 > 0 else math.nan
    return facts


def _daily(hourly: HourlyPaths) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole days of each path: (|daily log return|, volume, mean gas), each (n_paths, n_days)."""
    n_paths, n_hours = hourly.high.shape
    n_days = n_hours // HOURS_PER_DAY
    cut = (n_paths, n_days, HOURS_PER_DAY)
    close = hourly.close[:, : n_days * HOURS_PER_DAY + 1: HOURS_PER_DAY]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # a day with no gas data is NaN, as intended
        volume = hourly.volume_usd[:, : n_days * HOURS_PER_DAY].reshape(cut).sum(axis=2)
        gas = np.nanmean(hourly.gas_usd[:, : n_days * HOURS_PER_DAY].reshape(cut), axis=2)
    volume[np.isnan(hourly.volume_usd[:, : n_days * HOURS_PER_DAY].reshape(cut)).any(axis=2)] = np.nan
    return np.abs(np.diff(close, axis=1)), volume, gas


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        return math.nan
    ra = np.argsort(np.argsort(a[keep])).astype(float)
    rb = np.argsort(np.argsort(b[keep])).astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def daily_facts(hourly: HourlyPaths) -> dict[str, float]:
    """Quantiles of the pool's daily volume and of the daily mean cost of one action, and the rank
    correlation of gas with |daily return|. Gas is taken relative to its median over each stretch of
    GAS_SEGMENT_DAYS days of a path, so that slow changes of the gas level over years (and of volatility
    with them) do not pass for a day-to-day link."""
    abs_return, volume, gas = _daily(hourly)
    facts = {f"daily_volume_usd_q{_pct(q)}": _quantile(volume, q) for q in DAILY_QUANTILES}
    facts.update({f"gas_per_action_usd_q{_pct(q)}": _quantile(gas, q) for q in DAILY_QUANTILES})
    n_paths, n_days = gas.shape
    n_segments = n_days // GAS_SEGMENT_DAYS
    if n_segments:
        cut = (n_paths * n_segments, GAS_SEGMENT_DAYS)
        seg_gas = gas[:, : n_segments * GAS_SEGMENT_DAYS].reshape(cut)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            relative = seg_gas / np.nanmedian(seg_gas, axis=1, keepdims=True)
        seg_return = abs_return[:, : n_segments * GAS_SEGMENT_DAYS].reshape(cut)
        facts["gas_abs_return_rank_corr"] = _spearman(relative.reshape(-1), seg_return.reshape(-1))
    else:
        facts["gas_abs_return_rank_corr"] = math.nan
    return facts


def wide_position_liquidity(width_ticks: float, capital_usd: float) -> float:
    """Liquidity of a band of `width_ticks` centred on the price, worth `capital_usd`, per sqrt(price):
    L = capital / (2 sqrt(P) (1 - 1.0001^(-width/4))) (token amounts of a v3 position at its centre)."""
    return capital_usd / (2.0 * (1.0 - math.exp(-0.25 * width_ticks * LOG_TICK)))


def fee_apr_fact(hourly: HourlyPaths, width_ticks: int = WIDE_WIDTH_TICKS,
                 capital_usd: float = WIDE_CAPITAL_USD) -> dict[str, float]:
    """Fee APR of a wide band centred on each week's open and held for the week: fee_rate x volume x
    its share of active liquidity in every hour whose close is in range, over its capital, annualised."""
    opens, closes, _, _, volume, liquidity = _windows(hourly, HOURS_PER_WEEK)
    if not len(opens):
        return {f"fee_apr_{width_ticks}": math.nan}
    half = 0.5 * width_ticks * LOG_TICK
    inside = (closes >= (opens - half)[:, None]) & (closes < (opens + half)[:, None])
    own = wide_position_liquidity(width_ticks, capital_usd) / np.exp(0.5 * opens)[:, None]
    fees = hourly.fee_rate * volume * own / (own + liquidity) * inside
    weekly = np.sum(fees, axis=1)       # NaN for a week with an unknown hour
    known = np.isfinite(weekly)
    apr = float(np.mean(weekly[known]) / capital_usd * DAYS_PER_YEAR / 7.0) if known.any() else math.nan
    return {f"fee_apr_{width_ticks}": apr}


def stylised_facts(paths: MarketPaths) -> dict[str, float]:
    """Every stylised fact of the paths, by name (see FACT_TITLES)."""
    hourly = to_hourly(paths)
    return {**weekly_return_facts(hourly), **band_facts(hourly), **hourly_return_facts(hourly),
            **daily_facts(hourly), **fee_apr_fact(hourly)}


def sample_sizes(paths: MarketPaths) -> dict[str, int]:
    """How many whole weeks, days and hours the facts rest on."""
    hourly = to_hourly(paths)
    n_paths, n_hours = hourly.high.shape
    return {"paths": n_paths, "weeks": n_paths * (n_hours // HOURS_PER_WEEK),
            "days": n_paths * (n_hours // HOURS_PER_DAY), "hours": n_paths * n_hours}


def _pct(q: float) -> str:
    return f"{round(100 * q):02d}"


def _quantile(values: np.ndarray, q: float) -> float:
    v = np.asarray(values, float).reshape(-1)
    v = v[np.isfinite(v)]
    return float(np.quantile(v, q)) if len(v) else math.nan


def _titles() -> dict[str, str]:
    titles = {f"weekly_abs_return_q{_pct(q)}": f"|weekly log return|, {_pct(q)} % quantile" for q in WEEKLY_QUANTILES}
    for w in BAND_WIDTHS_TICKS:
        titles[f"band_stay_share_{w}"] = f"share of weeks inside a centred {w}-tick band"
        titles[f"time_in_range_{w}"] = f"time in range of a centred {w}-tick band held a week"
    titles.update({f"acf_abs_hourly_return_{lag}h": f"ACF of |hourly return| at {lag} h" for lag in ACF_LAGS_HOURS})
    titles["hourly_excess_kurtosis"] = "excess kurtosis of hourly returns"
    titles.update({f"daily_volume_usd_q{_pct(q)}": f"daily pool volume [USD], {_pct(q)} % quantile"
                   for q in DAILY_QUANTILES})
    titles.update({f"gas_per_action_usd_q{_pct(q)}": f"gas per action [USD] (daily mean), {_pct(q)} % quantile"
                   for q in DAILY_QUANTILES})
    titles["gas_abs_return_rank_corr"] = f"rank corr. of gas (vs its {GAS_SEGMENT_DAYS}-day median) and |daily return|"
    titles[f"fee_apr_{WIDE_WIDTH_TICKS}"] = f"fee APR of a centred {WIDE_WIDTH_TICKS}-tick band held a week"
    return titles


FACT_TITLES = _titles()   # every fact stylised_facts returns, with its title and units
