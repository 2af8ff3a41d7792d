"""The embedded history against facts measured independently on the shared data (its README)."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from hbbatch.worlds import build_history, history


def _log_returns(frame: pd.DataFrame) -> np.ndarray:
    return np.diff(np.log(frame["close"].to_numpy()))


def test_history__bar_counts_and_spans_match_the_shared_data():
    hourly, five, minute = history.bars(60), history.bars(5), history.bars(1)
    assert len(hourly) == 67_509 and len(five) == 288_848 and len(minute) == 43_208
    assert str(hourly["date"].iloc[0]) == "2017-08-17 04:00:00+00:00"
    assert str(five["date"].iloc[-1]) == "2025-04-30 23:55:00+00:00"
    assert list(hourly.columns) == history.BAR_COLUMNS
    assert len(history.gaps(minute, 1)) == 0                       # "no gaps"
    assert len(history.gaps(hourly, 60)) == 11                     # "11 gaps, none over 5 h"
    assert history.gaps(hourly, 60)["missing_bars"].max() <= 4
    missing_day = history.gaps(five, 5)
    assert (missing_day["missing_bars"] == 288).any()              # 2023-12-31


def test_history__minute_bars_resampled_to_five_minutes_equal_the_five_minute_file():
    minute = history.bars(1).set_index("date")
    five = history.bars(5).set_index("date")
    resampled = minute.resample("5min").agg({"open": "first", "high": "max", "low": "min", "close": "last"}).dropna()
    inner = resampled.iloc[1:-1]                                   # the edges are partial buckets
    np.testing.assert_array_equal(inner.to_numpy(), five.loc[inner.index, ["open", "high", "low", "close"]].to_numpy())


def test_history__hourly_stylised_facts_match_the_shared_readme():
    r = _log_returns(history.bars(60))
    annual_vol = r.std() * np.sqrt(24 * 365)
    kurtosis = pd.Series(r).kurt()
    absolute = pd.Series(np.abs(r))
    acf = [absolute.autocorr(lag) for lag in (1, 24, 168)]
    assert annual_vol == pytest.approx(0.9, abs=0.1)
    assert kurtosis == pytest.approx(28, abs=3)
    np.testing.assert_allclose(acf, [0.30, 0.20, 0.13], atol=0.02)


def test_history__bars_are_sane_ohlc():
    for minutes in history.BAR_MINUTES:
        frame = history.bars(minutes)
        assert frame["date"].is_monotonic_increasing and frame["date"].is_unique
        assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
        assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
        assert (frame["volume"] >= 0).all()


def test_history__pool_daily_fees_and_gas_of_a_known_day():
    pool = history.pool_daily(5).set_index("date")
    assert len(pool) == 1457 and pool.index.is_unique
    assert (pool.index.to_series().diff().dropna() == pd.Timedelta(days=1)).all()   # "no missing days"
    hourly = history.bars(60).set_index("date")["close"]
    # the pool's USDT-per-WETH price and Binance's ETH/USDT agree at a day's close within 1 %
    day_close = hourly.resample("1D").last().reindex(pool.index).dropna()
    assert np.median(np.abs(pool.loc[day_close.index, "price_usd"] / day_close - 1)) < 0.01
    gas = history.gas_daily().set_index("date")
    # 2024-01-05: about 22.8 gwei, a recenter about $41 (issue 8)
    day = gas.loc["2024-01-05"]
    assert day["gas_price_gwei"].item() == pytest.approx(22.8, abs=0.5)


def test_history__unknown_resolution_is_a_clear_error():
    with pytest.raises(history.HistoryError, match="15 minutes"):
        history.bars(15)


def test_build_history__prices_round_trip_exactly_and_builds_are_byte_identical(tmp_path):
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC"),
                          "open": [2281.01, 2282.5, 2280.0, 2290.99, 2291.0],
                          "high": [2283.0, 2284.75, 2285.0, 2293.0, 2295.12],
                          "low": [2280.0, 2281.0, 2279.99, 2288.0, 2290.0],
                          "close": [2282.5, 2280.0, 2290.99, 2291.0, 2294.33],
                          "volume": [10.5, 0.0, 3.25, 7.125, 1e4]})
    table = build_history.bars_table(frame, "tiny")
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    build_history._write(table, first)
    build_history._write(table, second)
    assert first.read_bytes() == second.read_bytes()
    back = pq.read_table(first).to_pandas()
    np.testing.assert_array_equal(back["close_cents"].to_numpy() / 100.0, frame["close"].to_numpy())
    with pytest.raises(build_history.HistoryBuildError, match="two decimals"):
        build_history.bars_table(frame.assign(close=frame["close"] + 0.001), "tiny")


def test_history__index_hashes_match_the_committed_files():
    for name, entry in history.index().items():
        assert history.file_sha256(history.HISTORY_DIR / name) == entry["sha256"], name
