"""The regimes world's real days: per-episode levels of pool volume, active liquidity, volatility and gas.

Each episode of the parametric world draws one real day d of the pool history (the 0.05 % WETH/USDT
pool, 2021-06 -> 2025-04) and takes every level from that date on; volume walks the calendar, day j of
the episode reading day d + j (circular at the table's end), the others stay at day d's. (Gas does not
walk: real days' gas moves with real days' volatility, not the world's; walking it dilutes the rank
correlation of gas with |daily return| from 0.18-0.26 to 0.07 against the data's 0.22.)

    volume_multiple       the day's pool volume over the reference day's (`hbbatch.worlds.pool.levels`), net
                          of its |return|-driven activity (1 - s) + s x (summed |hourly r| / its trailing
                          30-day median), s = market.volume_vol_share: the world's own |return| puts it back
    liquidity_multiple    the pool's TVL over the reference day's (as the historical world)
    variance_multiple     realised variance of hourly ETH returns over the `level_days` days from d, over its
                          mean over the hours since `first_day`: the slow part of volatility, which the
                          hourly GARCH(1,1) runs around (a GARCH alone forgets a level in a day or two)
    start_variance_ratio  the GARCH's conditional variance at d 00:00 over its long-run level: episodes open
                          in the calm or stormy hours real days opened in
    week_hour             the hour of the week d begins at (Monday 00:00 UTC = 0): the episode's clock for
                          the weekly profile of volatility (`seasonal_variance`: US hours busy, weekends
                          quiet, 0.3x to 2.6x; it is what lifts the real ACF of |hourly r| at 24 h and 168 h)
    gas_usd               one action's gas on d (Etherscan daily average, the year's ETH price), net of
                          that day's volatility effect: gas(d) / (vol(d) / its trailing 30-day median)^elasticity,
                          since the world puts the volatility effect back step by step

The decomposition (`standardised_returns`, `garch_variance`) is the one the calibration fits the GARCH on
(hbbatch/calibration/world.py): r_t = sqrt(L_t s_t g_t) e_t with L the forward `level_days` realised
variance, s the hour of the week's variance profile (mean 1) and g a variance-targeted GARCH(1,1) of
r / sqrt(L s).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import pandas as pd

from hbbatch.worlds import history, inputs, pool

HOURS_PER_DAY = 24
DAYS_PER_YEAR = 365.0
ROLLING_DAYS = 30              # the gas fit's volatility reference: the trailing 30-day median
HOURS_PER_WEEK = 168
COLUMNS = ("volume_multiple", "liquidity_multiple", "variance_multiple", "start_variance_ratio", "gas_usd",
           "week_hour")


class LevelFit(NamedTuple):
    """The hourly decomposition r = sqrt(L s g) e of a history."""

    returns: pd.Series             # hourly log returns (consecutive bars only), indexed by the bar's time
    level: np.ndarray              # L: forward realised variance over `level_days` (NaN where the days run out)
    seasonal: np.ndarray           # (168,) s: variance profile over the hours of the week (mean 1)
    z: np.ndarray                  # r / sqrt(L s)


class Levels(NamedTuple):
    table: pd.DataFrame            # date and COLUMNS, one row per real day
    seasonal: np.ndarray           # (168,) the weekly variance profile (LevelFit.seasonal)


def hourly_returns(bars: pd.DataFrame, first_day: str | None) -> pd.Series:
    """Log close-to-close returns of consecutive hourly bars (a gap's return is dropped, not spread)."""
    frame = bars if first_day is None else bars[bars["date"] >= pd.Timestamp(first_day, tz="UTC")]
    frame = frame.sort_values("date")
    dates = frame["date"]
    log_close = np.log(frame["close"].to_numpy(float))
    consecutive = (dates.diff() == pd.Timedelta(hours=1)).to_numpy()
    return pd.Series(np.diff(log_close, prepend=np.nan), index=dates.to_numpy())[consecutive]


def forward_variance(returns: pd.Series, days: float) -> np.ndarray:
    """Mean squared return over [t, t + days) for every hour t; NaN where under half those hours exist."""
    times = pd.DatetimeIndex(returns.index).as_unit("ns").asi8
    squared = np.asarray(returns, float) ** 2
    sums = np.concatenate([[0.0], np.cumsum(squared)])
    start = np.arange(len(times))
    end = np.searchsorted(times, times + int(days * 86_400e9), side="left")
    count = end - start
    level = (sums[end] - sums[start]) / np.maximum(count, 1)
    return np.where(count >= 0.5 * days * HOURS_PER_DAY, level, np.nan)


def hour_of_week(index: pd.Index) -> np.ndarray:
    """Monday 00:00 UTC = 0 .. Sunday 23:00 = 167."""
    stamps = pd.DatetimeIndex(index)
    return (stamps.day_of_week * HOURS_PER_DAY + stamps.hour).to_numpy()


def seasonal_variance(x: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """The variance profile over the hours of the week, mean 1: (mean |x| in the hour / mean |x|)^2
    (mean absolute values: a few jumps do not make an hour busy)."""
    known = np.isfinite(x)
    mean_abs = pd.Series(np.abs(x[known])).groupby(hours[known]).mean().reindex(range(HOURS_PER_WEEK))
    profile = (mean_abs.to_numpy() / np.nanmean(mean_abs.to_numpy())) ** 2
    profile = np.where(np.isfinite(profile), profile, 1.0)
    return profile / profile.mean()


def standardised_returns(returns: pd.Series, days: float) -> LevelFit:
    level = forward_variance(returns, days)
    hours = hour_of_week(returns.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        unseasoned = np.asarray(returns, float) / np.sqrt(level)
        seasonal = seasonal_variance(unseasoned, hours)
        z = unseasoned / np.sqrt(seasonal[hours])
    return LevelFit(returns=returns, level=level, seasonal=seasonal, z=z)


def garch_variance(z: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Variance-targeted GARCH(1,1) of z (long-run level 1, as the simulator's): g_0 = 1,
    g_t = (1 - alpha - beta) + alpha z_{t-1}^2 + beta g_{t-1}; NaN z's count as z^2 = 1."""
    from scipy.signal import lfilter

    z2 = np.where(np.isfinite(z), np.asarray(z, float) ** 2, 1.0)
    drive = (1.0 - alpha - beta) + alpha * np.concatenate([[1.0], z2[:-1]])
    return lfilter([1.0], [1.0, -beta], drive, zi=[beta * 1.0])[0]


def daily_vol_ratio(returns: pd.Series) -> pd.Series:
    """Each UTC day's realised volatility over its trailing 30-day median (the gas fit's regressor)."""
    squared = pd.Series(np.asarray(returns, float) ** 2, index=pd.DatetimeIndex(returns.index))
    daily = np.sqrt(squared.resample("1D").sum(min_count=20) * DAYS_PER_YEAR)
    return daily / daily.rolling(ROLLING_DAYS, min_periods=ROLLING_DAYS).median()


def daily_activity(returns: pd.Series, volume_vol_share: float) -> pd.Series:
    """Each UTC day's |return|-driven volume activity, as the volume fit sees it (mean about 1)."""
    moves = pd.Series(np.abs(np.asarray(returns, float)), index=pd.DatetimeIndex(returns.index))
    daily = moves.resample("1D").sum(min_count=20)
    relative = daily / daily.rolling(ROLLING_DAYS, min_periods=ROLLING_DAYS).median()
    return (1.0 - volume_vol_share) + volume_vol_share * relative


def level_table(bars: pd.DataFrame, pool_days: pd.DataFrame, gas: pd.DataFrame, gas_units: float,
                level_days: float, alpha: float, beta: float, gas_vol_elasticity: float, volume_vol_share: float,
                first_day: str | None, gas_level_days: int | None = None) -> Levels:
    """One row per calendar day that every source covers (date and COLUMNS, see the module docstring; a
    missing day repeats the one before), and the weekly variance profile. With `gas_level_days` the gas is
    each day's relative to its level (`hbbatch.worlds.inputs.daily_gas_usd`, as a historical world reads it
    at a set gas level), to be rescaled by the caller."""
    fit = standardised_returns(hourly_returns(bars, first_day), level_days)
    hours = pd.DatetimeIndex(fit.returns.index)
    mean_level = float(np.nanmean(fit.level))
    g = garch_variance(fit.z, alpha, beta)
    per_hour = pd.DataFrame({"variance_multiple": fit.level / mean_level, "start_variance_ratio": g,
                             "week_hour": hour_of_week(hours).astype(float)}, index=hours)
    at_midnight = per_hour[hours.hour == 0].set_axis(hours[hours.hour == 0].floor("D"))
    vol_ratio = daily_vol_ratio(fit.returns)
    gas_net = inputs.daily_gas_usd(gas, gas_units, gas_level_days) / vol_ratio.reindex(gas["date"].to_numpy()).to_numpy() \
        ** gas_vol_elasticity
    days = pool_days.set_index("date")
    activity = daily_activity(fit.returns, volume_vol_share).reindex(days.index).to_numpy()
    days = days.assign(volume_multiple=days["day_volume_multiple"].to_numpy() / activity)
    table = days[["volume_multiple", "liquidity_multiple"]].join(at_midnight, how="inner") \
        .join(gas_net.rename("gas_usd"), how="inner")
    table = table[np.isfinite(table[list(COLUMNS)]).all(axis=1) & (table["gas_usd"] > 0)
                  & (table["volume_multiple"] > 0)]
    # consecutive calendar days, so that an episode's day j is the real day d + j
    calendar = pd.date_range(table.index[0], table.index[-1], freq="D")
    table = table.reindex(calendar).ffill().rename_axis("date")
    table["week_hour"] = hour_of_week(table.index).astype(float)
    return Levels(table=table.reset_index()[["date", *COLUMNS]], seasonal=fit.seasonal)


@functools.lru_cache(maxsize=8)
def embedded_level_table(gas_units: float, level_days: float, alpha: float, beta: float,
                         gas_vol_elasticity: float, volume_vol_share: float, pool_fee_bp: int = 5,
                         first_day: str | None = "2020-01-01", gas_level_days: int | None = None) -> Levels:
    """`level_table` of the embedded history (cached: the files do not change while a process runs)."""
    pool_days = pool.levels(pool_fee_bp)
    return level_table(history.bars(60), pool_days, history.gas_daily(), gas_units, level_days, alpha, beta,
                       gas_vol_elasticity, volume_vol_share, first_day, gas_level_days)
