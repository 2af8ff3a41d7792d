"""`task=plan` and `task=plan_sim` through `run` / `run_timeline` with configs built here, and once
through the command line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hbbatch.config.sim import MarketConf
from omegaconf import OmegaConf

from hbbatch.planner.cache import ResultCache
from hbbatch.planner.settings import PlannerConfigError
from hbbatch.planner.task import run, run_timeline

REPO = Path(__file__).resolve().parents[2]
NOW = 1_700_006_400 + 10 * 3600


def config(tmp_path, **planner):
    return OmegaConf.create({"planner": {"cache_dir": str(tmp_path / "cache"), "now_s": NOW, **planner},
                             "paths": {"output_dir": str(tmp_path / "outputs")}})


def test_run__cli_signals_plan_and_plan_json(tmp_path):
    out = io.StringIO()
    assert run(config(tmp_path, signals={"gas_regime": "high", "drawdown": 0.3}), output_dir=tmp_path, out=out) == 0
    data = json.loads((tmp_path / "plan.json").read_text())
    assert data["mode"] == "high_churn" and data["mode_reason"] == "auto: gas regime high"
    reasons = {c["query"]: c["reason"] for c in data["choices"]}
    assert reasons["liquidity_depth"] == reasons["mev_toxicity"] == "expensive cap"
    assert reasons["gas_regime"] == "P0 always"
    assert data["signal_sources"] == {"gas_regime": "command line", "drawdown": "command line"}
    text = out.getvalue()
    assert "mode high_churn" in text and "expensive cap" in text and "plan.json" in text


def test_run__forced_mode_and_bad_config(tmp_path):
    run(config(tmp_path, mode="normal", signals={"gas_regime": "high", "drawdown": 0.3}), output_dir=tmp_path,
        out=io.StringIO())
    reasons = {c["query"]: c["reason"] for c in json.loads((tmp_path / "plan.json").read_text())["choices"]}
    assert reasons["liquidity_depth"] == "risk signal: drawdown"
    with pytest.raises(PlannerConfigError, match="^planner.normal.max_priority is 'P9'"):
        run(config(tmp_path, normal={"max_priority": "P9"}), output_dir=tmp_path, out=io.StringIO())
    with pytest.raises(ValueError, match="^planner.signals.gas_regime is 'extreme'"):
        run(config(tmp_path, signals={"gas_regime": "extreme"}), output_dir=tmp_path, out=io.StringIO())


def test_run__signals_from_the_cache_and_the_latest_campaign(tmp_path):
    # the query cache: 5 gwei at $2,000 on the last day: 787,760 x 5e-9 x 2000 = $7.88 a recenter, at least
    # twice the latest calibration's median ($1.62): gas regime high
    cache = ResultCache(tmp_path / "cache")
    calibrated = tmp_path / "outputs" / "calibrate" / "2024-01-04_00-00-00"
    calibrated.mkdir(parents=True)
    (calibrated / "calibration_report.json").write_text(json.dumps({"constants": {"market": {"gas_usd_median": 1.62}}}))
    rows = [{"day": "2024-01-04", "gas_price_gwei": 1.0, "eth_price_usd": 2300.0},
            {"day": "2024-01-05", "gas_price_gwei": 5.0, "eth_price_usd": 2000.0}]
    cache.put("gas_regime", rows, NOW - 600, 10.0, ["gas_price", "eth_price"])
    # the latest campaign: 2 episodes of 10,080 one-minute steps (168 h)
    job = tmp_path / "outputs" / "default" / "2024-01-05_00-00-00"
    job.mkdir(parents=True)
    pd.DataFrame({"actions": [3, 5], "gas_usd": [12.0, 20.0], "realized_vol": [0.5, 1.7],
                  "max_drawdown": [0.02, 0.30]}).to_parquet(job / "episodes.parquet")
    (job / "manifest.json").write_text(json.dumps({"config": {"n_steps": 10080, "market": {"step_minutes": 1.0}}}))
    run(config(tmp_path), output_dir=tmp_path, out=io.StringIO())
    data = json.loads((tmp_path / "plan.json").read_text())
    assert data["signals"]["gas_usd"] == pytest.approx(787_760 * 5e-9 * 2000)
    assert data["signals"]["gas_regime"] == "high" and data["mode"] == "high_churn"
    assert data["signals"]["actions_per_hour"] == pytest.approx(4 / 168)
    # median vol / reference vol (MarketConf.volume_ref_vol_annual: the pool day's 0.515)
    assert data["signals"]["vol_ratio"] == pytest.approx(1.1 / MarketConf().volume_ref_vol_annual)
    assert data["signals"]["drawdown"] == pytest.approx(0.16)
    assert data["risk_signals"] == ["vol_spike", "drawdown"]
    assert data["signal_sources"]["gas_usd"] == "query cache (gas_regime)"
    assert data["signal_sources"]["drawdown"].startswith("campaign (")
    assert {c["query"]: c["reason"] for c in data["choices"]}["gas_regime"] == "fresh"


def test_run_timeline__modes_side_by_side(tmp_path):
    out = io.StringIO()
    cfg = config(tmp_path, timeline={"days": 2, "seed": 5})
    assert run_timeline(cfg, output_dir=tmp_path, out=out) == 0
    data = json.loads((tmp_path / "plan_sim.json").read_text())
    assert list(data["reports"]) == ["normal", "high_churn", "auto"]
    assert data["days"] == 2 and data["series"] == "synthetic (seed 5)"
    for report in data["reports"].values():
        assert len(report["credits_per_day"]) == 2 and max(report["credits_per_day"]) <= 1000
        assert report["runs"]["gas_regime"] == 2          # daily rows, a TTL of a day: once a day
    assert data["reports"]["high_churn"]["runs"]["liquidity_depth"] == 0
    assert "Runs: liquidity_depth" in out.getvalue()
    with pytest.raises(PlannerConfigError, match="^planner.timeline.modes: unknown mode 'calm'"):
        run_timeline(config(tmp_path, timeline={"modes": ["calm"]}), output_dir=tmp_path, out=io.StringIO())


def test_run_timeline__from_an_episodes_table(tmp_path):
    episodes = tmp_path / "episodes.parquet"
    pd.DataFrame({"episode": range(3), "actions": [1, 2, 30], "gas_usd": [5.0, 9.0, 150.0],
                  "realized_vol": [0.5, 0.6, 0.9], "max_drawdown": [0.01, 0.05, 0.2]}).to_parquet(episodes)
    cfg = config(tmp_path, timeline={"days": 2, "episodes_path": str(episodes), "hours_per_episode": 24.0})
    run_timeline(cfg, output_dir=tmp_path, out=io.StringIO())
    data = json.loads((tmp_path / "plan_sim.json").read_text())
    assert data["series"] == f"episodes {episodes}" and data["days"] == 2      # 3 days of episodes, cut to 2
    assert data["reports"]["auto"]["high_churn_share"] == 0.0                 # 1 and 2 actions a day: calm


@pytest.mark.parametrize("task, artifact", [("plan", "plan.json"), ("plan_sim", "plan_sim.json")])
def test_command_line(tmp_path, task, artifact):
    args = [sys.executable, "-m", "hbbatch", f"task={task}", f"paths.output_dir={tmp_path}",
            f"planner.cache_dir={tmp_path / 'cache'}", "planner=high_churn", "planner.timeline.days=1"]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    written = list(tmp_path.rglob(artifact))
    assert len(written) == 1
    if task == "plan":
        assert json.loads(written[0].read_text())["mode_reason"] == "forced: high_churn"
