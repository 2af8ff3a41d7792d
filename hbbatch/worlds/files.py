"""A user's own history file (`world.history=PATH`), read and gated before anything is simulated.

Accepted layouts:
  - parquet, feather or CSV with `date, open, high, low, close[, volume]` (freqtrade / Binance: `date`
    an ISO time or Unix milliseconds, UTC; volume in the base asset, ETH);
  - demeter minute bars (`timestamp, openTick, closeTick, lowestTick, highestTick, inAmount0, inAmount1, ...`,
    USDC token0 / WETH token1): prices from ticks, volume from the amounts swapped in.

The gate stops a file with missing columns, NaN or non-positive values, unsorted or duplicated
timestamps, gaps (bars further apart than the file's own bar interval), highs below or lows above
the bar's open/close, or ETH prices outside [MIN_PRICE_USD, MAX_PRICE_USD]; the one-line message
names the file, the first rows (1-based data rows) and the fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OHLC = ("open", "high", "low", "close")
DEMETER = ("timestamp", "openTick", "closeTick", "lowestTick", "highestTick", "inAmount0", "inAmount1")
MIN_PRICE_USD, MAX_PRICE_USD = 1.0, 1.0e6
SHOWN_ROWS = 5


class HistoryFileError(ValueError):
    """A user's history file cannot be read or fails the gate; the message names the file, rows and fix."""


def _rows(mask: np.ndarray) -> str:
    where = np.flatnonzero(mask) + 1
    shown = ", ".join(str(r) for r in where[:SHOWN_ROWS])
    return f"{len(where)} row(s): {shown}{' ...' if len(where) > SHOWN_ROWS else ''}"


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".feather":
        return pd.read_feather(path)
    if suffix == ".csv":
        return pd.read_csv(path, dtype={c: str for c in ("inAmount0", "inAmount1", "currentLiquidity")})
    raise HistoryFileError(f"{path}: unsupported file type {suffix!r}; use .parquet, .feather or .csv")


def _dates(values: pd.Series, path: Path) -> pd.Series:
    try:
        if pd.api.types.is_numeric_dtype(values):
            return pd.to_datetime(values, unit="ms", utc=True)   # freqtrade json / Binance klines
        return pd.to_datetime(values, utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise HistoryFileError(f"{path}: date column unreadable ({exc}); use ISO times or Unix milliseconds") from exc


def _from_demeter(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    price = lambda column: 1e12 / np.power(1.0001, raw[column].astype(float).to_numpy())  # noqa: E731
    close = price("closeTick")
    in_usdc = np.array([int(v) / 1e6 for v in raw["inAmount0"]])
    in_weth = np.array([int(v) / 1e18 for v in raw["inAmount1"]])
    # the price falls as the tick rises: the lowest tick is the highest price
    return pd.DataFrame({"date": _dates(raw["timestamp"], path), "open": price("openTick"), "high": price("lowestTick"),
                         "low": price("highestTick"), "close": close, "volume": in_usdc / close + in_weth})


def read_history(path: Path | str) -> pd.DataFrame:
    """The file's bars as `date, open, high, low, close, volume` (volume NaN when the file has none), gated."""
    path = Path(path)
    if not path.is_file():
        raise HistoryFileError(f"{path}: history file not found; set world.history to a bars file")
    try:
        raw = _read_table(path)
    except HistoryFileError:
        raise
    except Exception as exc:  # the reader's own error, on one line
        raise HistoryFileError(f"{path}: unreadable ({' '.join(str(exc).split())})") from exc
    if all(column in raw.columns for column in DEMETER):
        frame = _from_demeter(raw, path)
    else:
        lower = {str(c).lower(): c for c in raw.columns}
        missing = [c for c in ("date",) + OHLC if c not in lower]
        if missing:
            raise HistoryFileError(f"{path}: column(s) {missing} missing; expected date, open, high, low, close"
                                   "[, volume] (freqtrade/Binance) or demeter minute bars")
        frame = pd.DataFrame({c: raw[lower[c]] for c in ("date",) + OHLC})
        frame["date"] = _dates(frame["date"], path)
        frame["volume"] = raw[lower["volume"]] if "volume" in lower else np.nan
        for column in OHLC + ("volume",):
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    gate(frame, path)
    return frame.reset_index(drop=True)


def bar_interval_minutes(frame: pd.DataFrame) -> float:
    """The file's bar interval: the most common spacing of its timestamps."""
    spacing = frame["date"].diff().dropna()
    return float(spacing.mode().iloc[0] / pd.Timedelta(minutes=1))


def gate(frame: pd.DataFrame, path: Path) -> None:
    """Stop a history that would simulate nonsense: the first failing check, as one line."""
    if len(frame) < 3:
        raise HistoryFileError(f"{path}: {len(frame)} bar(s); a history needs at least 3")
    prices = frame[list(OHLC)].to_numpy(float)
    volume = frame["volume"].to_numpy(float)
    has_volume = not np.isnan(volume).all()
    bad = frame["date"].isna().to_numpy() | np.isnan(prices).any(axis=1)
    if has_volume:
        bad |= np.isnan(volume)
    if bad.any():
        raise HistoryFileError(f"{path}: NaN or unreadable values in {_rows(bad)}; fill or drop those bars")
    if has_volume and (volume < 0).any():
        raise HistoryFileError(f"{path}: negative volume in {_rows(volume < 0)}; volumes must be >= 0")
    insane = ((prices < MIN_PRICE_USD) | (prices > MAX_PRICE_USD)).any(axis=1)
    if insane.any():
        raise HistoryFileError(f"{path}: prices outside [{MIN_PRICE_USD:g}, {MAX_PRICE_USD:g}] USD/ETH in "
                               f"{_rows(insane)}; check the units (USD per ETH) and the token order")
    o, h, lo, c = prices.T
    inconsistent = (h < np.maximum(o, c)) | (lo > np.minimum(o, c))
    if inconsistent.any():
        raise HistoryFileError(f"{path}: high below open/close or low above them in {_rows(inconsistent)}; "
                               "check the column order (date, open, high, low, close)")
    delta = frame["date"].diff().to_numpy()[1:]
    backwards = np.concatenate([[False], delta < np.timedelta64(0)])
    if backwards.any():
        raise HistoryFileError(f"{path}: timestamps go backwards at {_rows(backwards)}; sort the file by date")
    duplicated = frame["date"].duplicated().to_numpy()
    if duplicated.any():
        raise HistoryFileError(f"{path}: duplicated timestamps at {_rows(duplicated)}; keep one bar per time")
    minutes = bar_interval_minutes(frame)
    interval = pd.Timedelta(minutes=minutes)
    gaps = np.concatenate([[False], delta > interval.to_timedelta64()])
    if gaps.any():
        raise HistoryFileError(f"{path}: gaps (more than the file's {minutes:g}-minute interval between bars) before {_rows(gaps)}; "
                               "fill the missing bars or split the file at the gaps")
    irregular = np.concatenate([[False], (delta > np.timedelta64(0)) & (delta < interval.to_timedelta64())])
    if irregular.any():
        raise HistoryFileError(f"{path}: bars closer than the file's {minutes:g}-minute interval at {_rows(irregular)}; "
                               "resample the file to one bar interval")
