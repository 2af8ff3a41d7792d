"""Rails in shadow mode, each on the real day: gas emergency stop, hard cap per rolling hours, position size,
drawdown, and the manual override (control file and HTTP endpoint) with who set it."""

from __future__ import annotations

import json
import threading
import urllib.request
from datetime import datetime, timedelta

import pytest

from hbbatch.shadow.control import ControlError, parse_command
from tests.shadow.conftest import decisions, wait_for
from tests.shadow.helpers import config, run_in_process
from tests.shadow.test_resume import ACTIVE

# Without rails, ACTIVE acts at steps 94, 99, 104, 109, 114, ... after its opening band (test_resume's settings)


def _acts(records):
    return [r for r in records if r["action"] != "hold"]


def test_rails__gas_emergency_stop_refuses_the_action_over_the_cap(memory_dir):
    # gas $4.70 per action (the market's median on bars); a $10 cap per 60 minutes allows two actions
    finished = run_in_process(config(memory_dir / "s", {**ACTIVE, "agent.rails.gas_cap_usd_per_window": 10.0,
                                                      "agent.rails.gas_window_minutes": 60.0}, max_steps=120))
    records = decisions(finished.dir)
    acts = _acts(records)
    by_hour = {}
    for r in acts:
        by_hour.setdefault(r["time"][:13], []).append(r)
    assert all(sum(r["gas_usd"] for r in rs) <= 10.0 for rs in by_hour.values())
    stopped = [r for r in records if r["rails"]["emergency_stop"]]
    assert stopped, "the third action of an hour trips the stop"
    first = stopped[0]
    # held until the window (whole hours of steps from the start) ends
    assert all(r["rails"]["emergency_stop"] for r in records if first["step"] <= r["step"] <= 60)
    assert not any(r["action"] != "hold" for r in records if first["step"] <= r["step"] <= 60)


def test_rails__hard_cap_per_rolling_window_of_hours(memory_dir):
    finished = run_in_process(config(memory_dir / "s", ACTIVE, max_steps=240,
                                     rails={"max_actions": 3, "window_hours": 1.0, "control_port": None}))
    acts = _acts(decisions(finished.dir))
    times = [datetime.fromisoformat(r["time"]) for r in acts]
    assert len(acts) >= 3
    # at most max_actions - 1 rebalances in any hour: one action stays in reserve for a safety exit
    for t in times:
        assert sum(t - timedelta(hours=1) < u <= t for u in times) <= 2
    assert any(r["rails"]["hard_cap"] for r in decisions(finished.dir))


def test_rails__position_size_limit_caps_the_position(memory_dir):
    finished = run_in_process(config(memory_dir / "s", {**ACTIVE, "agent.rails.max_capital_usd": 20_000.0},
                                     max_steps=60))
    records = decisions(finished.dir)
    paper = finished.run.paper
    values = paper.values(finished.run.last_obs)
    assert values["position_usd"] <= 20_000.0 * 1.001
    assert records[-1]["equity_usd"] == pytest.approx(100_000.0, rel=0.01)     # the rest waits as USDC
    assert all(r["rails"]["position_size"] for r in records[:5])


def test_rails__drawdown_limit_exits_and_stands_down(memory_dir):
    finished = run_in_process(config(memory_dir / "s", {**ACTIVE, "agent.rails.max_drawdown": 0.0005},
                                     max_steps=200))
    records = decisions(finished.dir)
    exits = [r for r in records if r["action"] == "exit"]
    assert len(exits) == 1 and exits[0]["rule"] == "rail_drawdown"
    after = [r for r in records if r["step"] > exits[0]["step"]]
    assert after and all(r["action"] == "hold" and r["liquidity"] == "0" for r in after)
    assert all(r["rails"]["drawdown_exit"] for r in after)
    assert finished.run.paper.idle1 == 0                                  # all WETH sold


def test_rails__control_file_pause_resume_exit_logged_with_who(memory_dir):
    state = memory_dir / "s"
    run_in_process(config(state, ACTIVE, max_steps=25))
    (state / "control.json").write_text(json.dumps({"command": "pause", "by": "alice", "reason": "gas spike"}))
    run_in_process(config(state, ACTIVE, max_steps=80))
    paused = decisions(state)
    applied = [r for r in paused if r["control"]]
    assert [(r["step"], r["control"]["command"], r["control"]["by"], r["control"]["via"]) for r in applied] == \
        [(26, "pause", "alice", "file control.json")]
    assert not _acts(paused[25:]) and all(r["override"] == "pause" and r["rails"]["manual_pause"] for r in paused[25:])
    (state / "control.json").write_text(json.dumps({"command": "resume", "by": "bob"}))
    run_in_process(config(state, ACTIVE, max_steps=120))
    resumed = decisions(state)[80:]
    assert resumed[0]["control"]["command"] == "resume" and resumed[0]["override"] == "none"
    assert _acts(resumed)                                                 # acting again
    (state / "control.json").write_text(json.dumps({"command": "exit", "by": "carol", "reason": "go-live review"}))
    run_in_process(config(state, ACTIVE, max_steps=130))
    last = decisions(state)[120:]
    assert last[0]["action"] == "exit" and last[0]["rule"] == "manual_override" and last[0]["control"]["by"] == "carol"
    assert all(r["action"] == "hold" for r in last[1:]) and last[-1]["rails"]["manual_exit"]


def test_rails__http_override_on_localhost_applies_at_the_next_step(memory_dir):
    from hbbatch.shadow.task import ShadowRun

    cfg = config(memory_dir / "s", ACTIVE, max_steps=300, pace_s=0.01,
                 rails={"max_actions": None, "window_hours": None, "control_port": 0})
    run = ShadowRun(cfg)
    thread = threading.Thread(target=run.run, daemon=True)
    thread.start()
    wait_for(lambda: run.control_server is not None and len(decisions(memory_dir / "s")) >= 10, 60, what="10 steps")
    url = f"http://127.0.0.1:{run.control_server.port}/control"
    body = json.dumps({"command": "pause", "by": "dana", "reason": "manual check"}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=5) as reply:
        assert reply.status == 202
    bad = urllib.request.Request(url, data=b'{"command": "sell"}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(bad, timeout=5)
    assert info.value.code == 400
    wait_for(lambda: any(r["control"] for r in decisions(memory_dir / "s")), 30, what="the override")
    with urllib.request.urlopen(url, timeout=5) as reply:
        assert json.loads(reply.read())["mode"] == "pause"
    thread.join(120)
    records = decisions(memory_dir / "s")
    applied = [r for r in records if r["control"]]
    assert len(applied) == 1 and applied[0]["control"]["by"] == "dana"
    assert applied[0]["control"]["via"] == "http 127.0.0.1"
    assert not _acts([r for r in records if r["step"] >= applied[0]["step"]])


def test_rails__control_commands_are_checked():
    with pytest.raises(ControlError, match="use one of pause, resume, exit"):
        parse_command({"command": "buy"}, "file")
    assert parse_command({"command": "exit", "by": "x" * 500}, "file")["by"] == "x" * 80


@pytest.mark.parametrize("cap_usd, rebalances", [(60.0, 0), (100.0, 1)], ids=["default_cap", "cap_100"])
def test_rails__the_days_real_gas_stops_the_agent(memory_dir, cap_usd, rebalances):
    # 2024-01-05 averaged 22.82 gwei (Etherscan): with the 0.1 gwei tip a 790k-gas action costs ~$41, the
    # opening band's too, and the opening counts in the day's window (as in the simulator). The default cap of
    # $60 per day then allows no rebalance after it ($41 + $41 > $60); a $100 cap allows one ($82), not two
    settings = {**ACTIVE, "agent.rails.gas_cap_usd_per_window": cap_usd}
    finished = run_in_process(config(memory_dir / "s", settings, max_steps=120, gas_gwei=22.92))
    records = decisions(finished.dir)
    acts = _acts(records)
    assert len(acts) == rebalances
    assert all(a["gas_usd"] == pytest.approx(790_000 * 22.92e-9 * a["price_usd"], rel=0.002) for a in acts)
    assert records[0]["gas_usd_total"] == pytest.approx(41.1, abs=0.1)       # the opening, at the day's gas
    stops = [r for r in records if r["blocked_by"] == "emergency_stop"]
    assert stops and all(stops[0]["step"] > a["step"] for a in acts)
    assert all(r["rails"]["emergency_stop"] for r in records if r["step"] >= stops[0]["step"])
