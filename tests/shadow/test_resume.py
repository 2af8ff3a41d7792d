"""Crash safety: killed with SIGKILL at several moments and restarted with the same command, a shadow run
makes exactly the decisions of an uninterrupted run, each step logged once, the paper position intact."""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from hbbatch.shadow.journal import StateDirError, comparable
from tests.shadow.conftest import decisions, run_shadow_cli, start_shadow, stop, wait_for
from tests.shadow.helpers import config, run_in_process

STEPS = 120
# narrow floors without the gate: about eight actions in two hours of the real day
ACTIVE = {"gating.mode": "off", "floors.mean_revert": 40, "floors.jumpy": 40, "floors.trend_up": 40,
          "agent.width.mean_revert": 40, "agent.width.jumpy": 40, "agent.width.trend_up": 40,
          "agent.rules.cooldown_minutes": 5, "market.gas_usd_median": 4.7}   # cheap gas: the rails tests count actions
OVERRIDES = (f"shadow.max_steps={STEPS}", "shadow.pace_s=0.02", "monitoring.dashboard_every_steps=25",
             *(f"{k}={v}" for k, v in ACTIVE.items()))


def test_resume__kill_9_at_several_points_gives_the_uninterrupted_decisions(tmp_path):
    reference = tmp_path / "reference"
    done = run_shadow_cli(reference, *OVERRIDES, "shadow.pace_s=0")      # pacing changes no decision
    assert done.returncode == 0, done.stdout[-2000:]
    expected = [comparable(r) for r in decisions(reference)]
    assert [r["step"] for r in expected] == list(range(1, STEPS + 1))
    assert sum(r["action"] != "hold" for r in expected) >= 3          # decisions worth comparing

    state = tmp_path / "killed"
    kill_points = [lambda: (state / "run.json").exists(),             # before the first step
                   lambda: len(decisions(state)) >= 15,
                   lambda: len(decisions(state)) >= 55,
                   lambda: len(decisions(state)) >= 95]
    for point in kill_points:
        process = start_shadow(state, *OVERRIDES)
        wait_for(point, 120, every=0.01, what="the kill point")
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert len(decisions(state)) < STEPS
    finished = run_shadow_cli(state, *OVERRIDES)
    assert finished.returncode == 0, finished.stdout[-2000:]
    assert "resuming" in finished.stdout
    got = [comparable(r) for r in decisions(state)]
    assert got == expected                                            # nothing lost, nothing doubled, same decisions
    assert (state / "dashboard.html").exists()


def test_resume__a_torn_last_line_is_cut_and_the_step_recomputed(memory_dir):
    reference = run_in_process(config(memory_dir / "reference", ACTIVE, max_steps=40))
    state = memory_dir / "torn"
    run_in_process(config(state, ACTIVE, max_steps=33))
    with open(state / "decisions.jsonl", "ab") as handle:
        handle.write(b'{"step":34,"time":"2024-01-05T00:3')          # a kill inside the write
    run_in_process(config(state, ACTIVE, max_steps=40))
    assert [comparable(r) for r in decisions(state)] == [comparable(r) for r in decisions(reference.dir)]


def test_resume__a_step_logged_but_not_snapshotted_is_not_logged_twice(memory_dir):
    reference = run_in_process(config(memory_dir / "reference", ACTIVE, max_steps=120))
    acting = [r["step"] for r in decisions(reference.dir) if r["action"] != "hold" and r["step"] > 1]
    assert acting, "the busy agent acts within the first two hours"
    first = acting[0]                                                      # kill right after this action's line
    state = memory_dir / "ahead"
    run_in_process(config(state, ACTIVE, max_steps=first - 1))
    older = memory_dir / "state_before.snapshot"
    shutil.copy(state / "state.snapshot", older)
    run_in_process(config(state, ACTIVE, max_steps=first))
    shutil.copy(older, state / "state.snapshot")                           # killed between the log and the snapshot
    assert len(decisions(state)) == first and decisions(state)[-1]["action"] != "hold"
    run_in_process(config(state, ACTIVE, max_steps=120))
    assert [comparable(r) for r in decisions(state)] == [comparable(r) for r in decisions(reference.dir)]


def test_resume__a_state_dir_of_other_settings_is_refused_untouched(tmp_path):
    state = tmp_path / "state"
    assert run_shadow_cli(state, "shadow.max_steps=5").returncode == 0
    before = {p.name: p.read_bytes() for p in state.iterdir()}
    result = run_shadow_cli(state, "shadow.max_steps=10", "agent.fee_gate_usd=8.4")
    output = result.stdout + result.stderr
    assert result.returncode == 2
    lines = [line for line in output.splitlines() if "error:" in line]
    assert len(lines) == 1 and "written by other settings" in lines[0] and "shadow.state_dir" in lines[0]
    assert {p.name: p.read_bytes() for p in state.iterdir()} == before


def test_resume__an_edited_log_is_refused(memory_dir):
    state = memory_dir / "state"
    run_in_process(config(state, max_steps=10))
    lines = (state / "decisions.jsonl").read_text().splitlines()
    (state / "decisions.jsonl").write_text("\n".join(lines[:5]) + "\n")
    with pytest.raises(StateDirError, match="decisions but the snapshot is at step 10"):
        run_in_process(config(state, max_steps=12))


def test_resume__recomputed_steps_take_their_override_from_the_log(memory_dir):
    state = memory_dir / "state"
    run_in_process(config(state, ACTIVE, max_steps=25))
    snapshot_25 = memory_dir / "state_at_25.snapshot"
    shutil.copy(state / "state.snapshot", snapshot_25)
    (state / "control.json").write_text('{"command": "pause", "by": "alice"}')
    run_in_process(config(state, ACTIVE, max_steps=29))
    expected = [comparable(r) for r in decisions(state)]
    shutil.copy(snapshot_25, state / "state.snapshot")             # killed before the snapshots after step 25
    run_in_process(config(state, ACTIVE, max_steps=40))
    records = decisions(state)
    assert [comparable(r) for r in records[:29]] == expected
    assert [r["step"] for r in records if r["control"]] == [26]     # applied once, at the step it was
    assert all(r["override"] == "pause" for r in records[25:])
