"""Real bars -> the arrays a historical world reads on device (`hbbatch.sim.history.HistoryParams.bars`).

Per bar, against the previous bar's close (a bar whose previous bar is missing is dropped, so no
return spans a gap):
    log_return = ln(close / previous close); log_high, log_low = ln(high or low / previous close)
    activity   = the bar's pool volume relative to the pool's level: (Binance USD volume of the bar
                 / its trailing 30-day mean) ** elasticity, normalised to mean 1 (see `hbbatch.worlds.pool`)
    gas_usd    = the cost of one action on the bar's UTC day: units x gas price x ETH price (Etherscan daily);
                 where the world sets its own gas level, that cost relative to its level, the median of the
                 `gas_level_days` days centred on the day (the day-to-day spread kept, the years' level removed)
    jump       = |r| > jump_sigmas x robust sigma of the bar's own week (1.4826 x rolling median |r|)
so volume, gas and jumps travel with the returns they happened beside.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from hbbatch.sim.history import ACTIVITY, GAS_USD, JUMP, LOG_HIGH, LOG_LOW, LOG_RETURN, N_COLUMNS

MAD_TO_SIGMA = 1.4826
VOLUME_WINDOW = "30D"


class BarArrays(NamedTuple):
    columns: np.ndarray          # (n_bars, N_COLUMNS) float64, in hbbatch.sim.history's column order
    dates: pd.DatetimeIndex      # (n_bars,) the open time of each kept bar


def contiguous_returns(frame: pd.DataFrame, bar_minutes: float) -> pd.DataFrame:
    """Log return, high and low of every bar against the previous bar's close, where that bar exists."""
    close = frame["close"].to_numpy(float)
    previous = np.concatenate([[np.nan], close[:-1]])
    times = pd.DatetimeIndex(frame["date"]).as_unit("ns").asi8
    follows = np.concatenate([[False], np.diff(times) == round(bar_minutes * 60e9)])
    log_return = np.log(close / previous)
    out = pd.DataFrame({
        "date": pd.DatetimeIndex(frame["date"]),
        "log_return": log_return,
        "log_high": np.maximum(np.log(frame["high"].to_numpy(float) / previous), np.maximum(log_return, 0.0)),
        "log_low": np.minimum(np.log(frame["low"].to_numpy(float) / previous), np.minimum(log_return, 0.0)),
        "volume_usd": (frame["volume"].to_numpy(float) * close) if "volume" in frame else np.nan,
    })
    return out[follows].reset_index(drop=True)


def activity(returns: pd.DataFrame, elasticity: float) -> np.ndarray:
    """Pool activity per bar (mean 1): trailing-30-day-relative exchange volume to the fitted elasticity."""
    volume = returns["volume_usd"]
    if volume.isna().all() or not (volume > 0).any():
        return np.ones(len(returns))
    level = volume.set_axis(pd.DatetimeIndex(returns["date"])).rolling(VOLUME_WINDOW, min_periods=1).mean()
    relative = np.where(level.to_numpy() > 0, volume.to_numpy() / level.to_numpy(), 1.0)
    shaped = np.power(np.maximum(relative, 0.0), elasticity)
    return shaped / shaped.mean()


def daily_gas_usd(gas: pd.DataFrame, units: float, level_days: int | None = None) -> pd.Series:
    """One action's gas in USD each Etherscan day; with `level_days`, relative to its level: the median of the
    `level_days` days centred on the day (at least half of them present), so about 1 on a typical day."""
    daily = gas.set_index("date")
    usd = units * daily["gas_price_gwei"] * 1e-9 * daily["eth_price_usd"]
    if level_days is None:
        return usd
    level = usd.rolling(int(level_days), center=True, min_periods=max(int(level_days) // 2, 1)).median()
    return usd / level.bfill().ffill()


def gas_per_action_usd(dates: pd.Series, gas: pd.DataFrame, units: float, level_days: int | None = None) -> np.ndarray:
    """One action's gas in USD on each date's UTC day (nearest Etherscan day where a day is missing); with
    `level_days`, relative to the day's level (`daily_gas_usd`)."""
    usd = daily_gas_usd(gas, units, level_days)
    days = pd.DatetimeIndex(dates).floor("D")
    position = usd.index.get_indexer(days, method="nearest")
    return usd.to_numpy()[position]


def jump_flags(log_return: pd.Series, dates: pd.Series, jump_sigmas: float) -> np.ndarray:
    absolute = log_return.abs().set_axis(pd.DatetimeIndex(dates))
    robust_sigma = MAD_TO_SIGMA * absolute.rolling("7D", min_periods=1).median().to_numpy()
    return (absolute.to_numpy() > jump_sigmas * robust_sigma).astype(float)


def bar_arrays(frame: pd.DataFrame, bar_minutes: float, gas: pd.DataFrame, gas_units: float,
               elasticity: float, jump_sigmas: float, gas_level_days: int | None = None) -> BarArrays:
    returns = contiguous_returns(frame, bar_minutes)
    columns = np.zeros((len(returns), N_COLUMNS))
    columns[:, LOG_RETURN] = returns["log_return"]
    columns[:, LOG_HIGH] = returns["log_high"]
    columns[:, LOG_LOW] = returns["log_low"]
    columns[:, ACTIVITY] = activity(returns, elasticity)
    columns[:, GAS_USD] = gas_per_action_usd(returns["date"], gas, gas_units, gas_level_days)
    columns[:, JUMP] = jump_flags(returns["log_return"], returns["date"], jump_sigmas)
    return BarArrays(columns=columns, dates=pd.DatetimeIndex(returns["date"]))


def resample(frame: pd.DataFrame, bar_minutes: float, minutes: float) -> pd.DataFrame:
    """Bars aggregated to `minutes` (a multiple of bar_minutes); buckets missing any bar are dropped."""
    per = int(round(minutes / bar_minutes))
    indexed = frame.set_index("date")
    grouped = indexed.resample(f"{int(minutes)}min", origin="epoch")
    out = grouped.agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    out = out[grouped["close"].count() == per]
    return out.reset_index()
