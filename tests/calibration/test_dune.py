"""The Dune source against a local stand-in of the API v1: execute, status, paged results, latest
results, a 429 then success, a failed execution, a timeout, a missing key, key secrecy. How it executes
the query plan over the result cache: test_dune_plan.py."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from hbbatch.calibration.errors import SourceError
from hbbatch.calibration.sources.dune import DuneSource
from hbbatch.calibration.task import run
from hbbatch.planner.catalog import QUERIES_DIR, load_catalog
from tests.calibration.dune_server import KEY, snapshot_scenario

# A risk signal and room for both expensive queries: the plan runs all seven.
EVERYTHING = {"mode": "normal", "normal": {"max_expensive": 2}, "signals": {"drawdown": 0.3}}


def _all_text(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_dune__calibrates_like_the_snapshot_and_records_executions(stand_in, dune_config, tmp_path, with_key,
                                                                  snapshot_report, caplog, capsys, catalog):
    caplog.set_level(logging.DEBUG)
    code = run(dune_config(EVERYTHING), tmp_path / "out")
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "calibration_report.json").read_text())
    # the stand-in serves the snapshot's rows dated up to now: past the embedded history, so the regimes
    # world's gas level comes from gas_regime's (the same live) window instead of the history's
    live_gas = ("gas_usd_median", "gas_dispersion", "gas_ref_vol_annual")
    market, snapshot_market = report["constants"]["market"], snapshot_report["constants"]["market"]
    assert {k: v for k, v in report["constants"].items() if k != "market"} == \
        {k: v for k, v in snapshot_report["constants"].items() if k != "market"}
    assert {k: v for k, v in market.items() if k not in live_gas} == \
        {k: v for k, v in snapshot_market.items() if k not in live_gas}
    assert market["gas_usd_median"] == report["fits"]["gas"]["gas_usd_median"]
    assert report["fits"]["world"]["gas"]["level"] is None
    executions = report["provenance"]["executions"]
    assert all(e["execution_id"].startswith("01HSTANDIN") and e["credits"] == 7.5 and e["served"] == "dune"
               and e["age_s"] == 0 for e in executions.values())
    assert {e["plan_reason"] for e in executions.values()} == {"P0 always", "P1 daily", "risk signal: drawdown"}
    assert report["provenance"]["credits_total"] == 7.5 * 7
    assert stand_in.execute_calls() == 7 and set(stand_in.executed.values()) == {1}
    # parameters went as typed query parameters of private queries, each archived after; no SQL sent has a value
    assert len(stand_in.created) == 7 and all(q["is_private"] and q["archived"] for q in stand_in.created.values())
    assert stand_in.calls("POST", "/api/v1/sql/execute") == 0
    assert all("{{" in q["query_sql"] for q in stand_in.created.values())   # the templates, as written
    pool = catalog["pool_hourly_fees"].parameters["pool"]
    assert not any(pool in q["query_sql"] for q in stand_in.created.values())
    given = [p for p in stand_in.execution_parameters.values() if p and "pool" in p]
    assert given and all(p["pool"] == pool for p in given)
    # pages of 500 rows: 1,439 minute rows (two queries) and 1,092 daily rows take 3 pages, the others 1
    pages = sum(1 for method, path, _ in stand_in.requests if method == "GET" and path.endswith("/results"))
    assert pages == 3 * 3 + 4
    assert all(key == KEY for _, _, key in stand_in.requests)
    out = capsys.readouterr()
    assert KEY not in caplog.text + out.out + out.err + _all_text(tmp_path)


def test_dune__retries_a_429_then_succeeds(stand_in, dune_config, with_key, catalog):
    stand_in.throttle["/execute"] = 1
    stand_in.throttle["/api/v1/execution/"] = 1
    source = DuneSource(dune_config()["calibration"]["dune"])
    result = source.fetch(catalog["gas_regime"], {})
    assert len(result.rows) == 30 and result.credits == 7.5
    assert stand_in.execute_calls() == 2        # the 429, then the retry


def test_dune__too_many_429s_is_a_clear_error(stand_in, dune_config, with_key, catalog):
    stand_in.throttle["/execute"] = 10
    source = DuneSource(dune_config()["calibration"]["dune"])
    with pytest.raises(SourceError, match=r"dune: query gas_regime: .*429") as info:
        source.fetch(catalog["gas_regime"], {})
    assert KEY not in str(info.value)


def test_dune__failed_execution_names_the_query_and_error(stand_in, dune_config, tmp_path, with_key, capsys):
    stand_in.special["regime_frequencies"] = {"error": "line 3:5: Column 'prise' cannot be resolved", "credits": 2.0}
    code = run(dune_config(), tmp_path / "out")
    err = capsys.readouterr().err
    assert code == 2
    assert "query regime_frequencies: execution 01HSTANDIN" in err and "QUERY_STATE_FAILED" in err
    assert "Column 'prise' cannot be resolved; 2 credits charged" in err
    assert not (tmp_path / "out").exists()
    # the charge still reaches the planner's ledger; no result of the failed query is stored
    ledger = json.loads((tmp_path / "cache" / "ledger.json").read_text())
    assert [(r["query"], r["credits"]) for r in ledger][-1] == ("regime_frequencies", 2.0)
    assert not (tmp_path / "cache" / "regime_frequencies.result.json").exists()


def test_dune__timeout_cancels_the_execution(stand_in, dune_config, with_key, catalog):
    stand_in.special["gas_regime"] = {"never_finish": True}
    source = DuneSource(dune_config(timeout_s=0.2)["calibration"]["dune"])
    with pytest.raises(SourceError, match=r"still QUERY_STATE_EXECUTING after 0.2 s; cancelled"):
        source.fetch(catalog["gas_regime"], {})
    assert stand_in.calls("POST", "/api/v1/execution/") == 1
    assert all(e.cancelled for e in stand_in.executions.values())


def test_dune__a_timed_out_execution_is_charged_to_the_ledger(stand_in, dune_config, tmp_path, with_key, catalog):
    # a cancelled execution is billed; the stand-in reports no cost before it ends: the declared cost counts
    stand_in.special["gas_regime"] = {"never_finish": True}
    assert run(dune_config(timeout_s=0.2), tmp_path / "out") == 2
    ledger = json.loads((tmp_path / "cache" / "ledger.json").read_text())
    assert ("gas_regime", float(catalog["gas_regime"].cost_credits)) in [(r["query"], r["credits"]) for r in ledger]
    assert not (tmp_path / "cache" / "gas_regime.result.json").exists()


def test_dune__a_failure_reading_the_pages_keeps_the_charge(stand_in, dune_config, with_key, catalog):
    stand_in.unavailable["/results"] = 10       # the execution completed; every results page answers 503
    source = DuneSource(dune_config()["calibration"]["dune"])
    with pytest.raises(SourceError, match=r"dune: query gas_regime: .*503") as info:
        source.fetch(catalog["gas_regime"], {})
    assert info.value.credits == 7.5


def test_dune__an_execute_answered_5xx_is_not_retried(stand_in, dune_config, with_key, catalog):
    # the execution may have started (and be billed): a second POST would start another
    stand_in.unavailable["/execute"] = 1
    source = DuneSource(dune_config()["calibration"]["dune"])
    with pytest.raises(SourceError, match=r"dune: query gas_regime: .*503"):
        source.fetch(catalog["gas_regime"], {})
    assert stand_in.execute_calls() == 1


def test_dune__missing_key_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("DUNE_API_KEY", raising=False)
    code = run({"calibration": {"source": "dune", "dune": {"cache_dir": str(tmp_path)}}}, tmp_path / "out")
    assert code == 2
    assert "the environment variable DUNE_API_KEY is not set" in capsys.readouterr().err


def test_dune__wrong_key_error_does_not_echo_it(stand_in, dune_config, monkeypatch, catalog):
    monkeypatch.setenv("DUNE_API_KEY", "wrong-key-9d8c7b")
    source = DuneSource(dune_config()["calibration"]["dune"])
    with pytest.raises(SourceError, match="401") as info:
        source.fetch(catalog["gas_regime"], {})
    assert "wrong-key-9d8c7b" not in str(info.value)


@pytest.fixture
def saved_queries(tmp_path):
    """The catalog with gas_regime saved on Dune as query 4242."""
    folder = tmp_path / "queries"
    shutil.copytree(QUERIES_DIR, folder)
    meta = folder / "gas_regime.yaml"
    meta.write_text(meta.read_text().replace("dune_query_id: null", "dune_query_id: 4242"))
    return load_catalog(folder)


def test_dune__saved_query_reads_its_latest_result_when_fresh(stand_in, dune_config, with_key, saved_queries,
                                                              snapshot_payloads):
    now = pd.Timestamp.now(tz="UTC")
    stored = stand_in.add_latest(4242, snapshot_scenario(snapshot_payloads["gas_regime"], now,
                                                 ended_at=now - pd.Timedelta(minutes=10)))
    source = DuneSource(dune_config()["calibration"]["dune"])
    result = source.fetch(saved_queries["gas_regime"], {})
    assert result.execution_id == stored and result.reused and result.credits == 0
    assert stand_in.calls("GET", "/api/v1/query/4242/results") == 1
    assert stand_in.calls("POST", "/api/v1/query/4242/execute") == 0


def test_dune__saved_query_re_executes_when_its_latest_result_is_older_than_the_ttl(
        stand_in, dune_config, with_key, saved_queries, snapshot_payloads):
    now = pd.Timestamp.now(tz="UTC")
    stand_in.add_latest(4242, snapshot_scenario(snapshot_payloads["gas_regime"], now,
                                                ended_at=now - pd.Timedelta(days=2)))
    source = DuneSource(dune_config()["calibration"]["dune"])
    result = source.fetch(saved_queries["gas_regime"], {"lookback_days": 30})
    assert not result.reused and result.credits == 7.5
    assert stand_in.calls("POST", "/api/v1/query/4242/execute") == 1
