"""The planner's signal values of one gated query result, in the units of `hbbatch.planner.decisions`.

The Dune source stores each result it fetches in the planner's cache with these numbers
(`ResultCache.put(values=...)`), so the planner's value-of-information test reads the calibration's
own fits rather than column medians. Only signals of the decision table, and only those the query's
metadata lists in `provides`, are given:

- `gas_regime`: gas_price (gwei) and eth_price (USD), medians over the days (the planner's own rule);
- `pool_hourly_fees`: fee_rate (fee-weighted), volume (USD per day over the rows' span),
  active_liquidity (median in-range L), eth_price (the last close);
- `realized_vol_jumps`: realized_vol, the annualised std of the bars' log returns;
- `dynamic_fee_analysis`: fee_rate (fees / volume), volume (mean per bar x bars per day),
  realized_vol (the annualised rms move);
- `regime_frequencies`: drift and realized_vol, the annualised mean and std of the newest
  classification window's log returns, so that decisions.drift_tstat is that window's t-statistic;
- `mev_toxicity`: mev_share (sandwiched share of volume), volume (USD per day over the rows' span).

`liquidity_depth` gives none: its liquidity is raw (the query knows no token decimals), not the
decimal-adjusted L of `active_liquidity`; with no value the planner cannot show it irrelevant.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import pandas as pd

from hbbatch.calibration.fit import FitSettings, regime_window
from hbbatch.calibration.pool import fit_mev, fit_pool_fees, fit_realized_vol, fit_volume_activity, hourly_span_days
from hbbatch.calibration.regimes import DAYS_PER_YEAR, split_windows, window_stats
from hbbatch.calibration.results import QueryResult
from hbbatch.planner.cache import signal_values as column_medians
from hbbatch.planner.catalog import QuerySpec

MINUTES_PER_DAY = 1440.0


def _pool_hourly_fees(frame: pd.DataFrame, result: QueryResult, settings: FitSettings) -> dict[str, float]:
    pool = fit_pool_fees(frame, float(result.parameters.get("lookback_days", 0)))
    return {"fee_rate": pool["fee_rate"], "volume": pool["volume_usd_per_day"],
            "active_liquidity": pool["pool_liquidity_median"], "eth_price": pool["price_close_usd"]}


def _realized_vol_jumps(frame: pd.DataFrame, result: QueryResult, settings: FitSettings) -> dict[str, float]:
    return {"realized_vol": fit_realized_vol(frame, settings.thresholds.jump_sigmas)["realized_vol_annual"]}


def _dynamic_fee_analysis(frame: pd.DataFrame, result: QueryResult, settings: FitSettings) -> dict[str, float]:
    activity = fit_volume_activity(frame)
    return {"fee_rate": activity["fee_rate"], "realized_vol": activity["volume_ref_vol_annual"],
            "volume": activity["mean_volume_usd_per_bar"] * MINUTES_PER_DAY / activity["bar_minutes"]}


def _regime_frequencies(frame: pd.DataFrame, result: QueryResult, settings: FitSettings) -> dict[str, float]:
    step_days, window = regime_window(frame, settings.window_days)
    newest = window_stats(split_windows(frame["log_return"].to_numpy(float), window)[-1],
                          settings.thresholds.jump_sigmas)
    return {"drift": newest.mean * DAYS_PER_YEAR / step_days,
            "realized_vol": newest.std * math.sqrt(DAYS_PER_YEAR / step_days)}


def _mev_toxicity(frame: pd.DataFrame, result: QueryResult, settings: FitSettings) -> dict[str, float]:
    mev = fit_mev(frame)
    return {"mev_share": mev["mev_share"], "volume": mev["volume_usd"] / hourly_span_days(frame)}


FITS: dict[str, Callable[[pd.DataFrame, QueryResult, FitSettings], Mapping[str, Any]]] = {
    "pool_hourly_fees": _pool_hourly_fees,
    "realized_vol_jumps": _realized_vol_jumps,
    "dynamic_fee_analysis": _dynamic_fee_analysis,
    "regime_frequencies": _regime_frequencies,
    "mev_toxicity": _mev_toxicity,
    "liquidity_depth": lambda frame, result, settings: {},
}


def signal_values(result: QueryResult, spec: QuerySpec, settings: FitSettings) -> dict[str, float]:
    """One number per signal the query provides (see the table above); non-finite numbers are left out."""
    fit = FITS.get(spec.name)
    values = fit(result.to_frame(spec), result, settings) if fit else column_medians(result.rows, spec.provides)
    return {signal: float(value) for signal, value in values.items()
            if signal in spec.provides and value is not None and math.isfinite(float(value))}
