"""Gas cost of one LP action in USD, and the EV gate derived from it.

A recenter is the agent's typical action: exit the old band, swap to re-balance, mint the new band.
Its gas, from Uniswap's own gas snapshots (../shared/reference/uniswap_gas_snapshots, the
v3-periphery Jest snapshots), is the sum of
    NonfungiblePositionManager "multicall exit gas"                 228,718  (decreaseLiquidity + collect + burn)
    SwapRouter "#exactInputSingle 0 -> 1"                             107,180  (re-balance the tokens)
    NonfungiblePositionManager "#mint ... same pool, different ticks" 451,862  (the new position)
                                                                    = 787,760 gas units
Per day: gas_usd = units x gas price (gwei) x 1e-9 x ETH price (USD). GAS is the mean over the window:
the EV gate weighs an action's expected cost, and the expected cost of an action taken on a random day
of the window is the mean, not the median (30 days to 2026-06-02: mean $1.83, median $1.62). FEE_GATE =
fee_gate_multiple x GAS (2 by default, as the roadmap's $2/$4 and $4.20/$8.40). The median is the
window's gas level, the one the historical worlds rescale the history's gas to (world.gas_median_usd).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

RECENTER_GAS_BREAKDOWN = {
    "v3-periphery NonfungiblePositionManager 'multicall exit gas' (decreaseLiquidity + collect + burn)": 228_718,
    "v3-periphery SwapRouter '#exactInputSingle 0 -> 1' (re-balance)": 107_180,
    "v3-periphery NonfungiblePositionManager '#mint gas mint for same pool, different ticks'": 451_862,
}
RECENTER_GAS_UNITS = sum(RECENTER_GAS_BREAKDOWN.values())   # 787,760


def gas_usd_per_day(frame: pd.DataFrame, recenter_gas_units: float) -> pd.Series:
    return recenter_gas_units * frame["gas_price_gwei"] * 1e-9 * frame["eth_price_usd"]


def fit_gas(frame: pd.DataFrame, recenter_gas_units: float = RECENTER_GAS_UNITS,
            fee_gate_multiple: float = 2.0) -> dict[str, Any]:
    """GAS (expected cost of a recenter: the mean over the window's days), its level (median) and spread,
    and FEE_GATE, from gas_regime's rows."""
    gas_usd = gas_usd_per_day(frame, recenter_gas_units).to_numpy(float)
    median, mean = float(np.median(gas_usd)), float(np.mean(gas_usd))
    return {
        "gas_usd": mean,
        "gas_usd_median": median,
        "gas_usd_p10": float(np.quantile(gas_usd, 0.10)),
        "gas_usd_p90": float(np.quantile(gas_usd, 0.90)),
        "gas_usd_mean": mean,
        "gas_usd_log_sigma": float(np.std(np.log(gas_usd), ddof=1)) if gas_usd.size > 1 else 0.0,
        "gas_price_gwei_median": float(frame["gas_price_gwei"].median()),
        "eth_price_usd_median": float(frame["eth_price_usd"].median()),
        "fee_gate_usd": fee_gate_multiple * mean,
        "fee_gate_multiple": float(fee_gate_multiple),
        "recenter_gas_units": float(recenter_gas_units),
        "days": int(gas_usd.size),
        "window": {"first": frame["day"].min().isoformat(), "last": frame["day"].max().isoformat()},
        "note": "daily averages smooth intraday spikes: gas_usd_log_sigma understates the per-action spread",
        "inputs": ["gas_regime"],
    }

