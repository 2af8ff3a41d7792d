"""The world from the command line: a bad history file stops the run with exit 2 and writes no results."""

import json

import numpy as np
import pandas as pd

from tests.test_cli import single_run


def test_world_cli__a_history_file_with_a_gap_is_stopped_before_anything_is_simulated(tmp_path):
    bars = pd.DataFrame({"date": pd.date_range("2024-03-01", periods=200, freq="1h", tz="UTC").astype(str),
                         "open": 2000.0, "high": 2001.0, "low": 1999.0, "close": 2000.5, "volume": 1.0})
    bad = tmp_path / "bars.csv"
    bars.drop(index=[50, 51]).to_csv(bad, index=False)
    out = tmp_path / "run"
    code = single_run(out, "world=replay", f"world.history={bad}", "market.step_minutes=60",
                      "agent.rules.rebalance_after_minutes=60")
    assert code == 2
    assert not (out / "episodes.parquet").exists() and not (out / "manifest.json").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "error" and str(bad) in summary["message"]
    assert "gaps" in summary["message"] and "row(s): 51;" in summary["message"]   # the bar after the gap


def test_world_cli__the_manifest_records_the_world_beside_results(tmp_path):
    assert single_run(tmp_path, "world=stress_fee_switch", "world.validate=false") == 0
    world = json.loads((tmp_path / "manifest.json").read_text())["world"]
    assert world["name"] == "stress_fee_switch" and world["lp_fee_share"] == 0.75
    assert len(world["history_sha256"]) == 64 and world["block_hours"] == 720.0 and world["bar_minutes"] == 60.0
    episodes = pd.read_parquet(tmp_path / "episodes.parquet")
    assert np.isfinite(episodes["net_pnl_usd"]).all()
