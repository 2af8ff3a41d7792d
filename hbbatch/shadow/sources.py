"""The bars source: demeter minute bars, one observation per bar, optionally paced in wall-clock time.

The embedded default is the 2024-01-05 day of the mainnet USDC/WETH 0.05 % pool (hbbatch/data/shadow/).
Every bar is checked before the first step: a malformed file is one error naming the row and column.
Minutes missing from a file are reported on the next bar (`gap_steps`) and never filled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path

import numpy as np
import pandas as pd

from hbbatch import uniswap
from hbbatch.shadow.bars import BAR_COLUMNS, BarsError, read_minute_bars, to_bars
from hbbatch.shadow.observation import Observation

EMBEDDED_BARS = Path(__file__).resolve().parents[1] / "data" / "shadow" / "ethereum-0x88e6-2024-01-05.minute.csv.gz"


def bars_path(configured: str | None) -> Path:
    return EMBEDDED_BARS if configured in (None, "") else Path(str(configured)).expanduser()


def _int_column(raw: pd.DataFrame, column: str, path: Path, low: int | None = None, high: int | None = None) -> list[int]:
    values = []
    for row, text in enumerate(raw[column], start=2):     # row 1 is the header
        try:
            value = int(float(text)) if column.endswith("Tick") else int(text)
            if column.endswith("Tick") and float(text) != value:
                raise ValueError
        except (TypeError, ValueError):
            raise BarsError(f"{path}: row {row}, column {column}: {text!r} is not an integer; "
                            "fix the file (demeter minute bars)") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise BarsError(f"{path}: row {row}, column {column}: {value} outside [{low}, {high}]")
        values.append(value)
    return values


class BarsSource:
    """Minute bars as observations; `pace_s` wall seconds per bar (0: as fast as possible)."""

    kind = "bars"

    def __init__(self, path: Path, pace_s: float = 0.0, step_minutes: float = 1.0):
        self.path, self.pace_s = Path(path), float(pace_s)
        if not self.path.is_file():
            raise BarsError(f"shadow.bars={self.path}: no such file; give a demeter *.minute.csv "
                            "(or leave shadow.bars unset for the embedded 2024-01-05 day)")
        try:
            raw = pd.read_csv(self.path, dtype=str, keep_default_na=False)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise BarsError(f"{self.path}: unreadable as CSV ({' '.join(str(exc).split())})") from None
        missing = [c for c in BAR_COLUMNS if c not in raw.columns]
        if missing:
            raise BarsError(f"{self.path}: column(s) {missing} missing; expected demeter minute bars with {BAR_COLUMNS}")
        if len(raw) < 2:
            raise BarsError(f"{self.path}: {len(raw)} bar(s); need at least 2")
        ticks = _int_column(raw, "closeTick", self.path, uniswap.MIN_TICK, uniswap.MAX_TICK)
        _int_column(raw, "openTick", self.path, uniswap.MIN_TICK, uniswap.MAX_TICK)
        amount0 = _int_column(raw, "inAmount0", self.path, 0)
        amount1 = _int_column(raw, "inAmount1", self.path, 0)
        liquidity = _int_column(raw, "currentLiquidity", self.path, 1, uniswap.MAX_UINT128)
        times = pd.to_datetime(raw["timestamp"], errors="coerce", utc=True)
        if times.isna().any():
            row = int(np.flatnonzero(times.isna().to_numpy())[0]) + 2
            raise BarsError(f"{self.path}: row {row}, column timestamp: {raw['timestamp'].iloc[row - 2]!r} is not a time")
        step = pd.Timedelta(minutes=step_minutes)
        deltas = times.diff().iloc[1:]
        if (deltas <= pd.Timedelta(0)).any():
            row = int(np.flatnonzero((deltas <= pd.Timedelta(0)).to_numpy())[0]) + 3
            raise BarsError(f"{self.path}: row {row}: timestamps must increase")
        # the policy's moves come from the same arrays hbbatch.sim.replay scans (bit-identical inputs)
        frame = read_minute_bars(self.path)
        bars, self.price_start_usd = to_bars(frame, "float64")
        self._log_return = np.asarray(bars.log_return)
        self._volume_usd = np.asarray(bars.volume_usd)
        self._price = frame["price_close_usd"].to_numpy()
        self._gap = np.concatenate([[0], np.round(deltas / step).astype(int).to_numpy() - 1])
        self._times, self._ticks, self._amounts = times, ticks, (amount0, amount1)
        self._liquidity = liquidity
        self.open_tick = _int_column(raw.iloc[:1], "openTick", self.path)[0]
        if not math.isfinite(self.price_start_usd):
            raise BarsError(f"{self.path}: the first bar's openTick gives no finite price")

    def __len__(self) -> int:
        return len(self._ticks)

    def describe(self) -> dict:
        return {"kind": self.kind, "path": str(self.path), "bars": len(self)}

    def open_observation(self) -> Observation:
        """The pool at the first bar's open: where the paper position is opened."""
        sqrt_price = uniswap.get_sqrt_ratio_at_tick(self.open_tick)
        return Observation(time=self._times.iloc[0].to_pydatetime().astimezone(timezone.utc), sqrt_price_x96=sqrt_price,
                           tick=self.open_tick, price_usd=self.price_start_usd, log_return=0.0, amount0_in=0,
                           amount1_in=0, volume_usd=0.0, pool_liquidity_raw=self._liquidity[0])

    def start_cursor(self) -> int:
        return 0

    def state(self) -> None:
        return None

    def resume(self, state: None) -> None:
        pass

    def close(self) -> None:
        pass

    def observations(self, cursor: int, idle=None) -> Iterator[tuple[Observation, int]]:
        """(observation, cursor after it) from bar `cursor` on; sleeps `pace_s` before each bar."""
        for i in range(int(cursor), len(self)):
            if self.pace_s > 0:
                time.sleep(self.pace_s)
            yield Observation(
                time=self._times.iloc[i].to_pydatetime(), sqrt_price_x96=uniswap.get_sqrt_ratio_at_tick(self._ticks[i]),
                tick=self._ticks[i], price_usd=float(self._price[i]), log_return=float(self._log_return[i]),
                amount0_in=self._amounts[0][i], amount1_in=self._amounts[1][i], volume_usd=float(self._volume_usd[i]),
                pool_liquidity_raw=self._liquidity[i], gap_steps=int(self._gap[i])), i + 1
