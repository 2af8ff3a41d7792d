"""The shadow agent's warm-up: it observes `agent.warmup_minutes` of the 2024-01-05 bars before it may act,
exactly as the replay (and so the simulator, tests/replay/test_warmup.py) warms up on the same bars; a
restart during the warm-up resumes it; the metrics and the status say it is warming up; bars no longer than
the warm-up are refused in one line."""

from __future__ import annotations

import shutil
import subprocess

import jax
import numpy as np

from hbbatch.shadow.bars import read_minute_bars, to_bars
from hbbatch.shadow.journal import Journal, comparable
from hbbatch.shadow.sources import EMBEDDED_BARS
from hbbatch.sim import make_params, precision
from hbbatch.sim.replay import opening_state
from tests.shadow.conftest import OPEN_BLOCK, decisions, run_shadow_cli, start_shadow, stop, wait_for
from tests.shadow.helpers import config, run_in_process
from tests.shadow.test_parity import UNCAPPED

WARMUP = 120
WARM = {**UNCAPPED, "agent.warmup_minutes": WARMUP}


def _meta(state_dir) -> dict:
    return Journal(state_dir).load()[1]


def test_warmup__no_band_no_order_until_the_warm_up_ends_then_the_replays_memory(memory_dir):
    partway = run_in_process(config(memory_dir / "partway", WARM, max_steps=WARMUP - 20))
    assert decisions(partway.dir) == []                                  # no decision, no order, no band
    assert partway.summary["phase"] == "warming_up" and partway.summary["warmup_observed"] == WARMUP - 20
    text = partway.run.metrics.text()
    assert "hbbatch_warming_up 1.0" in text and "hbbatch_warmup_steps_remaining 20.0" in text
    assert _meta(partway.dir)["phase"] == "warming_up"
    page = (partway.dir / "dashboard.html").read_text()
    assert f"warming up: {WARMUP - 20} of {WARMUP} steps observed; no band, no orders" in page

    opened = run_in_process(config(memory_dir / "done", WARM, max_steps=WARMUP))   # stops at the opening
    assert decisions(opened.dir) == [] and opened.summary["phase"] == "deciding"
    # the memory it opened with is the replay's warm-up over the same bars, bit for bit
    frame = read_minute_bars(EMBEDDED_BARS)
    bars, price_start = to_bars(frame, "float64", WARMUP)
    assert opened.run.stepper.price_start_usd == price_start           # the warm-up's last close
    cfg = opened.run.config
    params = make_params(market={**cfg["market"], "price_start_usd": price_start}, agent=cfg["agent"],
                         floors=cfg["floors"], regime_mix=cfg["regime_mix"], dtype="float64", gating="off")
    with precision.scope():
        replayed = jax.jit(opening_state)(params, bars.pool_liquidity[WARMUP], bars.log_return[:WARMUP],
                                          bars.volume_usd[:WARMUP])
    saved = Journal(opened.dir).load()[0]
    for name in replayed.memory._fields:
        assert saved[f".memory.{name}"] == np.asarray(getattr(replayed.memory, name)), name
    assert saved[".position.tick_lower"] == np.asarray(replayed.position.tick_lower)

    done = run_in_process(config(memory_dir / "done", WARM, max_steps=WARMUP + 30))   # resumed after the opening
    records = decisions(done.dir)
    assert [r["step"] for r in records] == list(range(1, 31))
    assert done.summary["phase"] == "deciding" and done.summary["warmup_observed"] == WARMUP
    text = done.run.metrics.text()
    assert "hbbatch_warming_up 0.0" in text and "hbbatch_warmup_steps_remaining 0.0" in text
    assert f"deciding after a warm-up of {WARMUP} steps" in (done.dir / "dashboard.html").read_text()
    # the first decision is on the bar after the warm-up
    assert records[0]["time"] == "2024-01-05T02:00:00+00:00" == frame["timestamp"].iloc[WARMUP].isoformat() + "+00:00"
    assert done.run.info["warmup_steps"] == WARMUP


def test_warmup__a_restart_during_the_warm_up_resumes_it(memory_dir):
    reference = run_in_process(config(memory_dir / "reference", WARM, max_steps=WARMUP + 60))
    expected = [comparable(r) for r in decisions(reference.dir)]
    assert sum(r["action"] != "hold" for r in expected) >= 1

    state = memory_dir / "restarted"
    run_in_process(config(state, WARM, max_steps=50))                     # stopped at 50 of 120
    snapshot_50 = memory_dir / "at_50.snapshot"
    shutil.copy(state / "state.snapshot", snapshot_50)
    run_in_process(config(state, WARM, max_steps=77))
    shutil.copy(snapshot_50, state / "state.snapshot")                    # killed before the snapshots after 50
    assert _meta(state)["warmup_observed"] == 50
    resumed = run_in_process(config(state, WARM, max_steps=WARMUP + 60))
    assert resumed.summary["warmup_observed"] == WARMUP                   # the 70 after the snapshot, once each
    assert [comparable(r) for r in decisions(state)] == expected         # neither cold again nor skipped


def test_warmup__bars_no_longer_than_the_warm_up_are_one_line_exit_2(tmp_path):
    state = tmp_path / "state"
    result = run_shadow_cli(state, "agent.warmup_minutes=1440")          # the embedded day: 1,440 bars
    assert result.returncode == 2
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "error:" in line]
    assert len(lines) == 1, result.stdout + result.stderr
    assert "agent.warmup_minutes=1440" in lines[0] and "shadow.bars=" in lines[0] and "holds 1440 bars" in lines[0]
    assert not state.exists()                                             # nothing written


def test_warmup__a_live_source_warms_up_on_what_it_reads_and_resumes_mid_warm_up(standin_factory, memory_dir):
    standin = standin_factory("--bps", "400")
    live = {"source": "rpc", "rpc_url": standin.url, "start_block": OPEN_BLOCK, "poll_s": 0.1, "backoff_s": 0.02,
            "timeout_s": 2.0}
    settings = {**UNCAPPED, "agent.warmup_minutes": 10}
    reference = run_in_process(config(memory_dir / "reference", settings, max_steps=15, **live))
    expected = [comparable(r) for r in decisions(reference.dir)]
    assert [r["time"][11:16] for r in expected] == [f"00:{m:02d}" for m in range(10, 15)]   # after 10 minutes

    state = memory_dir / "restarted"
    stopped = run_in_process(config(state, settings, max_steps=6, **live))
    assert stopped.summary["phase"] == "warming_up" and decisions(state) == []
    resumed = run_in_process(config(state, settings, max_steps=15, **live))
    assert resumed.summary["warmup_observed"] == 10
    assert [comparable(r) for r in decisions(state)] == expected


def test_warmup__prometheus_and_the_control_status_see_the_warm_up_then_its_end(tmp_path):
    from tests.monitoring.test_prometheus import PROMETHEUS, _get, _query, free_port

    metrics_port, web_port, control_port = free_port(), free_port(), free_port()
    state = tmp_path / "state"
    shadow = start_shadow(state, f"monitoring.port={metrics_port}", f"shadow.rails.control_port={control_port}",
                          "shadow.pace_s=0.1", f"shadow.max_steps={WARMUP + 40}", f"agent.warmup_minutes={WARMUP}",
                          *(f"{k}={v}" for k, v in UNCAPPED.items()))
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: hbbatch_shadow
    static_configs:
      - targets: ["127.0.0.1:{metrics_port}"]
""")
    prometheus = subprocess.Popen([PROMETHEUS, f"--config.file={config_file}",
                                   f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{web_port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{web_port}"
    try:
        seen = wait_for(lambda: _query(base, "hbbatch_warming_up == 1 and hbbatch_warmup_steps_remaining > 0"),
                        90, every=0.25, what="Prometheus seeing the warm-up")
        assert seen and decisions(state) == []
        status = _get(f"http://127.0.0.1:{control_port}/control")
        assert status["phase"] == "warming_up" and status["warmup_steps"] == WARMUP
        assert 0 < status["warmup_observed"] < WARMUP
        wait_for(lambda: _query(base, "hbbatch_warming_up == 0"), 90, every=0.25, what="the warm-up's end")
        remaining = _query(base, "hbbatch_warmup_steps_remaining")
        assert float(remaining[0]["value"][1]) == 0.0
        assert _get(f"http://127.0.0.1:{control_port}/control")["phase"] == "deciding"
    finally:
        stop(prometheus)
        stop(shadow)


def test_warmup__minutes_missing_in_the_warm_up_are_counted_as_gaps_and_survive_a_restart(memory_dir):
    import gzip

    lines = gzip.open(EMBEDDED_BARS, "rt").read().splitlines()
    bars = memory_dir / "gappy.minute.csv"
    bars.write_text("\n".join(lines[:4] + lines[7:200]) + "\n")    # 00:03, 00:04 and 00:05 missing
    settings = {**UNCAPPED, "agent.warmup_minutes": 10}
    gaps = lambda finished: finished.run.metrics.registry.get_sample_value("hbbatch_data_gaps_total")  # noqa: E731
    stopped = run_in_process(config(memory_dir / "s", settings, max_steps=6, bars=str(bars)))
    assert stopped.summary["phase"] == "warming_up" and gaps(stopped) == 3
    resumed = run_in_process(config(memory_dir / "s", settings, max_steps=20, bars=str(bars)))   # warm-up ends
    assert resumed.summary["phase"] == "deciding" and gaps(resumed) == 3
    assert _meta(memory_dir / "s")["totals"]["gap_steps"] == 3
    again = run_in_process(config(memory_dir / "s", settings, max_steps=22, bars=str(bars)))     # resumed deciding
    assert gaps(again) == 3
