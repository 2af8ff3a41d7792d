"""`task=calibrate` from a composed Hydra config and from the command line."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from hbbatch.calibration.report import load_report
from hbbatch.calibration.task import before_constants, format_changes, run
from hbbatch.config import CONF_DIR, register_configs
from hbbatch.config.sim import MarketConf

REPO = Path(__file__).resolve().parents[2]


def _compose(*overrides):
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=["task=calibrate", *overrides])


@pytest.mark.parametrize("choice", ["snapshot", "none", "default"])
def test_run__from_the_composed_config_writes_the_report_and_prints_the_change(tmp_path, capsys, snapshot_report,
                                                                             choice):
    cfg = _compose(f"calibration={choice}", f"calibration.output_dir={tmp_path}", "agent.gas_usd=2.5")
    assert run(cfg) == 0
    out = capsys.readouterr().out
    report = load_report(tmp_path / "calibration_report.json")
    assert report.hash == snapshot_report["hash"]
    assert f"calibration hash: {report.hash}" in out
    gas_line = next(line for line in out.splitlines() if line.startswith("agent.gas_usd "))
    assert gas_line.split()[1:] == ["2.5", f"{report.agent['gas_usd']:.6g}"]      # before = the config's value
    assert any(line.startswith("regime_mix.trend_up ") for line in out.splitlines())


def test_run__needs_an_output_directory_outside_hydra(capsys):
    assert run({"calibration": {"source": "snapshot"}}) == 2
    assert "calibration.output_dir: not set and no Hydra run is active" in capsys.readouterr().err


def test_run__unknown_query_and_source_are_named(tmp_path, capsys):
    assert run({"calibration": {"source": "snapshot", "queries": ["gas_regime", "gas_regmie"]}}, tmp_path) == 2
    assert "calibration.queries: unknown query 'gas_regmie'" in capsys.readouterr().err
    assert run({"calibration": {"source": "duen"}}, tmp_path) == 2
    assert "calibration.source: 'duen' is not a source" in capsys.readouterr().err
    assert run({"calibration": {"source": "snapshot", "queries": ["gas_regime"]}}, tmp_path) == 2
    assert "'regime_frequencies' is required (it fits regime_mix)" in capsys.readouterr().err


def test_run__snapshot_refuses_parameters_it_does_not_answer(tmp_path, capsys):
    assert run({"calibration": {"source": "snapshot", "parameters": {"lookback_days": 90}}}, tmp_path) == 2
    err = capsys.readouterr().err
    assert "calibration.parameters.lookback_days=90: the snapshot of" in err and "calibration.source=dune" in err


@pytest.mark.parametrize("parameters, key", [({"lookback_day": 3}, "lookback_day"),
                                             ({"pool_hourly_fee": {"lookback_days": 1}}, "pool_hourly_fee")])
def test_run__a_misspelt_parameter_is_a_clear_error(tmp_path, capsys, catalog, parameters, key):
    assert run({"calibration": {"source": "snapshot", "parameters": parameters}}, tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"calibration.parameters.{key}: neither a query nor a query parameter" in err
    known = sorted({p for spec in catalog.values() for p in spec.parameters})
    assert f"use a parameter ({', '.join(known)}) or a query name ({', '.join(catalog)})" in err


def test_format_changes__one_line_per_number():
    table = format_changes(before_constants(None), {"agent": {"gas_usd": 4.2}, "market": {"vol_annual": {
        "mean_revert": 0.5, "jumpy": 0.9, "trend_up": 0.6}}})
    lines = table.splitlines()
    assert lines[0].split() == ["constant", "before", "after"]
    vol = MarketConf().vol_annual  # the schema's defaults are the "before" column
    assert [line.split() for line in lines[2:]] == [["agent.gas_usd", "2", "4.2"],
                                                     ["market.vol_annual.mean_revert", f"{vol.mean_revert:.6g}", "0.5"],
                                                     ["market.vol_annual.jumpy", f"{vol.jumpy:.6g}", "0.9"],
                                                     ["market.vol_annual.trend_up", f"{vol.trend_up:.6g}", "0.6"]]


def test_cli__task_calibrate_writes_under_the_hydra_run_directory_and_reproduces_the_committed_hash(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DUNE_API_KEY" and not k.startswith("OPENBLAS_")}
    if platform.machine() == "x86_64":   # another OpenBLAS kernel than this CPU's own (SSE3: every x86-64 has it)
        env["OPENBLAS_CORETYPE"] = "Prescott"
    done = subprocess.run([sys.executable, "-m", "hbbatch", "task=calibrate", f"paths.output_dir={tmp_path}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    reports = list(tmp_path.rglob("calibration_report.json"))
    assert len(reports) == 1 and (reports[0].parent / ".hydra").is_dir()
    assert f"calibration hash: {json.loads(reports[0].read_text())['hash']}" in done.stdout
    assert json.loads(reports[0].read_text())["hash"] == load_report().hash   # the CLI's one BLAS thread, any kernel
