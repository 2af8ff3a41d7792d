"""The bottom layer: atomic writes (the file appears whole or not at all), content hashes, cache folders."""

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from hbbatch import io as hbio


def test_write_json__strict_json_with_nan_as_null(tmp_path):
    path = hbio.write_json(tmp_path / "a" / "x.json", {"v": np.float32(1.5), "n": math.nan, "k": np.int64(3),
                                                           "arr": np.array([1, 2])})
    assert json.loads(path.read_text()) == {"v": 1.5, "n": None, "k": 3, "arr": [1, 2]}


def test_atomic_write__a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "summary.json"
    hbio.write_text(path, "old")

    def broken(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt   # as if the run were killed mid-write

    with pytest.raises(KeyboardInterrupt):
        hbio.atomic_write(path, broken)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_write_parquet__round_trips(tmp_path):
    frame = pd.DataFrame({"episode": [0, 1], "regime": ["jumpy", "trend_up"], "net_pnl_usd": [1.0, -2.5]})
    path = hbio.write_parquet(tmp_path / "episodes.parquet", frame)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episodes.parquet"]


def test_sha256_of__rounds_floats_to_significant_digits_and_keeps_ints_and_strings_exact():
    a = {"x": 0.4357566929528325, "n": 12345678901234567, "s": "0.4357566929528325", "l": [1e-300, True]}
    b = {"x": 0.4357566929528324, "n": 12345678901234567, "s": "0.4357566929528325", "l": [1.0000000000001e-300, True]}
    assert hbio.sha256_of(a, 10) == hbio.sha256_of(b, 10) and hbio.sha256_of(a) != hbio.sha256_of(b)
    assert hbio.sha256_of({**a, "n": 12345678901234568}, 10) != hbio.sha256_of(a, 10)
    assert hbio.sha256_of({**a, "x": 0.43575670}, 10) != hbio.sha256_of(a, 10)
    assert hbio.round_floats({"v": [2.0 / 3.0]}, 3) == {"v": [0.667]}


def test_evict__keeps_the_most_recently_used_entries_and_nothing_else_is_touched(tmp_path):
    for age, name in enumerate(["old", "used", "new"]):
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(b"x")
        os.utime(path, ns=(age * 10**9, age * 10**9))
    os.utime(tmp_path / "used.pkl")   # a hit refreshes its time (program_cache, compose, figures)
    (tmp_path / "other.txt").write_bytes(b"y")   # not an entry: never removed
    hbio.evict(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.pkl", "other.txt", "used.pkl"]


def test_user_cache_dir__the_variable_wins_empty_is_off_else_under_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("HBBATCH_X_CACHE_DIR", raising=False)
    assert hbio.user_cache_dir("x", "HBBATCH_X_CACHE_DIR") == tmp_path / "xdg" / "hbbatch" / "x"
    monkeypatch.setenv("HBBATCH_X_CACHE_DIR", str(tmp_path / "mine"))
    assert hbio.user_cache_dir("x", "HBBATCH_X_CACHE_DIR") == tmp_path / "mine"
    monkeypatch.setenv("HBBATCH_X_CACHE_DIR", "")
    assert hbio.user_cache_dir("x", "HBBATCH_X_CACHE_DIR") is None

