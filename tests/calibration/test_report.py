"""calibration_report.json: the committed default, the content hash, strict loading."""

import copy
import json
from dataclasses import fields

import pytest

from hbbatch.calibration.errors import ReportError
from hbbatch.calibration.report import (DEFAULT_REPORT_PATH, MIX_TOLERANCE, content_hash, load_report,
                                        write_report)
from hbbatch.calibration.task import calibrate
from hbbatch.config.sim import MarketConf
from tests.calibration.conftest import edit_snapshot


def test_default_report__loads_and_is_the_fit_of_the_committed_snapshots(snapshot_report):
    report = load_report()
    assert report.path == DEFAULT_REPORT_PATH
    assert report.hash == snapshot_report["hash"], "refit it: python -m hbbatch.calibration.task"
    assert set(report.constants) == {"agent", "regime_mix", "market"}
    assert set(report.agent) == {"gas_usd", "fee_gate_usd"}
    assert set(report.market) <= {f.name for f in fields(MarketConf)}
    assert report.hash == content_hash(report.data) and report.hash.startswith("sha256:")


def test_mix_tolerance__is_the_simulators():
    from hbbatch.sim.params import MIX_TOLERANCE as SIM_TOLERANCE

    assert MIX_TOLERANCE == SIM_TOLERANCE


def test_hash__same_inputs_same_hash_whatever_the_fetch(snapshot_report, snapshot_copy, tmp_path):
    def new_execution(payload):
        payload["execution_id"] = "another-run"
        payload["submitted_at"] = "2026-06-03T01:00:00.000Z"
    edit_snapshot(snapshot_copy, "gas_regime", new_execution)
    again, _ = calibrate({"calibration": {"source": "snapshot", "snapshot_dir": str(snapshot_copy)}}, tmp_path)
    assert again["hash"] == snapshot_report["hash"]
    assert again["provenance"]["executions"]["gas_regime"]["execution_id"] == "another-run"


@pytest.mark.parametrize("name,edit", [
    ("gas_regime", lambda p: p["result"]["rows"][7].update(gas_price_gwei=p["result"]["rows"][7]["gas_price_gwei"] * 1.01)),
    ("liquidity_depth", lambda p: p["result"]["rows"][0].update(liquidity=p["result"]["rows"][0]["liquidity"] * 1.001)),
    ("mev_toxicity", lambda p: p["hbbatch"]["parameters"].update(lookback_days=2)),
])
def test_hash__changes_when_any_input_changes(snapshot_report, snapshot_copy, tmp_path, name, edit):
    edit_snapshot(snapshot_copy, name, edit)
    changed, _ = calibrate({"calibration": {"source": "snapshot", "snapshot_dir": str(snapshot_copy)}}, tmp_path)
    assert changed["hash"] != snapshot_report["hash"]
    assert changed["inputs"][name] != snapshot_report["inputs"][name]


def test_hash__changes_with_a_setting(snapshot_report, tmp_path):
    changed, _ = calibrate({"calibration": {"source": "snapshot", "fee_gate_multiple": 2.5}}, tmp_path)
    assert changed["hash"] != snapshot_report["hash"]
    assert changed["constants"]["agent"]["fee_gate_usd"] == pytest.approx(2.5 * changed["constants"]["agent"]["gas_usd"])


@pytest.fixture
def report_file(tmp_path):
    def write(mutate=None, text=None):
        path = tmp_path / "calibration_report.json"
        if text is not None:
            path.write_text(text)
            return path
        data = json.loads(DEFAULT_REPORT_PATH.read_text())
        if mutate:
            mutate(data)
            data["hash"] = content_hash(data)      # a consistent hash: only the schema check can object
        path.write_text(json.dumps(data))
        return path
    return write


def test_load__truncated_file_names_file_and_field(report_file):
    text = DEFAULT_REPORT_PATH.read_text()
    path = report_file(text=text[: text.index('"market"') + 30])
    with pytest.raises(ReportError) as info:
        load_report(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid JSON (truncated") and "field 'market'" in message
    assert "\n" not in message


def test_load__malformed_file(report_file):
    path = report_file(text='{"schema": "hbbatch.calibration_report", "constants": {agent: 1}}')
    with pytest.raises(ReportError, match=r"not valid JSON \(malformed at line 1, column 56 after field 'constants'\)"):
        load_report(path)


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d["constants"]["agent"].pop("gas_usd"), "constants.agent.gas_usd' is missing"),
    (lambda d: d["constants"]["agent"].update(fee_gate_usd="8.40"), "constants.agent.fee_gate_usd' is '8.40'"),
    (lambda d: d["constants"]["agent"].update(gas_usd=-1.0), "constants.agent.gas_usd' is -1.0"),
    (lambda d: d["constants"]["regime_mix"].update(jumpy=0.5), "constants.regime_mix' sums to"),
    (lambda d: d["constants"]["regime_mix"].pop("trend_up"), "constants.regime_mix.trend_up' is missing"),
    (lambda d: d["constants"]["market"].update(gas_usd=3.0), "constants.market.gas_usd' is not a key of"),
    (lambda d: d["constants"]["market"].update(vol_annual=0.6), "constants.market.vol_annual' is float"),
    (lambda d: d["constants"]["market"]["vol_annual"].pop("jumpy"), "constants.market.vol_annual.jumpy' is missing"),
    (lambda d: d.pop("constants"), "field 'constants' is missing"),
    (lambda d: d.update(schema_version=2), "field 'schema_version' is 2"),
])
def test_load__schema_violations_name_the_field(report_file, mutate, field):
    path = report_file(mutate)
    with pytest.raises(ReportError, match=str(path)) as info:
        load_report(path)
    assert field in str(info.value)


def test_load__edited_content_fails_the_hash(tmp_path):
    data = json.loads(DEFAULT_REPORT_PATH.read_text())
    data["constants"]["agent"]["gas_usd"] = 4.2
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ReportError, match=r"field 'hash' does not match the content"):
        load_report(path)


def test_load__missing_file(tmp_path):
    with pytest.raises(ReportError, match=r"no such calibration report"):
        load_report(tmp_path / "nope.json")


def test_write__is_atomic_and_leaves_no_temporary(tmp_path):
    report = json.loads(DEFAULT_REPORT_PATH.read_text())
    path = write_report(report, tmp_path / "r" / "calibration_report.json")
    assert [p.name for p in path.parent.iterdir()] == ["calibration_report.json"]
    assert load_report(path).hash == report["hash"]
    bad = copy.deepcopy(report)
    bad["fits"]["gas"]["gas_usd_median"] = float("nan")
    with pytest.raises(ValueError):
        write_report(bad, path)
    assert [p.name for p in path.parent.iterdir()] == ["calibration_report.json"]
    assert load_report(path).hash == report["hash"]          # the old report is untouched


def test_hash__is_the_same_on_any_cpu_a_last_digit_difference_does_not_change_it(snapshot_report):
    import copy

    from hbbatch.calibration.report import HASH_SIGNIFICANT_DIGITS

    data = copy.deepcopy(dict(snapshot_report))
    gas = data["constants"]["agent"]["gas_usd"]
    data["constants"]["agent"]["gas_usd"] = float.fromhex(gas.hex()) * (1 + 2**-52)   # one ulp, as another CPU's sum
    assert data["constants"]["agent"]["gas_usd"] != gas and content_hash(data) == snapshot_report["hash"]
    data["constants"]["agent"]["gas_usd"] = gas * (1 + 10 ** -(HASH_SIGNIFICANT_DIGITS - 2))  # a real change
    assert content_hash(data) != snapshot_report["hash"]
