"""Pool volume and active liquidity from the real pool history, and their link to exchange volume.

The simulator's reference pool (MarketConf: the mainnet USDC/WETH 0.05 % pool on 2024-01-05,
247 M USD a day, active liquidity 1.245e7) sets the units; the embedded daily WETH/USDT pool history
(2021-05 -> 2025-04, `hbbatch.worlds.history.pool_daily`) sets how that level moves. Each episode
draws one real pool day d:
    volume multiple    = V30(d) / V(2024-01-05)       V30: the pool's trailing 30-day mean daily volume
    liquidity multiple = TVL(d) / TVL(2024-01-05)
so volume and liquidity come from the same day (their ratio, the pool's turnover, is what sets an LP's
fee yield), relative to the calibration day's own figures (the reference pool traded 1.64x this pool's
150.8 M that day); the pools are taken to move in proportion.

The link between Binance volume and pool volume (`fit_volume_link`): day-to-day deviations of the
pool's volume from its 30-day mean follow Binance's deviations with an elasticity fitted by least
squares on log ratios (0.89, R^2 0.42 on the 0.05 % pool); levels across years do not (R^2 0.18:
the pool's share of ETH trading drifts), which is why the level comes from the pool's own history.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from hbbatch.worlds import history

REFERENCE_DAY = "2024-01-05"  # the day MarketConf's volume and liquidity were measured on
LEVEL_DAYS = 30


class VolumeLink(NamedTuple):
    elasticity: float            # d ln(pool volume deviation) / d ln(Binance volume deviation)
    intercept: float
    r_squared: float
    level_elasticity: float      # the same across raw daily levels (for the record: weak)
    level_r_squared: float
    n_days: int


def _deviation(series: pd.Series) -> pd.Series:
    return np.log(series / series.rolling(LEVEL_DAYS, min_periods=LEVEL_DAYS).mean())


def fit_volume_link(fee_bp: int = 5) -> VolumeLink:
    """Least-squares link of the pool's daily volume to Binance's USD volume on the same UTC days."""
    hourly = history.bars(60)
    binance = (hourly["volume"] * hourly["close"]).set_axis(pd.DatetimeIndex(hourly["date"])).resample("1D").sum()
    pool = history.pool_daily(fee_bp).set_index("date")["volume_usd"]
    both = pd.DataFrame({"binance": binance, "pool": pool}).dropna()
    both = both[(both["binance"] > 0) & (both["pool"] > 0)]
    deviations = pd.DataFrame({"x": _deviation(both["binance"]), "y": _deviation(both["pool"])}).dropna()
    slope, intercept = np.polyfit(deviations["x"], deviations["y"], 1)
    r2 = np.corrcoef(deviations["x"], deviations["y"])[0, 1] ** 2
    level_slope, _ = np.polyfit(np.log(both["binance"]), np.log(both["pool"]), 1)
    level_r2 = np.corrcoef(np.log(both["binance"]), np.log(both["pool"]))[0, 1] ** 2
    return VolumeLink(elasticity=float(slope), intercept=float(intercept), r_squared=float(r2),
                      level_elasticity=float(level_slope), level_r_squared=float(level_r2), n_days=len(deviations))


def levels(fee_bp: int = 5) -> pd.DataFrame:
    """One row per real pool day: date, volume_multiple, liquidity_multiple (see the module docstring), and
    day_volume_multiple: the day's own volume over the reference day's."""
    daily = history.pool_daily(fee_bp).set_index("date")
    level = daily["volume_usd"].rolling(LEVEL_DAYS, min_periods=LEVEL_DAYS).mean()
    frame = pd.DataFrame({"volume_level_usd": level, "volume_usd": daily["volume_usd"],
                          "tvl_usd": daily["tvl_usd"]}).dropna()
    # the reference pool's 247 M is one day's volume: divide by this pool's volume on that same day (150.8 M:
    # the USDC pool traded 1.64x the USDT pool), not by its 30-day level (34.4 M: the day was 4.4x it)
    reference = frame.loc[pd.Timestamp(REFERENCE_DAY, tz="UTC")]
    return pd.DataFrame({"date": frame.index,
                         "volume_multiple": (frame["volume_level_usd"] / reference["volume_usd"]).to_numpy(),
                         "liquidity_multiple": (frame["tvl_usd"] / reference["tvl_usd"]).to_numpy(),
                         "day_volume_multiple": (frame["volume_usd"] / reference["volume_usd"]).to_numpy()})
