"""task=replay replay.agent=true on the real 2024-01-05 bars: the agent warmed up on the bars' first
agent.warmup_minutes, the manifest saying so, bars no longer than the warm-up refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hbbatch.replay.bars import ReplayError
from hbbatch.replay.task import run
from hbbatch.shadow.bars import read_minute_bars, to_bars
from hbbatch.sim import make_params
from hbbatch.sim.replay import replay
from hbbatch.sim.types import ACTION_KINDS

ROOT = Path(__file__).resolve().parents[2]
WARMUP = 240
BUSY = {"market.gas_usd_median": 4.7, "agent.gas_usd": 1.0, "agent.fee_gate_usd": 0.0, "agent.rules.cooldown_minutes": 5,
        "agent.rails.max_actions": 1000, "agent.rails.max_actions_episodes": 1,
        **{f"{s}.{r}": 100 for s in ("agent.width", "floors") for r in ("mean_revert", "jumpy", "trend_up")}}


def _command(bars_path, out: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "hbbatch", "task=replay", "replay.agent=true", f"replay.bars={bars_path}",
            f"replay.output_dir={out}", f"hydra.run.dir={out.parent / (out.name + '_hydra')}", *overrides]


def test_agent__the_replay_decides_after_its_warm_up_and_records_it(bars_path, tmp_path):
    out = tmp_path / "warm"
    overrides = [f"{k}={v}" for k, v in BUSY.items()] + [f"agent.warmup_minutes={WARMUP}"]
    done = subprocess.run(_command(bars_path, out, *overrides), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    table = pd.read_parquet(out / "agent.parquet")
    raw = pd.read_csv(bars_path, dtype=str)                       # independent: the file's own rows
    assert summary["warmup_steps"] == WARMUP and summary["warmup_minutes"] == WARMUP
    assert summary["first_decision"] == pd.Timestamp(raw["timestamp"].iloc[WARMUP]).isoformat()
    assert summary["n_decisions"] == len(table) == len(raw) - WARMUP == 1200
    assert list(table["timestamp"]) == [str(pd.Timestamp(t)) for t in raw["timestamp"].iloc[WARMUP:]]
    assert f"the first {WARMUP} a warm-up" in done.stdout
    # the decisions are the library replay's with the same warm-up (tests/replay/test_warmup.py: the simulator's)
    frame = read_minute_bars(bars_path)
    bars, price_start = to_bars(frame, "float64", WARMUP)
    assert summary["open_price_usd"] == price_start == pytest.approx(1e12 / 1.0001 ** float(raw["closeTick"][WARMUP - 1]))
    s = summary["settings"]
    params = make_params(market={**s["market"], "price_start_usd": price_start}, agent=s["agent"], floors=s["floors"],
                         regime_mix=s["regime_mix"], dtype="float64", gating=s["gating"]["mode"])
    _, path = replay(bars, params, gating=s["gating"]["mode"], warmup_steps=WARMUP)
    assert list(table["action"]) == [ACTION_KINDS[int(a)] for a in np.asarray(path.action)]
    assert (table["action"] != "hold").sum() >= 5


def test_agent__bars_no_longer_than_the_warm_up_are_one_line_exit_2(bars_path, tmp_path):
    out = tmp_path / "short"
    done = subprocess.run(_command(bars_path, out), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2                                   # the default warm-up: a day, the file's 1,440 bars
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "error:" in line]
    assert len(lines) == 1, done.stdout + done.stderr
    assert "agent.warmup_minutes=1440" in lines[0] and "replay.bars=" in lines[0] and "holds 1440 bars" in lines[0]
    assert not out.exists()


def test_agent__a_fixed_band_and_the_agent_are_refused_together(bars_path, tmp_path):
    config = {"replay": {"bars": str(bars_path), "agent": True, "hold_band": [198950, 199150]},
              "agent": {"warmup_minutes": 60, "capital_usd": 100_000.0}}
    with pytest.raises(ReplayError, match="replay.hold_band and replay.agent=true"):
        run(config, output_dir=tmp_path / "both")
    assert not (tmp_path / "both").exists()
