"""The files source: a folder of CSV exports in Dune's format."""

from __future__ import annotations

import csv

import pytest

from hbbatch.calibration.errors import GateError, SourceError
from hbbatch.calibration.sources.files import FilesSource
from hbbatch.calibration.task import calibrate
from hbbatch.planner.catalog import QuerySpec


def _export(payloads, folder):
    """Each snapshot as Dune exports it: a header, every value as text, empty for null."""
    folder.mkdir(exist_ok=True)
    for name, payload in payloads.items():
        names = payload["result"]["metadata"]["column_names"]
        with (folder / f"{name}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            for row in payload["result"]["rows"]:
                writer.writerow(["" if row[n] is None else row[n] for n in names])
    return folder


def test_files__stale_or_future_exports_fail_the_freshness_gate(snapshot_payloads, tmp_path):
    folder = _export(snapshot_payloads, tmp_path / "exports")
    windows = {name: payload["hbbatch"]["parameters"] for name, payload in snapshot_payloads.items()}
    config = {"calibration": {"source": "files", "files_dir": str(folder), "parameters": windows,
                              "files_as_of": "2024-01-06T00:00:00Z"}}
    with pytest.raises(GateError, match="gas_regime: expect_column_min_to_be_between on 'gate_age_s'"):
        calibrate(config, tmp_path / "stale")        # gas rows from 2026 are "in the future" of 2024-01-06
    config["calibration"]["queries"] = ["gas_regime", "regime_frequencies", "pool_hourly_fees",
                                        "dynamic_fee_analysis"]
    config["calibration"]["files_as_of"] = "2026-06-03T00:00:00Z"
    with pytest.raises(GateError, match="pool_hourly_fees: expect_column_min_to_be_between on 'gate_age_s'"):
        calibrate(config, tmp_path / "stale2")       # and the pool day is two years stale by then


def test_files__fit_from_exports_equals_the_snapshot_fit(snapshot_payloads, snapshot_report, tmp_path):
    for name, as_of in (("gas_regime", "2026-06-03T00:00:00Z"), ("regime_frequencies", "2026-01-06T00:00:00Z")):
        folder = _export({name: snapshot_payloads[name]}, tmp_path / name)
        result = FilesSource(folder, as_of).fetch(_spec(name), {})
        assert result.rows[0] == {k: str(v) for k, v in snapshot_payloads[name]["result"]["rows"][0].items()}
    gas = _export({"gas_regime": snapshot_payloads["gas_regime"]}, tmp_path / "both")
    _export({"regime_frequencies": snapshot_payloads["regime_frequencies"]}, gas)
    # one files_as_of dates every export, and these two were taken months apart: fit without the freshness gate
    report, _ = calibrate({"calibration": {"source": "files", "files_dir": str(tmp_path / "both"),
                                           "queries": ["gas_regime", "regime_frequencies"],
                                           "files_as_of": "2026-06-03T00:00:00Z",
                                           "expectations_dir": str(_suites_without_freshness(tmp_path))}},
                          tmp_path / "out")
    assert report["constants"]["agent"] == snapshot_report["constants"]["agent"]
    assert report["constants"]["regime_mix"] == snapshot_report["constants"]["regime_mix"]
    assert report["fits"]["regimes"]["per_regime"] == snapshot_report["fits"]["regimes"]["per_regime"]


def _spec(name):
    from hbbatch.planner.catalog import load_catalog

    return load_catalog()[name]


def _suites_without_freshness(tmp_path):
    import json

    from hbbatch.calibration.gates import SUITES_DIR

    folder = tmp_path / "suites"
    folder.mkdir()
    for path in SUITES_DIR.glob("*.json"):
        suite = json.loads(path.read_text())
        suite["expectations"] = [e for e in suite["expectations"] if e["kwargs"].get("column") != "gate_age_s"]
        (folder / path.name).write_text(json.dumps(suite))
    return folder


def test_files__missing_export_and_ragged_line_are_named(tmp_path):
    spec = _spec("gas_regime")
    with pytest.raises(SourceError, match=r"gas_regime.csv: no export for query gas_regime"):
        FilesSource(tmp_path).fetch(spec, {})
    (tmp_path / "gas_regime.csv").write_text("day,gas_price_gwei,eth_price_usd\n2026-05-04 00:00:00.000 UTC,1.2\n")
    with pytest.raises(SourceError, match=r"line 2 has 2 fields, the header 3"):
        FilesSource(tmp_path).fetch(spec, {})
    with pytest.raises(SourceError, match="is not a folder"):
        FilesSource(tmp_path / "nope")


def test_files__reads_a_real_dune_export(shared_dir):
    spec = QuerySpec(name="mint_events", priority="P2", cost_credits=0, cost_class="cheap", expensive=False,
                     ttl_s=0, provides=("x",), sql="", columns={"evt_block_time": "timestamp", "amount": "double",
                                                                "tickLower": "bigint", "owner": "varchar"})
    result = FilesSource(shared_dir / "data" / "dune_export_samples_base").fetch(spec, {})
    frame = result.to_frame(spec)
    assert len(frame) == 672
    assert str(frame["evt_block_time"].iloc[0]) == "2024-12-16 05:01:53+00:00"
    assert frame["amount"].iloc[0] == pytest.approx(993522496634912801749467.0)   # uint256 as a decimal string
    assert frame["tickLower"].iloc[0] == -230400 and frame["tickLower"].dtype == "int64"
