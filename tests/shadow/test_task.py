"""task=shadow on the embedded bars from the command line; the bars source; malformed bars refused."""

from __future__ import annotations

import gzip
import math

import pandas as pd
import pytest

from hbbatch.shadow.bars import BarsError
from hbbatch.shadow.sources import EMBEDDED_BARS, BarsSource
from tests.shadow.conftest import decisions, run_shadow_cli

REQUIRED = ("step", "time", "price_usd", "action", "rule", "tick_lower", "tick_upper", "gas_usd", "net_pnl_usd",
            "calibration_hash")


def _raw() -> pd.DataFrame:
    with gzip.open(EMBEDDED_BARS, "rt") as handle:
        return pd.read_csv(handle, dtype=str)


def test_task__the_embedded_day_runs_offline_and_logs_every_step(tmp_path):
    state = tmp_path / "state"
    result = run_shadow_cli(state, "shadow.max_steps=40", "calibration=default", "monitoring.dashboard_every_steps=20")
    assert result.returncode == 0, result.stdout[-3000:]
    records = decisions(state)
    assert [r["step"] for r in records] == list(range(1, 41))
    assert all(k in records[0] for k in REQUIRED)
    raw = _raw()
    # the logged price is the bar's close (USD per ETH = 1e12 / 1.0001^closeTick)
    assert [r["price_usd"] for r in records] == pytest.approx([1e12 / 1.0001 ** float(t) for t in raw["closeTick"][:40]])
    assert records[0]["time"] == "2024-01-05T00:00:00+00:00"
    # calibration=default: the committed report's hash is recorded on every line and in run.json
    assert records[0]["calibration_hash"] not in ("", "none") and len({r["calibration_hash"] for r in records}) == 1
    assert {"decisions.jsonl", "state.snapshot", "run.json", "dashboard.html"} <= {p.name for p in state.iterdir()}


def test_task__bars_source_reads_the_day_as_the_simulators_replay_does():
    source = BarsSource(EMBEDDED_BARS)
    observations = [obs for obs, _ in source.observations(0)]
    raw = _raw()
    assert len(observations) == len(raw) == 1440
    first_open = 1e12 / 1.0001 ** float(raw["openTick"].iloc[0])
    last_close = 1e12 / 1.0001 ** float(raw["closeTick"].iloc[-1])
    assert source.price_start_usd == pytest.approx(first_open)
    assert sum(o.log_return for o in observations) == pytest.approx(math.log(last_close / first_open), abs=1e-12)
    # the day's volume (data README: about 247 M USDC-equivalent)
    assert sum(o.volume_usd for o in observations) == pytest.approx(247e6, rel=0.02)
    assert all(o.gap_steps == 0 for o in observations)


def test_task__missing_minutes_are_reported_as_gaps_not_filled(tmp_path):
    raw = _raw().drop(index=[10, 11, 12])
    path = tmp_path / "gappy.minute.csv"
    raw.to_csv(path, index=False)
    observations = [obs for obs, _ in BarsSource(path).observations(0)]
    assert len(observations) == 1437
    assert [o.gap_steps for o in observations[9:12]] == [0, 3, 0]


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.drop(columns=["inAmount0"]), "column(s) ['inAmount0'] missing"),
    (lambda f: f.assign(inAmount1=f["inAmount1"].where(f.index != 4, "12.5x")), "row 6, column inAmount1"),
    (lambda f: f.assign(closeTick=f["closeTick"].where(f.index != 2, "")), "row 4, column closeTick"),
    (lambda f: f.assign(timestamp=f["timestamp"].where(f.index != 7, f["timestamp"].iloc[3])), "timestamps must increase"),
    (lambda f: f.assign(currentLiquidity=f["currentLiquidity"].where(f.index != 0, "-5")), "row 2, column currentLiquidity"),
])
def test_task__malformed_bars_are_refused_with_the_row(tmp_path, edit, message):
    path = tmp_path / "bad.minute.csv"
    edit(_raw()).to_csv(path, index=False)
    with pytest.raises(BarsError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        BarsSource(path)


def test_task__malformed_bars_from_the_command_line_exit_2_and_write_nothing(tmp_path):
    path = tmp_path / "bad.minute.csv"
    _raw().drop(columns=["closeTick"]).to_csv(path, index=False)
    state = tmp_path / "state"
    result = run_shadow_cli(state, f"shadow.bars={path}")
    output = result.stdout + result.stderr
    assert result.returncode == 2
    lines = [line for line in output.splitlines() if "error:" in line]
    assert len(lines) == 1 and "closeTick" in lines[0] and str(path) in lines[0]
    assert not state.exists()
