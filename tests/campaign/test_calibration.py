"""Applying a calibration report to campaign C's config, with the committed report as the oracle."""

import copy
import json

import pytest

from hbbatch.calibration.report import DEFAULT_REPORT_PATH, finish_report, load_report
from hbbatch.campaign.calibration import (CalibrationConfigError, _historical_instead, apply_calibration,
                                          explicit_keys, report_path)

REPORT = load_report(DEFAULT_REPORT_PATH)


def _config(source="default", **calibration):
    return {"calibration": {"source": source, "path": None, "apply_market": False, **calibration},
            "agent": {"gas_usd": 4.2, "fee_gate_usd": 8.4, "capital_usd": 1e5},
            "regime_mix": {"mean_revert": 0.49, "jumpy": 0.14, "trend_up": 0.36},
            "market": {"fee_rate": 0.0005, "vol_annual": {"mean_revert": 0.55, "jumpy": 0.75, "trend_up": 0.65}}}


def test_explicit_keys__dotted_values_only():
    assert explicit_keys(["campaign=C", "agent.gas_usd=3", "+market.fee_rate=0.001", "regime_mix=calibrated",
                          "hydra.verbose=true"]) == {"agent.gas_usd", "market.fee_rate"}


def test_apply_calibration__default_report_replaces_agent_constants_but_not_the_world():
    config = _config()
    info = apply_calibration(config, set(), environ={})
    assert info["hash"] == REPORT.hash and info["path"] == str(DEFAULT_REPORT_PATH)
    assert config["agent"]["gas_usd"] == REPORT.constants["agent"]["gas_usd"]
    assert config["agent"]["fee_gate_usd"] == REPORT.constants["agent"]["fee_gate_usd"]
    assert config["agent"]["capital_usd"] == 1e5
    # a campaign is a set of agent settings: the report's mix belongs to the calibrated world, not to C
    assert config["regime_mix"] == {"mean_revert": 0.49, "jumpy": 0.14, "trend_up": 0.36}
    assert config["market"]["fee_rate"] == 0.0005 and config["market"]["vol_annual"]["jumpy"] == 0.75


def test_apply_calibration__market_only_on_request_and_command_line_values_win():
    config = _config(apply_market=True)
    info = apply_calibration(config, {"agent.gas_usd", "market.vol_annual.jumpy", "regime_mix.jumpy"}, environ={})
    assert config["agent"]["gas_usd"] == 4.2 and "agent.gas_usd" in info["kept"]
    assert config["market"]["vol_annual"]["jumpy"] == 0.75
    assert config["market"]["vol_annual"]["trend_up"] == REPORT.constants["market"]["vol_annual"]["trend_up"]
    assert config["regime_mix"] == {"mean_revert": 0.49, "jumpy": 0.14, "trend_up": 0.36}   # a mix is one unit


def test_apply_calibration__none_records_hash_none():
    config = _config("none")
    assert apply_calibration(config, set(), environ={})["hash"] == "none"
    assert config["agent"]["gas_usd"] == 4.2


def test_apply_calibration__dune_calibration_json_names_the_default_report(tmp_path):
    content = {k: v for k, v in copy.deepcopy(dict(REPORT.data)).items() if k not in ("hash", "provenance")}
    content["constants"]["agent"].update(gas_usd=5.5, fee_gate_usd=11.0)
    other = finish_report(content, {"source": "test"})
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(other))
    config = _config()
    info = apply_calibration(config, set(), environ={"DUNE_CALIBRATION_JSON": str(path)})
    assert config["agent"]["gas_usd"] == 5.5 and info["hash"] == other["hash"] != REPORT.hash


def test_report_path__file_needs_a_path_and_fit_sources_are_refused():
    with pytest.raises(CalibrationConfigError, match="calibration.path: required"):
        report_path({"source": "file", "path": None}, {})
    with pytest.raises(CalibrationConfigError, match="task=calibrate"):
        report_path({"source": "dune"}, {})


def _edited_report(tmp_path, **agent):
    """The committed report with agent constants edited and the hash recomputed (as a careless or hostile edit)."""
    content = {k: v for k, v in copy.deepcopy(dict(REPORT.data)).items() if k not in ("hash", "provenance")}
    content["constants"]["agent"].update(agent)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(finish_report(content, {"source": "test"})))
    return path


@pytest.mark.parametrize("agent, column", [
    ({"gas_usd": 1e-300}, "agent__gas_usd"),
    ({"fee_gate_usd": 1e300}, "agent__fee_gate_usd"),
    ({"gas_usd": 1e-300, "fee_gate_usd": 1e300}, "agent__gas_usd"),
    ({"gas_usd": 5.0, "fee_gate_usd": 4.0}, "agent__fee_gate_usd,agent__gas_usd"),   # the gate below the gas
])
def test_apply_calibration__a_rehashed_report_the_gates_would_refuse_is_refused(tmp_path, agent, column):
    from hbbatch.calibration.errors import GateError

    path = _edited_report(tmp_path, **agent)
    load_report(path)                    # the schema and the hash are fine ...
    with pytest.raises(GateError, match=f"on '{column}'"):   # ... the calibration gates are not
        apply_calibration(_config("file", path=str(path)), set(), environ={})


def test_apply_calibration__an_unidentified_mix_is_not_applied():
    assert REPORT.fits["regimes"]["identified"] is False          # the committed report: the mix is noise
    config = _config(apply_market=True)
    info = apply_calibration(config, set(), environ={})
    assert info["regime_mix_identified"] is False
    assert config["regime_mix"] == {"mean_revert": 0.49, "jumpy": 0.14, "trend_up": 0.36}   # not the artefact
    assert not any(key.startswith("regime_mix") for key in info["applied"])
    assert config["market"]["vol_annual"]["jumpy"] == REPORT.constants["market"]["vol_annual"]["jumpy"]


def test_historical_instead__the_parametric_world_gives_way_to_the_historical_one():
    config = {"world": {"name": "regimes", "kind": "parametric", "description": "the parametric regime model"}}
    assert _historical_instead(config).startswith("historical")
    assert config["world"]["name"] == "historical" and config["world"]["kind"] == "historical"
    other = {"world": {"name": "stress_high_gas", "kind": "historical"}}
    assert _historical_instead(other) is None and other["world"]["name"] == "stress_high_gas"


def test_apply_calibration__an_unidentified_mix_is_kept_only_on_request():
    config = _config(apply_market=True, use_unidentified_mix=True)
    info = apply_calibration(config, set(), environ={})
    assert "world_fallback" not in info
    assert config["regime_mix"] == pytest.approx(REPORT.constants["regime_mix"])


def test_apply_calibration__an_identified_mix_is_applied(tmp_path):
    content = {k: v for k, v in copy.deepcopy(dict(REPORT.data)).items() if k not in ("hash", "provenance")}
    content["fits"]["regimes"]["identified"] = True
    path = tmp_path / "identified.json"
    path.write_text(json.dumps(finish_report(content, {"source": "test"})))
    config = _config(source="file", path=str(path), apply_market=True)
    info = apply_calibration(config, set(), environ={})
    assert info["regime_mix_identified"] is True and "world_fallback" not in info
    assert config["regime_mix"] == pytest.approx(REPORT.constants["regime_mix"])
