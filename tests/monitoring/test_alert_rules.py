"""The shipped Prometheus files, checked by Prometheus' own tool: the rules parse, each alert fires on the
series it is for (alerts_test.yml), and the scrape config example is valid."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hbbatch.monitoring.alerts import rules

FOLDER = Path(__file__).resolve().parents[2] / "monitoring" / "prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def _promtool(*args: str) -> subprocess.CompletedProcess:
    if not Path(PROMTOOL).exists():
        pytest.fail("promtool not installed: apt-get install prometheus (CI installs it)")
    return subprocess.run([PROMTOOL, *args], cwd=FOLDER, capture_output=True, text=True, timeout=60)


def test_alert_rules__promtool_accepts_the_rules():
    result = _promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_alert_rules__each_alert_fires_on_its_series():
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules__the_scrape_config_example_is_valid():
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules__prometheus_and_in_process_alerts_are_the_same_set():
    shipped = {r["alert"] for g in yaml.safe_load((FOLDER / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    assert {r.name for r in rules()} == shipped - {"HbbatchShadowDown"}   # a process cannot alert on its own death
