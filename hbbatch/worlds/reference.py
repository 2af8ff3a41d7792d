"""The real history as MarketPaths: the reference every world's stylised facts are held against.

Hourly bars give the price (close, high, low); the pool's daily volume and the daily cost of one action
are spread over the hours of their day (volume in equal parts, gas as the day's value), so that the
daily facts computed from the hourly grid give back the daily figures exactly. The grid starts at the
first whole UTC day of the bars and ends at the last; a missing hour repeats the previous close (the
history's gaps are at most a few hours).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from hbbatch.worlds import history, inputs
from hbbatch.worlds.facts import HOURS_PER_DAY, MarketPaths, stylised_facts

POOL_FEE_BP = 5                 # the 0.05 % pool's daily volume


def _utc(series: pd.Series) -> pd.Series:
    dates = pd.to_datetime(series, utc=True)
    return dates.dt.tz_convert("UTC")


def _daily_on_hours(hours: pd.DatetimeIndex, daily: pd.DataFrame | None, column: str, per_hour: bool) -> np.ndarray:
    if daily is None or column not in daily.columns:
        return np.full(len(hours), np.nan)
    days = _utc(daily["date"]).dt.floor("D")
    values = pd.Series(daily[column].astype(float).to_numpy(), index=days).groupby(level=0).last()
    on_hours = values.reindex(hours.floor("D")).to_numpy()
    return on_hours / HOURS_PER_DAY if per_hour else on_hours


def history_paths(bars: pd.DataFrame, pool_daily: pd.DataFrame | None = None, gas_daily: pd.DataFrame | None = None,
                  fee_rate: float = 0.0005) -> MarketPaths:
    """One path of hourly steps from hourly `bars` (date = the bar's open time, open, high, low, close),
    with `pool_daily` (date, volume_usd[, pool_liquidity]) and `gas_daily` (date, gas_usd: one action)."""
    frame = bars.assign(date=_utc(bars["date"])).drop_duplicates("date").set_index("date").sort_index()
    if len(frame) < 2 or (frame.index.to_series().diff().dropna() < pd.Timedelta(hours=1)).any():
        raise ValueError("history_paths: bars must be hourly (one bar per hour, at least two)")
    first = frame.index[0].ceil("D")
    last = (frame.index[-1] + pd.Timedelta(hours=1)).floor("D")   # the last whole day ends here
    if last - first < pd.Timedelta(days=1):
        raise ValueError("history_paths: the bars hold no whole UTC day")
    hours = pd.date_range(first, last, freq="h", inclusive="left", tz="UTC")
    grid = frame.reindex(hours)
    close = grid["close"].ffill()
    open_ = grid["open"].fillna(close.shift(1)).fillna(close)
    high = grid["high"].fillna(close)
    low = grid["low"].fillna(close)
    closes = np.concatenate([[open_.iloc[0]], close.to_numpy()])
    return MarketPaths(
        step_minutes=60.0, close_usd=closes[None, :], high_usd=high.to_numpy()[None, :], low_usd=low.to_numpy()[None, :],
        volume_usd=_daily_on_hours(hours, pool_daily, "volume_usd", per_hour=True)[None, :],
        gas_usd=_daily_on_hours(hours, gas_daily, "gas_usd", per_hour=False)[None, :],
        pool_liquidity=_daily_on_hours(hours, pool_daily, "pool_liquidity", per_hour=False)[None, :],
        fee_rate=fee_rate)


def gas_per_action_daily(gas: pd.DataFrame, gas_units: float, level_days: int | None = None,
                         scale: float = 1.0) -> pd.DataFrame:
    """date, gas_usd: the cost of one action of `gas_units` gas (calibration.recenter_gas_units) each day, at
    the day's average gas price and ETH price; as a historical world with its own gas level reads it (relative
    to the day's `level_days` level, see `hbbatch.worlds.inputs`), times `scale`."""
    usd = inputs.daily_gas_usd(gas, gas_units, level_days) * scale
    return pd.DataFrame({"date": usd.index, "gas_usd": usd.to_numpy()})


def embedded_history_paths(gas_units: float, start: str | None = None, end: str | None = None,
                           gas_level_days: int | None = None, gas_scale: float = 1.0) -> MarketPaths:
    """The embedded history (hourly bars, the 0.05 % pool's daily volume, daily gas for actions of
    `gas_units`) from `start` to `end` (UTC dates; None: where the bars begin or end), on the hourly grid.
    A world with its own gas level is held against the history's gas read as that world reads it
    (`gas_level_days`, `gas_scale` of its record)."""
    bars = history.bars(60)
    if start is not None:
        bars = bars[bars["date"] >= pd.Timestamp(start, tz="UTC")]
    if end is not None:
        bars = bars[bars["date"] < pd.Timestamp(end, tz="UTC")]
    gas = gas_per_action_daily(history.gas_daily(), gas_units, gas_level_days, gas_scale)
    return history_paths(bars, history.pool_daily(POOL_FEE_BP), gas, fee_rate=POOL_FEE_BP * 1e-4)


@functools.lru_cache(maxsize=8)
def embedded_history_facts(gas_units: float, start: str | None = None, end: str | None = None,
                           gas_level_days: int | None = None, gas_scale: float = 1.0) -> dict[str, float]:
    """The stylised facts of the embedded history (cached: the files do not change while a process runs)."""
    return stylised_facts(embedded_history_paths(gas_units, start, end, gas_level_days, gas_scale))
