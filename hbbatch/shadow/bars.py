"""Real 1-minute pool bars (demeter's `*.minute.csv` format) as replayable arrays.

Pool convention for USDC (token0, 6 decimals) / WETH (token1, 18 decimals): the pool's price is
WETH per USDC in raw units, so USD per ETH = 10^12 / 1.0001^tick, and raw liquidity is in
sqrt(raw USDC * raw WETH) = 10^12 sqrt(USD * ETH).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from hbbatch.sim.replay import Bars

DECIMALS_USDC, DECIMALS_WETH = 6, 18
LIQUIDITY_SCALE = 10 ** ((DECIMALS_USDC + DECIMALS_WETH) / 2)
BAR_COLUMNS = ("timestamp", "closeTick", "openTick", "inAmount0", "inAmount1", "currentLiquidity")


class BarsError(ValueError):
    """The bars file is missing a column or has unusable values."""


def usd_per_eth(tick: np.ndarray | float) -> np.ndarray:
    return 10.0 ** (DECIMALS_WETH - DECIMALS_USDC) / 1.0001 ** np.asarray(tick, dtype=float)


def read_minute_bars(path: Path | str) -> pd.DataFrame:
    """The bars with prices in USD/ETH, volume in USD and liquidity in sqrt(ETH*USD)."""
    path = Path(path)
    raw = pd.read_csv(path, dtype=str)
    missing = [c for c in BAR_COLUMNS if c not in raw.columns]
    if missing:
        raise BarsError(f"{path}: column(s) {missing} missing; expected demeter minute bars with {BAR_COLUMNS}")
    price_close = usd_per_eth(raw["closeTick"].astype(float))
    # amounts exceed int64: exact Python ints, then scaled to token units
    in_usdc = np.array([int(v) / 10**DECIMALS_USDC for v in raw["inAmount0"]])
    in_weth = np.array([int(v) / 10**DECIMALS_WETH for v in raw["inAmount1"]])
    return pd.DataFrame({
        "timestamp": pd.to_datetime(raw["timestamp"]),
        "price_open_usd": usd_per_eth(raw["openTick"].astype(float)),
        "price_close_usd": price_close,
        "volume_usd": in_usdc + in_weth * price_close,
        "pool_liquidity": np.array([int(v) for v in raw["currentLiquidity"]], dtype=float) / LIQUIDITY_SCALE,
    })


def to_bars(frame: pd.DataFrame, dtype: str = "float64", warmup_steps: int = 0) -> tuple[Bars, float]:
    """Replayable arrays of every bar and the price the band opens at: the first bar's open, or after a
    warm-up of `warmup_steps` bars (`hbbatch.sim.replay`), the last warm-up bar's close."""
    first_open = float(frame["price_open_usd"].iloc[0])
    closes = frame["price_close_usd"].to_numpy()
    price_start = first_open if warmup_steps == 0 else float(closes[warmup_steps - 1])
    log_return = np.diff(np.log(np.concatenate([[first_open], closes])))
    bars = Bars(log_return=np.asarray(log_return, dtype), volume_usd=frame["volume_usd"].to_numpy(dtype),
                pool_liquidity=frame["pool_liquidity"].to_numpy(dtype))
    if not math.isfinite(price_start) or np.any(~np.isfinite(log_return)):
        raise BarsError("bars: non-finite prices; check closeTick/openTick")
    return bars, price_start
