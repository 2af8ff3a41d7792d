"""Atomic writes: the file appears whole or not at all."""

import json
import math

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
