"""The pool's numbers: fee rate, volume, active liquidity, how volume follows moves, depth, toxic flow,
and the current realised volatility. Each fit returns its numbers with the query that fed them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from hbbatch.calibration.regimes import window_stats

MINUTES_PER_YEAR = 525_600.0    # as hbbatch.sim.price
DEPTH_WIDTHS_TICKS = (1200, 1400, 1600, 6000)   # the roadmap's floors and the widest band


def _window(frame: pd.DataFrame, column: str) -> dict[str, str]:
    return {"first": frame[column].min().isoformat(), "last": frame[column].max().isoformat()}


def hourly_span_days(frame: pd.DataFrame, column: str = "hour") -> float:
    """Days that hourly rows cover, first to last hour inclusive."""
    return ((frame[column].max() - frame[column].min()).total_seconds() + 3600.0) / 86400.0


def fit_pool_fees(frame: pd.DataFrame, lookback_days: float) -> dict[str, Any]:
    """Fee rate the LP earns (fee-weighted), volume per day, active liquidity, from pool_hourly_fees.

    Volume per day divides by the hours the rows span (first to last hour, inclusive), not by the
    query's lookback parameter: a mislabelled export cannot scale the volume.
    """
    span_days = hourly_span_days(frame)
    volume = float(frame["volume_usd"].sum())
    fees = float(frame["fees_usd"].sum())
    liquidity = frame["active_liquidity"].to_numpy(float)
    return {
        "fee_rate": fees / volume if volume > 0 else float(frame["lp_fee_rate"].median()),
        "fee_tier": float(frame["fee_tier"].mode().iloc[0]),
        "tick_spacing": int(frame["tick_spacing"].mode().iloc[0]),
        "volume_usd": volume,
        "fees_usd": fees,
        "volume_usd_per_day": volume / span_days,
        "span_days": span_days,
        "lookback_days": float(lookback_days),
        "pool_liquidity_median": float(np.median(liquidity)),
        "pool_liquidity_log_sigma_hourly": float(np.std(np.log(liquidity), ddof=1)) if liquidity.size > 1 else 0.0,
        "price_close_usd": float(frame["close_price_usd"].iloc[-1]),
        "hours": int(len(frame)),
        "window": _window(frame, "hour"),
        "inputs": ["pool_hourly_fees"],
    }


def fit_volume_activity(frame: pd.DataFrame, bar_minutes: float = 1.0) -> dict[str, Any]:
    """How much volume follows price moves, in the simulator's terms, from dynamic_fee_analysis.

    The simulator draws volume V ((1 - s) + s |r| / m), m = sigma_ref sqrt(dt) sqrt(2 / pi), the mean
    |r| of its Gaussian moves at the reference volatility. Taking sigma_ref as the bars' realised
    volatility keeps the mean volume V at the observed volatility; s then matches the observed slope b
    of OLS volume = a + b |r|: s = b m / V (clipped to [0, 1]).
    """
    abs_move = frame["abs_log_return"].to_numpy(float)
    volume = frame["volume_usd"].to_numpy(float)
    design = np.column_stack([np.ones_like(abs_move), abs_move])
    (intercept, slope), *_ = np.linalg.lstsq(design, volume, rcond=None)
    mean_volume = float(volume.mean())
    sigma_bar = math.sqrt(float(np.mean(abs_move**2)))
    ref_abs_move = sigma_bar * math.sqrt(2.0 / math.pi)
    share = float(slope * ref_abs_move / mean_volume) if mean_volume > 0 else 0.0
    return {
        "volume_vol_share": min(max(share, 0.0), 1.0),
        "volume_vol_share_unclipped": share,
        "volume_ref_vol_annual": sigma_bar * math.sqrt(MINUTES_PER_YEAR / bar_minutes),
        "intercept_usd_per_bar": float(intercept),
        "slope_usd_per_unit_move": float(slope),
        "mean_abs_log_return": float(abs_move.mean()),
        "mean_volume_usd_per_bar": mean_volume,
        "correlation": float(np.corrcoef(abs_move, volume)[0, 1]) if abs_move.std() > 0 and volume.std() > 0 else 0.0,
        "fee_rate": float(frame["fees_usd"].sum() / volume.sum()) if volume.sum() > 0 else 0.0,
        "bars": int(len(frame)),
        "bar_minutes": float(bar_minutes),
        "window": _window(frame, "minute"),
        "inputs": ["dynamic_fee_analysis"],
    }


def fit_realized_vol(frame: pd.DataFrame, jump_sigmas: float, bar_minutes: float = 1.0) -> dict[str, Any]:
    """The pool's current realised volatility and jumps, the window rule applied to the whole lookback."""
    returns = frame["log_return"].to_numpy(float)
    stats = window_stats(returns, jump_sigmas)
    per_year = MINUTES_PER_YEAR / bar_minutes
    days = len(returns) * bar_minutes / 1440.0
    return {
        "realized_vol_annual": float(np.std(returns, ddof=1)) * math.sqrt(per_year),
        "robust_vol_annual": stats.robust_sigma * math.sqrt(per_year),
        "jumps": int(stats.jumps.sum()),
        "jumps_per_day": float(stats.jumps.sum() / days) if days > 0 else 0.0,
        "jump_variance_share": stats.jump_variance_share,
        "drift_tstat": stats.drift_tstat,
        "zero_return_share": float(np.mean(returns == 0.0)),
        "note": "on real one-minute bars, minutes without a tick change pull the MAD (and so the jump "
                "threshold) down: jump counts here are not comparable with the weekly regime fit",
        "bars": int(len(returns)),
        "bar_minutes": float(bar_minutes),
        "window": _window(frame, "minute"),
        "inputs": ["realized_vol_jumps"],
    }


def fit_liquidity_depth(frame: pd.DataFrame, pool: str, default_pool: str) -> dict[str, Any]:
    """Active liquidity at the current tick and the mean liquidity over bands centred on it."""
    current = int(frame["current_tick"].iloc[0])
    lower, upper = frame["tick_lower"].to_numpy(np.int64), frame["tick_upper"].to_numpy(np.int64)
    liquidity = frame["liquidity"].to_numpy(float)
    inside = (lower <= current) & (current < upper)
    active = float(liquidity[inside].sum())
    depth = {}
    for width in DEPTH_WIDTHS_TICKS:
        lo, hi = current - width // 2, current + width // 2
        overlap = np.clip(np.minimum(upper, hi) - np.maximum(lower, lo), 0, None)
        mean_liquidity = float(np.sum(overlap * liquidity) / width)
        depth[f"mean_over_active_{width}_ticks"] = mean_liquidity / active if active > 0 else None
    return {
        "pool": pool,
        "applies_to_default_pool": pool.lower() == default_pool.lower(),
        "current_tick": current,
        "active_liquidity_raw": active,
        "segments": int(len(frame)),
        **depth,
        "inputs": ["liquidity_depth"],
    }


def fit_mev(frame: pd.DataFrame) -> dict[str, Any]:
    """Share of the pool's volume that was sandwiched, from mev_toxicity."""
    volume = float(frame["volume_usd"].sum())
    victims = float(frame["sandwiched_volume_usd"].sum())
    return {
        "mev_share": victims / volume if volume > 0 else 0.0,
        "sandwiched_volume_usd": victims,
        "sandwiched_count": int(frame["sandwiched_count"].sum()),
        "trade_count": int(frame["trade_count"].sum()),
        "volume_usd": volume,
        "window": _window(frame, "hour"),
        "inputs": ["mev_toxicity"],
    }
