"""A real Prometheus (Debian's `prometheus`) scrapes a running shadow process over 127.0.0.1 and finds its
metrics through Prometheus' HTTP API; the shipped alert rules load into it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.shadow.conftest import REPO, decisions, start_shadow, stop, wait_for
from tests.shadow.test_resume import ACTIVE

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
REQUIRED = ("hbbatch_net_pnl_usd", "hbbatch_pnl_vs_hodl_usd", "hbbatch_gas_spent_usd_total", "hbbatch_actions_total",
            "hbbatch_widens_total", "hbbatch_rule_fires_total", "hbbatch_rail_state", "hbbatch_data_lag_seconds")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.loads(reply.read())


def _query(base: str, expr: str, at: float | None = None) -> list:
    args = {"query": expr} if at is None else {"query": expr, "time": at}
    try:
        return _get(f"{base}/api/v1/query?" + urllib.parse.urlencode(args))["data"]["result"]
    except OSError:
        return []


def test_prometheus__scrapes_a_running_shadow_process(tmp_path):
    if not Path(PROMETHEUS).exists():
        pytest.fail("prometheus not installed: apt-get install prometheus (CI installs it)")
    metrics_port, web_port = free_port(), free_port()
    state = tmp_path / "state"
    shadow = start_shadow(state, f"monitoring.port={metrics_port}", "shadow.pace_s=0.05", "shadow.max_steps=1000",
                          *(f"{k}={v}" for k, v in ACTIVE.items()))
    rules = tmp_path / "alerts.yml"
    shutil.copy(REPO / "monitoring" / "prometheus" / "alerts.yml", rules)
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: hbbatch_shadow
    static_configs:
      - targets: ["127.0.0.1:{metrics_port}"]
""")
    prometheus = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{web_port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{web_port}"
    try:
        wait_for(lambda: _query(base, 'up{job="hbbatch_shadow"} == 1'), 90, every=0.5, what="a successful scrape")
        wait_for(lambda: _query(base, "hbbatch_actions_total > 0"), 90, every=0.5, what="an action seen by Prometheus")
        # the opening band is an action at step 0: wait for a decided step too (on a slow machine a scrape can
        # fall between the opening and step 1)
        wait_for(lambda: _query(base, "hbbatch_step > 0"), 90, every=0.5, what="a decided step seen by Prometheus")
        names = set(_get(f"{base}/api/v1/label/__name__/values")["data"])
        assert set(REQUIRED) <= names, set(REQUIRED) - names
        rails = {r["metric"]["rail"] for r in _query(base, "hbbatch_rail_state")}
        assert {"emergency_stop", "hard_cap", "position_size", "drawdown_exit", "manual_pause"} <= rails
        fires = {r["metric"]["rule"] for r in _query(base, "hbbatch_rule_fires_total")}
        assert {"edge", "out_of_range", "vol_widen"} <= fires
        # what Prometheus holds is what the decision log says at about the same step
        # both read at one evaluation time, so from the same scrape (a scrape's samples share its timestamp)
        at = float(_query(base, "hbbatch_step")[0]["value"][0])
        step = float(_query(base, "hbbatch_step", at)[0]["value"][1])
        actions = float(_query(base, "hbbatch_actions_total", at)[0]["value"][1])
        logged = decisions(state)
        assert 0 < step <= len(logged)
        assert actions == logged[int(step) - 1]["actions"]
        groups = _get(f"{base}/api/v1/rules")["data"]["groups"]
        loaded = {r["name"]: r["health"] for g in groups for r in g["rules"]}
        assert len(loaded) == 6 and set(loaded.values()) == {"ok"}
    finally:
        stop(prometheus)
        stop(shadow)
