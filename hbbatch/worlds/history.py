"""The embedded real history as pandas tables (built by `python -m hbbatch.worlds.build_history`).

    bars(60)        Binance ETH/USDT hourly bars, 2017-08-17 -> 2025-04-30
    bars(5)         5-minute bars, 2022-08-01 -> 2025-04-30 (2023-12-31 missing)
    bars(1)         1-minute bars, 2024-07-26 14:16 -> 2024-08-25 14:23 (the 2024-08-05 crash inside)
    pool_daily(5)   Uniswap v3 mainnet WETH/USDT 0.05 % pool per UTC day: volume_usd, tvl_usd, price_usd
    pool_daily(30)  the same for the 0.30 % pool, 2021-05-05 -> 2025-04-30
    gas_daily()     Etherscan daily average gas price (gwei) and ETH price (USD), 2015-08 -> 2026-06

Bars: `date` is the bar's open time (UTC, tz-aware), prices in USDT per ETH, `volume` in ETH traded on
Binance (not the pool's volume). Rows are as published: gaps stay gaps (`gaps(frame, minutes)` lists
them). Each call returns a fresh copy.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import pandas as pd

HISTORY_DIR = Path(__file__).resolve().parents[1] / "data" / "history"
BAR_MINUTES = (1, 5, 60)
POOL_FEE_BPS = (5, 30)
BAR_COLUMNS = ["date", "open", "high", "low", "close", "volume"]


class HistoryError(ValueError):
    """An embedded history file is missing or was asked for at a resolution it does not have."""


def _file(name: str) -> Path:
    path = HISTORY_DIR / name
    if not path.exists():
        raise HistoryError(f"{path}: embedded history missing; rebuild it with python -m hbbatch.worlds.build_history")
    return path


def bars_file(minutes: int) -> Path:
    if minutes not in BAR_MINUTES:
        raise HistoryError(f"bars at {minutes} minutes: the embedded history has {BAR_MINUTES} minutes")
    return _file(f"eth_usdt_{minutes}m.parquet")


def _dates(seconds: pd.Series) -> pd.Series:
    return pd.to_datetime(seconds.to_numpy(), unit="s", utc=True)


@functools.lru_cache(maxsize=None)
def _bars(minutes: int) -> pd.DataFrame:
    raw = pd.read_parquet(bars_file(minutes))
    # one constructor: the float columns are one block, so each caller's copy is a plain copy, not a merge
    return pd.DataFrame({"date": _dates(raw["time_s"]),
                         **{c: raw[f"{c}_cents"].to_numpy("float64") / 100.0 for c in ("open", "high", "low", "close")},
                         "volume": raw["volume_eth"].to_numpy("float64")})


def bars(minutes: int = 60) -> pd.DataFrame:
    """Binance ETH/USDT OHLCV bars at 1, 5 or 60 minutes: date, open, high, low, close, volume."""
    return _bars(int(minutes)).copy()


@functools.lru_cache(maxsize=None)
def _pool_daily(fee_bp: int) -> pd.DataFrame:
    if fee_bp not in POOL_FEE_BPS:
        raise HistoryError(f"pool fee tier {fee_bp} bp: the embedded pools are {POOL_FEE_BPS} bp")
    raw = pd.read_parquet(_file(f"pool_weth_usdt_{fee_bp:02d}bp_daily.parquet"))
    return pd.DataFrame({"date": _dates(raw["time_s"]), "price_usd": raw["price_usd"].to_numpy("float64"),
                         "volume_usd": raw["volume_usd"].to_numpy("float64"),
                         "tvl_usd": raw["tvl_usd"].to_numpy("float64")})


def pool_daily(fee_bp: int = 5) -> pd.DataFrame:
    """Uniswap v3 mainnet WETH/USDT pool per UTC day: date, price_usd, volume_usd, tvl_usd."""
    return _pool_daily(int(fee_bp)).copy()


@functools.lru_cache(maxsize=None)
def _gas_daily() -> pd.DataFrame:
    raw = pd.read_parquet(_file("gas_daily.parquet"))
    return pd.DataFrame({"date": _dates(raw["time_s"]), "gas_price_gwei": raw["gas_price_gwei"].to_numpy("float64"),
                         "eth_price_usd": raw["eth_price_usd"].to_numpy("float64")})


def gas_daily() -> pd.DataFrame:
    """Etherscan daily average gas price and ETH price: date, gas_price_gwei, eth_price_usd."""
    return _gas_daily().copy()


def gaps(frame: pd.DataFrame, minutes: int) -> pd.DataFrame:
    """Where consecutive bars are more than one bar apart: start (last bar before), end, missing bars."""
    step = pd.Timedelta(minutes=minutes)
    delta = frame["date"].diff()
    where = delta > step
    return pd.DataFrame({"after": frame["date"].shift()[where].to_numpy(), "before": frame["date"][where].to_numpy(),
                         "missing_bars": (delta[where] / step - 1).astype(int).to_numpy()})


def index() -> dict:
    """Rows, content hash and source of every embedded file (`index.json`, written by the build)."""
    return json.loads(_file("index.json").read_text())


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
