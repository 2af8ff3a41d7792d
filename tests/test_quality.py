"""The suite result cache: GX's result reused for exactly the input it validated, and only for that."""

import json

import numpy as np
import pandas as pd
import pytest

from hbbatch import quality

SUITE = {"name": "cache_probe", "expectations": [
    {"type": "expect_column_min_to_be_between", "kwargs": {"column": "x", "min_value": 0.0}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "kind", "value_set": ["a", "b"]}}]}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "suite_results"
    monkeypatch.setenv(quality.CACHE_VAR, str(folder))
    return folder


@pytest.fixture
def gx_runs(monkeypatch):
    """How many times GX itself ran a suite."""
    calls = []
    original = quality._run_suite

    def counted(*args, **kwargs):
        calls.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(quality, "_run_suite", counted)
    return calls


def _frame(x=(1.5, 0.25, 3.0), kind=("a", "b", "a")):
    return pd.DataFrame({"x": list(x), "kind": list(kind)})


def test_validate__the_same_input_reuses_gxs_result_and_says_so(cache, gx_runs, tmp_path):
    first = quality.validate(_frame(), tmp_path / "probe.json", suite_json=SUITE)
    again = quality.validate(_frame(), tmp_path / "probe.json", suite_json=SUITE)
    assert len(gx_runs) == 1
    assert first.reused is None and again.reused["entry"].startswith(str(cache))
    assert again.to_dict()["reused"] == again.reused
    first_dict, again_dict = first.to_dict(), again.to_dict()
    again_dict.pop("reused")
    assert again_dict == first_dict and first.success and first.outcomes == again.outcomes


def test_validate__any_change_to_the_input_or_the_suite_runs_gx_again(cache, gx_runs, tmp_path):
    path = tmp_path / "probe.json"
    base = quality.validate(_frame(), path, suite_json=SUITE)
    one_ulp = np.nextafter(0.25, 1.0)
    changed = [
        (_frame(x=(1.5, one_ulp, 3.0)), SUITE),                                   # a value's last bit
        (_frame().astype({"x": "float32"}), SUITE),                              # a dtype
        (_frame().rename(columns={"kind": "kind2"}).assign(kind=["a", "b", "a"]), SUITE),   # a column
        (_frame(kind=("a", "c", "a")), SUITE),                                   # a string
        (_frame().set_axis([5, 6, 7]), SUITE),                                   # the index
        (_frame(), {**SUITE, "expectations": [{**SUITE["expectations"][0],
                                               "kwargs": {"column": "x", "min_value": 0.5}}]}),  # a bound
    ]
    for frame, suite in changed:
        outcome = quality.validate(frame, path, suite_json=suite)
        assert outcome.reused is None
    assert len(gx_runs) == 1 + len(changed)
    failed = quality.validate(_frame(kind=("a", "c", "a")), path, suite_json=SUITE)   # stored now: reused
    assert failed.reused is not None and not failed.success and base.success
    assert failed.failures[0].unexpected_sample == ("c",)


def test_validate__another_engine_version_is_another_key(cache, gx_runs, tmp_path, monkeypatch):
    quality.validate(_frame(), tmp_path / "probe.json", suite_json=SUITE)
    monkeypatch.setattr(quality, "engine_fingerprint", lambda: "gx=0.0.0;pandas=x;numpy=y;quality=z")
    assert quality.validate(_frame(), tmp_path / "probe.json", suite_json=SUITE).reused is None
    assert len(gx_runs) == 2


def test_validate__an_empty_cache_variable_turns_the_cache_off(tmp_path, monkeypatch, gx_runs):
    monkeypatch.setenv(quality.CACHE_VAR, "")
    for _ in range(2):
        assert quality.validate(_frame(), tmp_path / "probe.json", suite_json=SUITE).reused is None
    assert len(gx_runs) == 2 and not quality.is_stored(_frame(), SUITE)


def test_validate__an_unreadable_or_foreign_entry_is_validated_again(cache, gx_runs, tmp_path):
    quality.validate(_frame(), tmp_path / "probe.json", suite_json=SUITE)
    (entry,) = cache.glob("*.json")
    entry.write_text("{not json")
    assert quality.validate(_frame(), tmp_path / "probe.json", suite_json=SUITE).reused is None
    data = json.loads(entry.read_text())
    data["key"] = "0" * 64                      # an entry copied under another input's name
    entry.write_text(json.dumps(data))
    assert quality.validate(_frame(), tmp_path / "probe.json", suite_json=SUITE).reused is None
    assert len(gx_runs) == 3


def test_validate__a_suite_gx_cannot_build_is_an_error_every_time(cache, tmp_path):
    broken = {"name": "broken", "expectations": [{"type": "expect_no_such_thing", "kwargs": {"column": "x"}}]}
    for _ in range(2):
        with pytest.raises(quality.SuiteError):
            quality.validate(_frame(), tmp_path / "broken.json", suite_json=broken)
    assert not list(cache.glob("*.json"))


def test_frame_digest__equal_tables_hash_equal_and_nan_none_differ():
    assert quality.frame_digest(_frame()) == quality.frame_digest(_frame().copy())
    with_nan = pd.DataFrame({"v": pd.Series([1.0, np.nan], dtype=object)})
    with_none = pd.DataFrame({"v": pd.Series([1.0, None], dtype=object)})
    assert quality.frame_digest(with_nan) != quality.frame_digest(with_none)
    assert quality.frame_digest(pd.DataFrame({"v": [0.0]})) != quality.frame_digest(pd.DataFrame({"v": [-0.0]}))
