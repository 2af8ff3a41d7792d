"""Inputs a job reads beyond its config are refused before Hydra makes a folder: exit 2, one line, nothing written.

The table is the list of refused inputs at the command line: a forged or broken calibration report (campaign C,
a sweep, shadow mode), task=calibrate's source, queries and parameters, an unknown metric, a job of a sweep that
does not compose. Each row: the overrides, the environment, and what the one line must say.
"""

from __future__ import annotations

import copy
import json

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from hbbatch.calibration.report import DEFAULT_REPORT_PATH, finish_report, load_report
from hbbatch.campaign.preflight import check_inputs
from hbbatch.config import CONF_DIR, register_configs
from hbbatch.config.callback import plain_config
from tests.test_cli import ENV_VARS, TINY, run_cli


def _report(tmp_path, edit, name) -> str:
    """The committed report with `edit` applied to its content, rehashed as a fit would hash it."""
    content = {k: v for k, v in copy.deepcopy(dict(load_report(DEFAULT_REPORT_PATH).data)).items()
               if k not in ("hash", "provenance")}
    edit(content)
    path = tmp_path / name
    path.write_text(json.dumps(finish_report(content, {"source": "test"})))
    return str(path)


def _forged(content):   # the report: values the calibration gates refuse, rehashed
    content["constants"]["agent"].update(gas_usd=1e-300, fee_gate_usd=1e300)


def _mix_off(content):
    content["constants"]["regime_mix"].update(jumpy=0.9)


def _tampered(tmp_path) -> str:
    data = copy.deepcopy(dict(load_report(DEFAULT_REPORT_PATH).data))
    data["constants"]["agent"]["gas_usd"] = 0.5   # edited after fitting, not rehashed
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(data))
    return str(path)


def _not_json(tmp_path) -> str:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    return str(path)


FORGED = "refused, the report fails the gates a fitted report must pass"
SQL_IN_POOL = "+calibration.parameters.pool=\"0x88e6' OR 1=1; --\""

# (name, overrides, environment (a value "{report:...}" is a report written by the test), the line's text)
REFUSED = [
    ("forged report, DUNE_CALIBRATION_JSON", ["campaign=C"], {"DUNE_CALIBRATION_JSON": "forged"}, FORGED),
    ("forged report, calibration=file", ["campaign=C", "calibration=file", "calibration.path={forged}"], {}, FORGED),
    ("forged report, a sweep", ["-m", "campaign=B,C"], {"DUNE_CALIBRATION_JSON": "forged"}, FORGED),
    ("forged report, the three-way", ["-m", "+experiment=three_way", "experiment.worlds=[historical]"],
     {"DUNE_CALIBRATION_JSON": "forged"}, FORGED),
    ("forged report, shadow mode", ["task=shadow", "agent.warmup_minutes=360", "calibration=default",
                                    "shadow.state_dir={tmp}/shadow"], {"DUNE_CALIBRATION_JSON": "forged"}, FORGED),
    ("a report's mix off 1", ["campaign=C", "calibration.use_unidentified_mix=true"],
     {"DUNE_CALIBRATION_JSON": "mix_off"}, "field 'constants.regime_mix' sums to"),
    ("a tampered report", ["campaign=C"], {"DUNE_CALIBRATION_JSON": "tampered"}, "field 'hash' does not match"),
    ("a report that is not JSON", ["campaign=C"], {"DUNE_CALIBRATION_JSON": "not_json"}, "not valid JSON"),
    ("calibration=file without a path", ["campaign=C", "calibration=file"], {}, "calibration.path: required"),
    ("no DUNE_API_KEY", ["task=calibrate", "calibration.source=dune"], {},
     "the environment variable DUNE_API_KEY is not set"),
    ("an empty DUNE_API_KEY", ["task=calibrate", "calibration.source=dune"], {"DUNE_API_KEY": " "},
     "DUNE_API_KEY is not set"),
    ("SQL in a pool address", ["task=calibrate", "calibration.source=dune", SQL_IN_POOL],
     {"DUNE_API_KEY": "k", "DUNE_API_BASE_URL": "http://127.0.0.1:9"}, "not an address"),
    ("SQL in a pool address, offline", ["task=calibrate", SQL_IN_POOL], {}, "not an address"),
    ("a misspelt parameter", ["task=calibrate", "+calibration.parameters.lookbak_days=3"], {},
     "calibration.parameters.lookbak_days: neither a query nor a query parameter"),
    ("an unknown query", ["task=calibrate", "calibration.queries=[nope]"], {}, "calibration.queries: unknown query"),
    ("files without a folder", ["task=calibrate", "calibration.source=files"], {}, "calibration.files_dir: not set"),
    ("files: a missing export", ["task=calibrate", "calibration.source=files", "calibration.files_dir={tmp}"], {},
     "no export for query"),
    ("an unknown metric", ["-m", "campaign=A,B", "stats.metrics=[net_pnl_usd,foo]"], {},
     "stats.metrics[1]='foo' is not a metric of the episodes table"),
    ("a pool the history lacks", ["world.pool_fee_bp=7"], {}, "world.pool_fee_bp=7: the embedded pools are (5, 30)"),
    ("bars the history lacks", ["world.bar_minutes=7"], {}, "world.bar_minutes=7: the embedded history has"),
    ("bars that do not fit the step", ["world.bar_minutes=60", "market.step_minutes=7"], {}, "whole multiple"),
    ("a history file that does not exist", ["world.history=/no/such.parquet"], {}, "world.history=/no/such.parquet"),
    ("a date that is not one", ["world.history_start=notadate"], {}, "world.history_start='notadate'"),
    ("a reversed window", ["world.history_start=2025-01-01", "world.history_end=2024-01-01"], {},
     "world.history_start=2025-01-01 is after world.history_end=2024-01-01"),
    ("a world of a sweep", ["-m", "+experiment=three_way", "world.pool_fee_bp=7"], {}, "world.pool_fee_bp=7"),
    ("a job of a sweep that does not compose", ["-m", "campaign=A,Z"], {}, "Could not find 'campaign/Z'"),
]


@pytest.mark.parametrize("overrides, env, needle", [row[1:] for row in REFUSED], ids=[row[0] for row in REFUSED])
def test_refused_before_any_folder_is_made_with_one_line(overrides, env, needle, tmp_path, monkeypatch, capsys):
    for name in ENV_VARS + ("DUNE_API_KEY", "DUNE_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    reports = {"forged": lambda: _report(tmp_path, _forged, "forged.json"),
               "mix_off": lambda: _report(tmp_path, _mix_off, "mix_off.json"),
               "tampered": lambda: _tampered(tmp_path), "not_json": lambda: _not_json(tmp_path)}
    for name, value in env.items():
        monkeypatch.setenv(name, reports[value]() if value in reports else value)
    (tmp_path / "in").mkdir()
    overrides = [o.format(forged=reports["forged"]() if "{forged}" in o else "", tmp=tmp_path / "in")
                 for o in overrides]
    out = tmp_path / "out"
    assert run_cli(*TINY, f"hydra.run.dir={out}", f"hydra.sweep.dir={out}", *overrides) == 2
    err = capsys.readouterr().err
    assert err.startswith("hbbatch: error: ") and needle in err and err.count("\n") == 1, err
    assert not out.exists() and not (tmp_path / "in" / "shadow").exists()


WORLDS = sorted(p.stem for p in (CONF_DIR / "world").glob("*.yaml"))


@pytest.mark.parametrize("world", WORLDS)
def test_every_world_and_the_committed_report_pass_the_checks(world, monkeypatch):
    monkeypatch.delenv("DUNE_CALIBRATION_JSON", raising=False)
    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            config = compose("config", overrides=[f"world={world}", "campaign=C"], return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    check_inputs(plain_config(config), [], {})
