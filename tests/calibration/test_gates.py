"""Each gate fails on a corrupted copy of the real results, names what failed, and nothing is written."""

import random

import pytest

from hbbatch.calibration.errors import GateError
from hbbatch.calibration.gates import check_report
from hbbatch.calibration.task import calibrate, run
from tests.calibration.conftest import edit_snapshot


def _calibrate_expecting_failure(snapshot_copy, tmp_path, match, queries=None):
    out = tmp_path / "out"
    config = {"source": "snapshot", "snapshot_dir": str(snapshot_copy)}
    if queries:   # the gates run before the fit: the corrupted results alone show what fails, faster
        config["queries"] = queries
    with pytest.raises(GateError, match=match) as info:
        calibrate({"calibration": config}, out)
    assert not out.exists() or not any(out.iterdir()), "a failed gate must not leave a report"
    return str(info.value)


def test_gate__null_value(snapshot_copy, tmp_path):
    edit_snapshot(snapshot_copy, "regime_frequencies", lambda p: p["result"]["rows"][10].update(log_return=None))
    message = _calibrate_expecting_failure(snapshot_copy, tmp_path, "regime_frequencies", ["regime_frequencies"])
    assert "expect_column_values_to_not_be_null on 'log_return'" in message
    assert "observed 0.0916 % of rows unexpected" in message      # 1 of 1,092 rows


def test_gate__negative_gas(snapshot_copy, tmp_path):
    edit_snapshot(snapshot_copy, "gas_regime", lambda p: p["result"]["rows"][5].update(gas_price_gwei=-1.5))
    message = _calibrate_expecting_failure(snapshot_copy, tmp_path, "gas_regime", ["gas_regime"])
    assert "expect_column_values_to_be_between on 'gas_price_gwei'" in message
    assert "e.g. [-1.5]" in message


def test_gate__shuffled_timestamps(snapshot_copy, tmp_path):
    def shuffle(payload):
        random.Random(0).shuffle(payload["result"]["rows"])
    edit_snapshot(snapshot_copy, "realized_vol_jumps", shuffle)
    message = _calibrate_expecting_failure(snapshot_copy, tmp_path, "realized_vol_jumps", ["realized_vol_jumps"])
    assert "expect_column_values_to_be_increasing on 'minute'" in message


def test_gate__missing_column(snapshot_copy, tmp_path):
    def drop(payload):
        for row in payload["result"]["rows"]:
            del row["eth_price_usd"]
        meta = payload["result"]["metadata"]
        i = meta["column_names"].index("eth_price_usd")
        del meta["column_names"][i], meta["column_types"][i]
    edit_snapshot(snapshot_copy, "gas_regime", drop)
    message = _calibrate_expecting_failure(snapshot_copy, tmp_path, "gas_regime", ["gas_regime"])
    assert "expect_table_columns_to_match_set" in message and "eth_price_usd" in message


def test_gate__wrong_type_and_stale_result_both_listed(snapshot_copy, tmp_path):
    edit_snapshot(snapshot_copy, "pool_hourly_fees", lambda p: p["result"]["rows"][0].update(volume_usd="n/a"))
    edit_snapshot(snapshot_copy, "mev_toxicity", lambda p: p.update(execution_ended_at="2024-01-09T00:00:00.000Z"))
    message = _calibrate_expecting_failure(snapshot_copy, tmp_path, "pool_hourly_fees")
    assert "expect_column_values_to_be_of_type on 'volume_usd'" in message
    assert "mev_toxicity: expect_column_min_to_be_between on 'gate_age_s'" in message   # freshness
    assert message.count(";") >= 2                                                      # one entry per failure


def test_gate__fee_tier_and_tick_spacing_sanity(snapshot_copy, tmp_path):
    edit_snapshot(snapshot_copy, "pool_hourly_fees", lambda p: p["result"]["rows"][3].update(fee_tier=0.002, tick_spacing=7))
    message = _calibrate_expecting_failure(snapshot_copy, tmp_path, "fee_tier", ["pool_hourly_fees"])
    assert "tick_spacing" in message


def test_report_gate__regime_frequencies_must_sum_to_one(snapshot_report):
    report = {**snapshot_report, "constants": {**snapshot_report["constants"],
                                               "regime_mix": {"mean_revert": 0.5, "jumpy": 0.2, "trend_up": 0.2}}}
    with pytest.raises(GateError, match="gate_regime_mix_sum"):
        check_report(report)
    check_report(snapshot_report)


def test_report_gate__a_garch_fit_that_stopped_short_of_the_optimum_is_refused(snapshot_report):
    assert snapshot_report["fits"]["world"]["garch"]["converged"] is True
    world = {**snapshot_report["fits"]["world"], "garch": {**snapshot_report["fits"]["world"]["garch"], "converged": False}}
    with pytest.raises(GateError, match="gate_garch_converged"):
        check_report({**snapshot_report, "fits": {**snapshot_report["fits"], "world": world}})


def test_run__reports_a_failed_gate_on_stderr_with_exit_1(snapshot_copy, tmp_path, capsys):
    edit_snapshot(snapshot_copy, "gas_regime", lambda p: p["result"]["rows"][0].update(gas_price_gwei=None))
    code = run({"calibration": {"source": "snapshot", "snapshot_dir": str(snapshot_copy)}}, tmp_path / "out")
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("calibration failed: ") and "gas_price_gwei" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
