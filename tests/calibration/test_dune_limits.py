"""The Dune source is bounded and typed: page, row and time limits end a fetch with a clear error, a
reply that is not JSON says so, and parameters are checked and travel as Dune's typed query parameters
(never in the SQL text), against the local stand-in of the API."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from hbbatch.calibration.errors import CalibrationError, SourceError
from hbbatch.calibration.sources import query_parameters
from hbbatch.calibration.sources.dune import DuneSource
from hbbatch.calibration.sources.dune_parameters import typed_parameters
from hbbatch.calibration.task import run


def test_an_endless_next_uri_stops_at_the_page_limit_with_a_message(stand_in, dune_config, with_key, catalog):
    stand_in.special["gas_regime"] = {"endless_pages": True}
    source = DuneSource(dune_config(page_size=10, max_pages=5)["calibration"]["dune"])
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"gas_regime: .* still has more results after 5 pages "
                                          r"\(calibration.dune.max_pages=5, 30 rows read\)") as info:
        source.fetch(catalog["gas_regime"], {})
    pages = sum(1 for m, p, _ in stand_in.requests if m == "GET" and p.endswith("/results"))
    assert pages == 5 and time.monotonic() - started < 10
    assert info.value.credits == 7.5          # the execution ran and is billed: the ledger counts it


def test_a_result_larger_than_the_row_limit_is_refused_before_its_pages_are_read(stand_in, dune_config, with_key,
                                                                                  catalog):
    source = DuneSource(dune_config(page_size=10, max_rows=20)["calibration"]["dune"])   # gas_regime has 30 rows
    with pytest.raises(SourceError, match=r"gas_regime: execution \S+ has 30 rows, more than "
                                          r"calibration.dune.max_rows=20"):
        source.fetch(catalog["gas_regime"], {})
    assert sum(1 for m, p, _ in stand_in.requests if m == "GET" and p.endswith("/results")) == 1


def test_a_reply_that_is_not_json_is_a_clear_error(stand_in, dune_config, with_key, catalog):
    stand_in.not_json["/status"] = 1
    source = DuneSource(dune_config()["calibration"]["dune"])
    with pytest.raises(SourceError) as info:
        source.fetch(catalog["gas_regime"], {})
    message = str(info.value)
    assert "not JSON" in message and "DUNE_API_BASE_URL" in message and "Unreachable" not in message


def test_a_request_that_hangs_ends_at_the_request_timeout(stand_in, dune_config, with_key, catalog):
    stand_in.slow["/status"] = 3.0
    source = DuneSource(dune_config(request_timeout_s=0.3, retries=0)["calibration"]["dune"])
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"gas_regime: .*[Tt]imeout"):
        source.fetch(catalog["gas_regime"], {})
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("parameters, problem", [
    ({"pool": "0x88e6' OR 1=1; --"}, "not an address; an address is 0x and 40 hex digits"),
    ({"pool": "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f564"}, "not an address"),          # 39 hex digits
    ({"pool": "88e6a0c2ddd26feeb64f039a2c41296fcb3f5640aa"}, "not an address"),
    ({"pool": 12345}, "not an address"),
    ({"lookback_days": "7; DROP TABLE x"}, "not a whole number"),
    ({"lookback_days": float("nan")}, "not a whole number"),
    ({"lookback_days": -1}, "not a whole number in [0, 1000000000000]"),
    ({"lookback_days": 1.5}, "not a whole number"),
    ({"liquidity_depth": {"pool_events": "uniswap_v3_ethereum.Pair; DROP TABLE x --"}}, "not a dotted SQL name"),
])
def test_a_malformed_parameter_is_refused_before_any_request(stand_in, dune_config, with_key, tmp_path, capsys,
                                                             parameters, problem):
    config = dune_config()
    config["calibration"]["parameters"] = parameters
    assert run(config, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert problem in err and "calibration.parameters." in err and err.count("\n") == 1, err
    assert stand_in.execute_calls() == 0 and not (tmp_path / "out").exists()


def test_parameters_are_typed_as_dune_query_parameters(catalog):
    spec = catalog["pool_hourly_fees"]
    typed = {p.key: p for p in typed_parameters(spec, query_parameters(spec, {"lookback_days": 3}))}
    assert typed["pool"].type.value == "text" and typed["lookback_days"].type.value == "number"
    assert typed["lookback_days"].value == 3 and typed["pool"].value == spec.parameters["pool"]


def test_a_query_without_parameters_runs_its_sql_unchanged(stand_in, dune_config, with_key, catalog):
    from dataclasses import replace

    spec = catalog["gas_regime"]
    plain = replace(spec, sql=spec.render_sql(), parameters={})   # the SQL as a user would save it, no {{ }}
    result = DuneSource(dune_config()["calibration"]["dune"]).fetch(plain, {})
    assert len(result.rows) == 30 and stand_in.calls("POST", "/api/v1/sql/execute") == 1 and not stand_in.created
    assert isinstance(result.as_of, pd.Timestamp)
