"""How much calibration uncertainty moves a comparison in the calibrated (parametric) world.

The regimes world's price process is refitted (hbbatch.calibration.world.fit_world) on block-bootstrap
resamples of the embedded hourly history: whole weeks drawn with replacement and strung together on the
history's own timeline, so volatility clustering inside a week survives and the fit sees a history as long
as the real one. Refit k = 0 is the fit on the history itself. Volume and gas fits are kept from refit 0:
resampled weeks break their day-by-day pairing with pool volume and gas. Each job of the world then runs
its settings in every refitted world on the same seeds, so the report can show the spread of each paired
gain across refits beside its Monte-Carlo interval (`<job>/calibration_spread.parquet`).
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
SPREAD = "calibration_spread.parquet"
BLOCK_HOURS = 168                       # a week: the block of the bootstrap
POOL_DAY = "2024-01-05"                 # the pool day the embedded calibration uses
KEPT_FROM_ORIGINAL = ("volume_vol_share", "gas_usd_median", "gas_dispersion", "gas_vol_elasticity",
                      "gas_ref_vol_annual")
COLUMNS = ("seed", "episode", "regime", "price_start", "realized_vol", "net_pnl_usd", "pnl_vs_hodl_usd", "gas_usd")


def resampled_bars(bars: pd.DataFrame, k: int, first_day: str, block_hours: int = BLOCK_HOURS) -> pd.DataFrame:
    """Hourly bars whose log returns are the history's, in whole blocks drawn with replacement (seed k), laid on
    the history's own consecutive dates; k = 0 returns the history unchanged."""
    frame = bars[bars["date"] >= pd.Timestamp(first_day, tz="UTC")].sort_values("date").reset_index(drop=True)
    if k == 0:
        return frame
    log_close = np.log(frame["close"].to_numpy(float))
    returns = np.diff(log_close)
    n_blocks = len(returns) // block_hours
    rng = np.random.default_rng([20261201, k])
    picks = rng.integers(0, n_blocks, size=n_blocks)
    drawn = np.concatenate([returns[b * block_hours:(b + 1) * block_hours] for b in picks])
    close = np.exp(log_close[0] + np.concatenate([[0.0], np.cumsum(drawn)]))
    out = frame.iloc[:len(close)].copy()
    out["close"] = close
    out["open"] = np.concatenate([[close[0]], close[:-1]])
    out["high"] = np.maximum(out["open"], out["close"])
    out["low"] = np.minimum(out["open"], out["close"])
    return out


@functools.lru_cache(maxsize=16)
def refit(k: int) -> dict[str, Any]:
    """{market: MarketConf numbers, regime_mix: shares of the world's weeks} of refit k (cached per process)."""
    from hbbatch.calibration.world import WorldFitSettings, fit_world, world_market
    from hbbatch.worlds import history

    settings = WorldFitSettings()
    bars = resampled_bars(history.bars(60), k, settings.first_day)
    fit = fit_world(bars, history.pool_daily(5), history.gas_daily(), POOL_DAY, settings)
    market = world_market(fit, None)
    if k > 0:
        original = refit(0)["market"]
        market.update({key: original[key] for key in KEPT_FROM_ORIGINAL if key in original})
    return {"market": market, "regime_mix": dict(fit["figures"]["world_label_shares"])}


def _merged(config: dict[str, Any], numbers: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    for key, value in numbers["market"].items():
        if key in out["market"]:
            out["market"][key] = {**out["market"][key], **value} if isinstance(value, dict) else value
    out["regime_mix"] = {**out["regime_mix"], **numbers["regime_mix"]}
    return out


def spread_episodes(config: dict[str, Any], simulate: Callable[[dict[str, Any]], pd.DataFrame],
                    resamples: int) -> pd.DataFrame:
    """The job's settings in refits 0..resamples of the calibrated world: episodes tagged by `resample`."""
    frames = []
    for k in range(resamples + 1):
        episodes = simulate(_merged(config, refit(k)))
        keep = [c for c in COLUMNS if c in episodes.columns]
        frames.append(episodes[keep].assign(resample=k))
    return pd.concat(frames, ignore_index=True)
