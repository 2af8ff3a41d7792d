"""The gate on a user's history file: every defect is stopped with the file, the rows and the fix."""

import numpy as np
import pandas as pd
import pytest

from hbbatch.worlds.files import HistoryFileError, bar_interval_minutes, read_history

DEMETER_DAY = "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.minute.csv"


def _frame(n: int = 12) -> pd.DataFrame:
    close = 2000.0 + np.arange(n, dtype=float)
    return pd.DataFrame({"date": pd.date_range("2024-03-01", periods=n, freq="1h", tz="UTC"),
                         "open": close - 0.5, "high": close + 1.0, "low": close - 1.0, "close": close,
                         "volume": np.full(n, 10.0)})


def _write(frame: pd.DataFrame, path, kind: str = "csv"):
    if kind == "csv":
        frame.assign(date=frame["date"].astype(str)).to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_files__a_clean_freqtrade_file_reads_back(tmp_path, kind):
    frame = _frame()
    read = read_history(_write(frame, tmp_path / f"bars.{kind}", kind))
    np.testing.assert_array_equal(read["close"], frame["close"])
    assert bar_interval_minutes(read) == 60.0


def test_files__unix_milliseconds_and_no_volume_are_accepted(tmp_path):
    frame = _frame().drop(columns="volume")
    frame["date"] = frame["date"].dt.as_unit("ms").astype("int64")
    frame.to_csv(tmp_path / "ms.csv", index=False)
    read = read_history(tmp_path / "ms.csv")
    assert str(read["date"].iloc[0]) == "2024-03-01 00:00:00+00:00" and read["volume"].isna().all()


@pytest.mark.parametrize("defect, message", [
    (lambda f: f.assign(close=f["close"].where(f.index != 4)), r"NaN.*1 row\(s\): 5;"),
    (lambda f: f.drop(index=[6, 7]), r"gaps .* before 1 row\(s\): 7;"),
    (lambda f: pd.concat([f.iloc[:5], f.iloc[[4]], f.iloc[5:]]), r"duplicated timestamps at 1 row\(s\): 6;"),
    (lambda f: f.iloc[[0, 1, 3, 2, 4, 5, 6, 7]], r"timestamps go backwards at 1 row\(s\): 4;"),
    (lambda f: f.assign(close=f["close"].where(f.index != 2, 0.0), low=f["low"].where(f.index != 2, 0.0)),
     r"prices outside .* 1 row\(s\): 3;"),
    (lambda f: f.assign(high=f["high"].where(f.index != 1, 1000.0)), r"high below open/close .* 1 row\(s\): 2;"),
    (lambda f: f.drop(columns="low"), r"column\(s\) \['low'\] missing"),
])
def test_files__a_bad_history_is_stopped_naming_file_rows_and_fix(tmp_path, defect, message):
    path = _write(defect(_frame()).reset_index(drop=True), tmp_path / "bad.csv")
    with pytest.raises(HistoryFileError, match=message) as info:
        read_history(path)
    text = str(info.value)
    assert str(path) in text and "\n" not in text
    assert ";" in text   # the fix follows


def test_files__demeter_minute_bars_read_as_usd_bars(tmp_path):
    from tests.worlds.conftest import demeter_sample

    frame = read_history(demeter_sample(tmp_path))
    # 2024-01-05 opened near 2270 USD/ETH (the default price_start_usd)
    assert frame["open"].iloc[0] == pytest.approx(2270, rel=0.01)
    assert (frame["high"] >= frame["low"]).all() and (frame["volume"] >= 0).all()
