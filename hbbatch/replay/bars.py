"""Demeter minute bars (`*.minute.csv`) with their exact integers, gated before anything runs.

Columns used: timestamp, openTick, closeTick, lowestTick, highestTick, inAmount0, inAmount1,
currentLiquidity. Amounts and liquidity exceed int64, so they stay Python ints. A file with a missing
column, a blank or non-integer value, a tick outside the pool's range, or timestamps that are not
strictly increasing is refused with a message naming the file, the rows and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hbbatch.uniswap import MAX_TICK, MIN_TICK

COLUMNS = ("timestamp", "openTick", "closeTick", "lowestTick", "highestTick", "inAmount0", "inAmount1",
           "currentLiquidity")
TICK_COLUMNS = ("openTick", "closeTick", "lowestTick", "highestTick")
AMOUNT_COLUMNS = ("inAmount0", "inAmount1", "currentLiquidity")


class ReplayError(ValueError):
    """Replay input that cannot be used: names the file or key and the fix."""


@dataclass(frozen=True)
class MinuteBars:
    path: Path
    timestamp: pd.DatetimeIndex      # bar open time (UTC); a bar covers [timestamp, timestamp + 1 minute)
    open_tick: list[int]
    close_tick: list[int]
    low_tick: list[int]
    high_tick: list[int]
    in_amount0: list[int]            # raw token0 swapped into the pool during the bar
    in_amount1: list[int]
    liquidity: list[int]             # the pool's active liquidity (raw) at the bar

    def __len__(self) -> int:
        return len(self.open_tick)


def _rows(mask: pd.Series) -> str:
    rows = [str(i + 2) for i in mask[mask].index[:5]]    # +2: the header is line 1
    more = f" (and {int(mask.sum()) - 5} more)" if mask.sum() > 5 else ""
    return ", ".join(rows) + more


def _integers(raw: pd.DataFrame, column: str, path: Path) -> list[int]:
    text = raw[column].fillna("").str.strip()
    integral = text.str.fullmatch(r"-?\d+(\.0+)?")
    if not integral.all():
        raise ReplayError(f"{path}: column {column} has a blank or non-integer value at line(s) {_rows(~integral)}; "
                          "fix or drop those rows")
    return [int(v.split(".")[0]) for v in text]


def read_minute_bars(path: Path | str) -> MinuteBars:
    path = Path(path)
    if not path.is_file():
        raise ReplayError(f"replay.bars={path}: no such file; pass a demeter minute-bar CSV (*.minute.csv)")
    try:
        raw = pd.read_csv(path, dtype=str)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ReplayError(f"{path}: not a readable CSV ({exc.__class__.__name__}); pass a demeter minute-bar CSV") from None
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ReplayError(f"{path}: column(s) {', '.join(missing)} missing; demeter minute bars have {', '.join(COLUMNS)}")
    if raw.empty:
        raise ReplayError(f"{path}: no bars; the file has a header only")
    stamps = pd.to_datetime(raw["timestamp"], errors="coerce", utc=True)
    if stamps.isna().any():
        raise ReplayError(f"{path}: unparseable timestamp at line(s) {_rows(stamps.isna())}; use ISO times")
    step = stamps.diff()
    bad = step <= pd.Timedelta(0)
    if bad.any():
        raise ReplayError(f"{path}: timestamps not strictly increasing (duplicated or out of order) at line(s) "
                          f"{_rows(bad)}; sort the file and drop duplicated minutes")
    values = {c: _integers(raw, c, path) for c in TICK_COLUMNS + AMOUNT_COLUMNS}
    for column in TICK_COLUMNS:
        ticks = pd.Series(values[column])
        outside = (ticks < MIN_TICK) | (ticks > MAX_TICK)
        if outside.any():
            raise ReplayError(f"{path}: {column} outside [{MIN_TICK}, {MAX_TICK}] at line(s) {_rows(outside)}; "
                              "not a Uniswap v3 tick")
    for column in AMOUNT_COLUMNS:
        negative = pd.Series([v < 0 for v in values[column]])
        if negative.any():
            raise ReplayError(f"{path}: {column} negative at line(s) {_rows(negative)}; amounts in and liquidity are >= 0")
    low, high = pd.Series(values["lowestTick"]), pd.Series(values["highestTick"])
    inverted = low > high
    if inverted.any():
        raise ReplayError(f"{path}: lowestTick above highestTick at line(s) {_rows(inverted)}; check the export")
    return MinuteBars(path=path, timestamp=pd.DatetimeIndex(stamps), open_tick=values["openTick"],
                      close_tick=values["closeTick"], low_tick=values["lowestTick"], high_tick=values["highestTick"],
                      in_amount0=values["inAmount0"], in_amount1=values["inAmount1"],
                      liquidity=values["currentLiquidity"])
