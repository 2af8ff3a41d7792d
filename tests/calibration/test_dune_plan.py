"""The Dune source executes the query plan over the planner's result cache, against the local stand-in:
only planned queries reach the server, skipped ones are served from the cache with their age, the
report and plan.json say which and why, and the key is written nowhere."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from hbbatch.calibration.task import calibrate, run
from hbbatch.planner.cache import ResultCache
from hbbatch.planner.catalog import QUERIES_DIR
from tests.calibration.dune_server import KEY, snapshot_scenario

P0 = ("gas_regime", "pool_hourly_fees", "realized_vol_jumps")
P1 = ("dynamic_fee_analysis", "regime_frequencies")
DAY_S = 86400


def _all_text(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def _choices(folder: Path) -> dict[str, tuple[str, str]]:
    plan = json.loads((folder / "plan.json").read_text())
    return {c["query"]: (c["action"], c["reason"]) for c in plan["choices"]}


def _served(report: dict) -> dict[str, tuple]:
    return {name: (e["served"], e["age_s"], e["plan_reason"], e["credits"])
            for name, e in report["provenance"]["executions"].items()}


def test_only_planned_queries_reach_the_server(stand_in, dune_config, tmp_path, with_key):
    report, path = calibrate(dune_config(), tmp_path / "out")
    # no risk signal: the P2 queries are not executed; P0 and P1 (nothing stored yet) run once each
    assert stand_in.executed == {name: 1 for name in P0 + P1}
    choices = _choices(path.parent)
    assert choices["liquidity_depth"] == choices["mev_toxicity"] == ("skip", "no risk signal")
    assert _served(report) == {**{n: ("dune", 0.0, "P0 always", 7.5) for n in P0},
                               **{n: ("dune", 0.0, "P1 daily", 7.5) for n in P1}}
    never = "skipped by the query plan (no risk signal) and never fetched"
    assert report["provenance"]["plan"]["not_served"] == {"liquidity_depth": never, "mev_toxicity": never}
    assert {"what": "query mev_toxicity", "why": f"{never}; its fits are skipped"} in report["missing"]
    assert "mev" not in report["fits"] and "liquidity_depth" not in report["fits"]
    # the cache keeps the calibration's own numbers as the planner's signal values
    cache = ResultCache(tmp_path / "cache")
    assert cache.get("pool_hourly_fees").values["volume"] == pytest.approx(report["fits"]["pool"]["volume_usd_per_day"])
    assert cache.get("realized_vol_jumps").values == {
        "realized_vol": pytest.approx(report["fits"]["realized_vol"]["realized_vol_annual"])}
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        ["ledger.json"] + [f"{n}.result.json" for n in P0 + P1])
    assert KEY not in _all_text(tmp_path)


def test_within_the_ttl_nothing_runs_and_the_report_records_ages(stand_in, dune_config, tmp_path, with_key, capsys):
    now_s = time.time()
    first, _ = calibrate(dune_config({"now_s": now_s}), tmp_path / "a")
    requests = len(stand_in.requests)
    assert run(dune_config({"now_s": now_s + 600}), tmp_path / "b") == 0
    second = json.loads((tmp_path / "b" / "calibration_report.json").read_text())
    assert len(stand_in.requests) == requests                       # not one request
    assert set(_served(second).values()) == {("cache", 600.0, "fresh", 0.0)}
    assert {n: e["execution_id"] for n, e in second["provenance"]["executions"].items()} == \
           {n: e["execution_id"] for n, e in first["provenance"]["executions"].items()}
    assert second["hash"] == first["hash"] and second["provenance"]["credits_total"] == 0
    assert set(_choices(tmp_path / "b").values()) >= {("skip", "fresh")}
    out = capsys.readouterr().out
    assert "  gas_regime: from cache, age 600 s (fresh)" in out and "  mev_toxicity: not served: skipped by the query plan (no risk signal)" in out
    # past the hourly P0 TTL (1 h) only those run again; gas_regime (daily rows, TTL a day) and the P1
    # results stay fresh
    third, _ = calibrate(dune_config({"now_s": now_s + 3700}), tmp_path / "c")
    hourly = ("pool_hourly_fees", "realized_vol_jumps")
    assert stand_in.executed == {**{n: 2 for n in hourly}, **{n: 1 for n in ("gas_regime", *P1)}}
    assert _served(third) == {**{n: ("dune", 0.0, "P0 always", 7.5) for n in hourly},
                              **{n: ("cache", 3700.0, "fresh", 0.0) for n in ("gas_regime", *P1)}}
    assert third["hash"] == first["hash"]                           # the stand-in serves the same rows
    assert KEY not in _all_text(tmp_path)


def test_a_risk_signal_lets_p2_run_within_the_expensive_cap(stand_in, dune_config, tmp_path, with_key):
    report, path = calibrate(dune_config({"mode": "normal", "signals": {"drawdown": 0.3}}), tmp_path / "out")
    # one expensive query a cycle; equal value per credit, so by name
    assert stand_in.executed["liquidity_depth"] == 1 and stand_in.executed["mev_toxicity"] == 0
    assert _served(report)["liquidity_depth"] == ("dune", 0.0, "risk signal: drawdown", 7.5)
    assert _choices(path.parent)["mev_toxicity"] == ("skip", "expensive cap")
    assert report["provenance"]["plan"]["risk_signals"] == ["drawdown"]


def test_the_credit_budget_caps_what_runs(stand_in, dune_config, tmp_path, with_key):
    # each P0 result fresh for a day: the P0 queries need 20 credits today, all due now
    planner = {"budget_credits_per_day": 35, "ttl_overrides_s": {n: DAY_S for n in P0}}
    report, path = calibrate(dune_config(planner), tmp_path / "out")
    # regime_frequencies (2 new signals per 10 credits) comes first: 20 + 10 = 30; dynamic_fee_analysis
    # (1 per 10) would make 40 > 35
    assert stand_in.executed == {**{n: 1 for n in P0}, "regime_frequencies": 1}
    assert _choices(path.parent)["dynamic_fee_analysis"] == ("skip", "over budget")
    assert json.loads((path.parent / "plan.json").read_text())["expected_credits"] == 30
    ledger = json.loads((tmp_path / "cache" / "ledger.json").read_text())
    assert sorted(r["query"] for r in ledger) == sorted([*P0, "regime_frequencies"])
    assert report["provenance"]["credits_total"] == sum(r["credits"] for r in ledger) == 4 * 7.5


@pytest.mark.parametrize("planner, reason, override", [
    ({"mode": "normal", "normal": {"max_priority": "P0"}}, "priority cap",
     "allow it with planner.normal.max_priority=P1"),
    ({"budget_credits_per_day": 15, "ttl_overrides_s": {"gas_regime": DAY_S}}, "over budget",
     "raise planner.budget_credits_per_day (now 15, 0 spent today)"),
])
def test_a_needed_query_never_fetched_and_skipped_is_a_clear_error(stand_in, dune_config, tmp_path, with_key, capsys,
                                                                 planner, reason, override):
    config = dune_config(planner)
    config["calibration"]["queries"] = ["gas_regime", "regime_frequencies"]
    assert run(config, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (f"query regime_frequencies has never been fetched for these parameters and the query plan skips it "
            f"({reason}); the fit needs it for regime_mix: {override}") in err
    assert stand_in.requests == [] and not (tmp_path / "out").exists()     # nothing spent, nothing written


def test_a_bad_planner_setting_is_a_clear_error(stand_in, dune_config, tmp_path, with_key, capsys):
    assert run(dune_config({"normal": {"max_priority": "P9"}}), tmp_path / "out") == 2
    assert "calibration failed: planner.normal.max_priority is 'P9': unknown priority" in capsys.readouterr().err
    assert stand_in.requests == []


def test_a_result_stored_for_other_parameters_is_not_served(stand_in, dune_config, tmp_path, with_key):
    now_s = time.time()
    calibrate(dune_config({"now_s": now_s}), tmp_path / "a")
    config = dune_config({"now_s": now_s + 600})
    config["calibration"]["parameters"]["pool_hourly_fees"] = {"lookback_days": 2}
    report, _ = calibrate(config, tmp_path / "b")
    assert stand_in.executed == {**{n: 1 for n in P0 + P1}, "pool_hourly_fees": 2}
    served = _served(report)
    assert served.pop("pool_hourly_fees") == ("dune", 0.0, "P0 always", 7.5)
    assert set(served.values()) == {("cache", 600.0, "fresh", 0.0)}
    assert report["inputs"]["pool_hourly_fees"]["parameters"]["lookback_days"] == 2


def test_a_result_failing_its_gate_is_not_stored_but_its_credits_count(stand_in, dune_config, snapshot_payloads,
                                                                      tmp_path, with_key, capsys):
    rows = snapshot_scenario(snapshot_payloads["gas_regime"], pd.Timestamp.now(tz="UTC")).rows
    rows[3]["gas_price_gwei"] = -1.0
    stand_in.special["gas_regime"] = {"rows": rows}
    assert run(dune_config(), tmp_path / "out") == 2
    assert "gas_regime: expect_column_values_to_be_between on 'gas_price_gwei'" in capsys.readouterr().err
    assert stand_in.executed == {"gas_regime": 1}                   # the first query: nothing after it ran
    assert not (tmp_path / "cache" / "gas_regime.result.json").exists()
    ledger = json.loads((tmp_path / "cache" / "ledger.json").read_text())
    assert [(r["query"], r["credits"]) for r in ledger] == [("gas_regime", 7.5)]


def _saved_gas_query_with_latest_result(stand_in, tmp_path, snapshot_payloads, age_s):
    """A catalog whose gas_regime is saved query 4242 on Dune, with a stored latest result `age_s` old."""
    folder = tmp_path / "queries"
    shutil.copytree(QUERIES_DIR, folder)
    meta = folder / "gas_regime.yaml"
    meta.write_text(meta.read_text().replace("dune_query_id: null", "dune_query_id: 4242"))
    now_s = time.time()
    ended = pd.Timestamp(now_s - age_s, unit="s", tz="UTC").floor("ms")
    stored = stand_in.add_latest(4242, snapshot_scenario(snapshot_payloads["gas_regime"], ended, ended_at=ended))
    return folder, now_s, ended, stored


def test_a_saved_querys_latest_result_is_stored_with_its_own_age(stand_in, dune_config, tmp_path, with_key,
                                                                 snapshot_payloads):
    folder, now_s, ended, stored = _saved_gas_query_with_latest_result(stand_in, tmp_path, snapshot_payloads, 600)
    config = dune_config({"now_s": now_s})
    config["calibration"].update(queries=["gas_regime", "regime_frequencies"], queries_dir=str(folder))
    report, _ = calibrate(config, tmp_path / "out")
    execution = report["provenance"]["executions"]["gas_regime"]
    assert execution["execution_id"] == stored and execution["served"] == "dune" and execution["reused"]
    assert execution["age_s"] == pytest.approx(now_s - ended.timestamp()) and execution["credits"] == 0
    assert ResultCache(tmp_path / "cache").get("gas_regime").fetched_at_s == pytest.approx(ended.timestamp())
    assert stand_in.calls("POST", "/api/v1/query/4242/execute") == 0


def test_a_saved_querys_latest_result_is_reused_within_the_planners_ttl(stand_in, dune_config, tmp_path, with_key,
                                                                        snapshot_payloads):
    folder, now_s, _, stored = _saved_gas_query_with_latest_result(stand_in, tmp_path, snapshot_payloads, 2 * 3600)
    # two hours old: past the catalog's ttl_s (an hour), within the planner's (three hours)
    config = dune_config({"now_s": now_s, "ttl_overrides_s": {"gas_regime": 3 * 3600}})
    config["calibration"].update(queries=["gas_regime", "regime_frequencies"], queries_dir=str(folder))
    report, _ = calibrate(config, tmp_path / "out")
    execution = report["provenance"]["executions"]["gas_regime"]
    assert execution["execution_id"] == stored and execution["reused"] and execution["credits"] == 0
    assert stand_in.calls("POST", "/api/v1/query/4242/execute") == 0


def test_from_the_composed_config_with_a_planner_choice(stand_in, tmp_path, with_key, capsys):
    from hydra import compose, initialize_config_dir

    from hbbatch.config import CONF_DIR, register_configs

    windows = [f"+calibration.parameters.{name}={{lookback_days:1}}"      # the snapshots' windows
               for name in ("pool_hourly_fees", "realized_vol_jumps", "dynamic_fee_analysis", "mev_toxicity")]
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "task=calibrate", "calibration=dune", *windows,
            f"calibration.output_dir={tmp_path / 'out'}", f"paths.output_dir={tmp_path / 'outputs'}",
            f"calibration.dune.base_url={stand_in.base_url}", f"calibration.dune.cache_dir={tmp_path / 'cache'}",
            "calibration.dune.ping_frequency_s=0.01", "calibration.dune.retries=2",
            "planner=high_churn", "planner.signals.toxicity=0.5"])
    assert run(cfg) == 0, capsys.readouterr().err
    # the risk signal lifts the priority cap, but high churn allows no expensive query
    assert stand_in.executed == {name: 1 for name in P0 + P1}
    choices = _choices(tmp_path / "out")
    assert choices["mev_toxicity"] == choices["liquidity_depth"] == ("skip", "expensive cap")
    report = json.loads((tmp_path / "out" / "calibration_report.json").read_text())
    assert report["provenance"]["plan"]["mode_reason"] == "forced: high_churn"


def test_charges_above_the_declared_cost_never_push_the_day_over_budget(stand_in, dune_config, tmp_path, with_key,
                                                                        catalog, capsys):
    # Dune charges 3x the declared cost; yesterday's ledger already shows it for the four planned queries
    for name in catalog:
        stand_in.special[name] = {"credits": 3 * catalog[name].cost_credits}
    now_s = time.time()
    planned = [*P0, "regime_frequencies"]
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "ledger.json").write_text(json.dumps(
        [{"t_s": now_s - DAY_S, "query": n, "credits": 3 * catalog[n].cost_credits} for n in planned]))
    planner = {"now_s": now_s, "budget_credits_per_day": 35, "ttl_overrides_s": {n: DAY_S for n in P0}}
    # by declared costs the plan runs 20 + 10 = 30 credits; at the charged rates they cost 90
    assert run(dune_config(planner), tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert ("query regime_frequencies: not fetched, over budget at execution: 30 credits spent today + 30 "
            "estimated > 35, and no stored result answers it") in err
    ledger = json.loads((tmp_path / "cache" / "ledger.json").read_text())
    today = [r for r in ledger if r["t_s"] >= now_s - now_s % DAY_S]
    assert [(r["query"], r["credits"]) for r in today] == [("gas_regime", 30.0)]    # 30 <= 35
    assert stand_in.executed == {"gas_regime": 1}


def test_a_needed_result_too_old_for_the_planner_ttl_is_refused(stand_in, dune_config, tmp_path, with_key, capsys):
    now_s = time.time()
    calibrate(dune_config({"now_s": now_s}), tmp_path / "a")
    capped = {"mode": "normal", "normal": {"max_priority": "P0"}}       # the plan skips every P1 query
    # 3 days later: within 4 x the P1 TTL of a day, the stored regime_frequencies still serves
    report, _ = calibrate(dune_config({**capped, "now_s": now_s + 3 * DAY_S}), tmp_path / "b")
    assert report["provenance"]["executions"]["regime_frequencies"]["served"] == "cache"
    # 5 days later it does not; with the limit raised it does
    assert run(dune_config({**capped, "now_s": now_s + 5 * DAY_S}), tmp_path / "c") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (f"query regime_frequencies: skipped by the query plan (priority cap) and its stored result is "
            f"{5 * DAY_S:g} s old, over calibration.max_age_factor (4) x its TTL (86400 s) = 345600 s") in err
    config = dune_config({**capped, "now_s": now_s + 5 * DAY_S})
    config["calibration"]["max_age_factor"] = 6
    report, _ = calibrate(config, tmp_path / "d")
    assert report["provenance"]["executions"]["regime_frequencies"]["age_s"] == pytest.approx(5 * DAY_S)


def test_an_optional_result_too_old_is_left_out(stand_in, dune_config, tmp_path, with_key):
    now_s = time.time()
    calibrate(dune_config({"now_s": now_s}), tmp_path / "a")
    config = dune_config({"mode": "normal", "normal": {"max_priority": "P0"}, "now_s": now_s + 5 * DAY_S})
    # regime_frequencies (TTL a day, 5 days old) is within 6 x its TTL; dynamic_fee_analysis (TTL an hour) is not
    config["calibration"]["max_age_factor"] = 6
    config["calibration"]["queries"] = ["gas_regime", "regime_frequencies", "dynamic_fee_analysis"]
    config["planner"].update(refresh_s={"P1": 0}, ttl_overrides_s={"dynamic_fee_analysis": 3600})
    report, _ = calibrate(config, tmp_path / "b")
    why = report["provenance"]["plan"]["not_served"]["dynamic_fee_analysis"]
    assert why.startswith("skipped by the query plan (priority cap) and its stored result is 432000 s old")
    assert "dynamic_fee_analysis" not in report["provenance"]["executions"]
