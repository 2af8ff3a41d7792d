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


def test_a_page_with_more_rows_than_the_limit_is_refused_whatever_the_row_count_announced(stand_in, dune_config,
                                                                                         with_key, catalog):
    stand_in.special["gas_regime"] = {"metadata": {"total_row_count": 10}}   # 30 rows, in one page of 500
    source = DuneSource(dune_config(max_rows=20)["calibration"]["dune"])
    with pytest.raises(SourceError, match=r"gas_regime: execution \S+ returned more than calibration.dune.max_rows=20"):
        source.fetch(catalog["gas_regime"], {})


def test_a_long_retry_after_is_honoured_only_up_to_its_limit(stand_in, dune_config, with_key, catalog):
    stand_in.throttle["/status"], stand_in.retry_after = 1, "86400"
    source = DuneSource(dune_config(retry_after_max_s=0.2)["calibration"]["dune"])
    started = time.monotonic()
    assert len(source.fetch(catalog["gas_regime"], {}).rows) == 30
    assert time.monotonic() - started < 5 and stand_in.throttle["/status"] == 0


@pytest.mark.parametrize("hostile", ["{base}@127.0.0.1:{other}", "http://127.0.0.1:{other}", "{base}.example.net"])
def test_a_next_uri_off_the_api_is_not_followed_and_the_key_goes_nowhere_else(stand_in, dune_config, with_key,
                                                                              catalog, hostile):
    from tests.calibration.dune_server import DuneStandIn

    with DuneStandIn("another-key", lambda sql, query_id: None) as other:
        base = hostile.format(base=stand_in.base_url, other=other.server.server_address[1])
        stand_in.special["gas_regime"] = {"next_uri_base": base}
        source = DuneSource(dune_config(page_size=10)["calibration"]["dune"])
        with pytest.raises(SourceError, match=r"gas_regime: .*next_uri .* is not on http://127.0.0.1:\d+; not followed"):
            source.fetch(catalog["gas_regime"], {})
        assert other.requests == []    # a prefix test of the URL would have sent the key to the other server


def test_a_reply_the_client_cannot_read_is_one_short_line(stand_in, dune_config, with_key, catalog, caplog):
    stand_in.special["gas_regime"] = {"metadata": {"total_row_count": None}}   # dune-client quotes the whole reply
    source = DuneSource(dune_config()["calibration"]["dune"])
    with pytest.raises(SourceError) as info:
        source.fetch(catalog["gas_regime"], {})
    assert "\n" not in str(info.value) and len(str(info.value)) < 600 and "gas_price_gwei" not in caplog.text


def test_a_reply_that_trickles_ends_at_the_request_timeout(stand_in, dune_config, with_key, catalog):
    stand_in.trickle["/status"] = 0.05   # a byte every 50 ms: no single read waits long, the reply takes ~20 s
    source = DuneSource(dune_config(request_timeout_s=0.5, retries=0)["calibration"]["dune"])
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"gas_regime: ReadTimeout: the reply took longer than "
                                          r"calibration.dune.request_timeout_s=0.5 s"):
        source.fetch(catalog["gas_regime"], {})
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("parameters, problem", [
    ({"pool": "0x88e6' OR 1=1; --"}, "not an address; an address is 0x and 40 hex digits"),
    ({"pool": "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640\n"}, "not an address"),       # a trailing newline
    ({"pool": "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640 --"}, "not an address"),
    ({"pool": "0x" + "\u0661" * 40}, "not an address"),                               # digits, but not ASCII ones
    ({"pool": ["0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640"]}, "not an address"),
    ({"lookback_days": True}, "not a whole number"),
    ({"lookback_days": 10**13}, "not a whole number in [0, 1000000000000]"),
    ({"lookback_days": "7"}, "not a whole number"),
    ({"liquidity_depth": {"pool_events": "uniswap_v3_ethereum.P\u0430ir"}}, "not a dotted SQL name"),  # Cyrillic a
    ({"liquidity_depth": {"pool_events": "x}}' OR '1'='1"}}, "not a dotted SQL name"),
    ({"liquidity_depth": {"pool_events": ""}}, "not a dotted SQL name"),
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
