"""The metrics endpoint of a shadow run: the issue's metrics, on 127.0.0.1 only, consistent with the log."""

from __future__ import annotations

import threading
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from hbbatch.monitoring.metrics import ShadowMetrics
from hbbatch.shadow.task import ShadowRun
from tests.shadow.conftest import decisions, wait_for
from tests.shadow.helpers import config
from tests.shadow.test_resume import ACTIVE


def _samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics__served_on_localhost_while_running_and_match_the_decision_log(memory_dir):
    # edge is off by default (the controller waits for the price to leave): on here so both rules act
    edge_on = {"agent.rules.enabled": ["out_of_range", "edge", "vol_widen", "vol_narrow", "trend_shift"]}
    run = ShadowRun(config(memory_dir / "s", {**ACTIVE, **edge_on, "monitoring.port": 0}, max_steps=150, pace_s=0.01))
    thread = threading.Thread(target=run.run, daemon=True)
    thread.start()
    wait_for(lambda: run.metrics.port and len(decisions(memory_dir / "s")) >= 40, 60, what="40 steps")
    assert run.metrics._server.server_address[0] == "127.0.0.1"
    with urllib.request.urlopen(f"http://127.0.0.1:{run.metrics.port}/metrics", timeout=5) as reply:
        samples = _samples(reply.read().decode())
    thread.join(120)
    assert ("hbbatch_net_pnl_usd", ()) in samples and ("hbbatch_data_lag_seconds", ()) in samples
    assert ("hbbatch_rail_state", (("rail", "emergency_stop"),)) in samples
    # after the run: counters equal the log's totals
    final = _samples(run.metrics.text())
    records = decisions(memory_dir / "s")
    last = records[-1]
    assert final[("hbbatch_actions_total", ())] == last["actions"]
    assert final[("hbbatch_widens_total", ())] == last["widens"]
    assert final[("hbbatch_gas_spent_usd_total", ())] == __import__("pytest").approx(last["gas_usd_total"])
    assert final[("hbbatch_net_pnl_usd", ())] == last["net_pnl_usd"]
    for rule in ("edge", "out_of_range"):
        acted = sum(r["rule"] == rule for r in records)
        assert final[("hbbatch_rule_actions_total", (("rule", rule),))] == acted > 0
        fired = sum(r["asked_rule"] == rule and r["blocked_by"] not in ("rails", "emergency_stop") for r in records)
        assert final[("hbbatch_rule_fires_total", (("rule", rule),))] == fired >= acted


def test_metrics__a_resumed_run_starts_its_counters_at_the_runs_totals():
    metrics = ShadowMetrics(("edge",))
    metrics.restore({"gas_usd": 14.1, "actions": 3, "widens": 1, "rule_fires": {"edge": 5}})
    samples = _samples(metrics.text())
    assert samples[("hbbatch_actions_total", ())] == 3 and samples[("hbbatch_gas_spent_usd_total", ())] == 14.1
    assert samples[("hbbatch_rule_fires_total", (("rule", "edge"),))] == 5
