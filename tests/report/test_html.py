"""report.html in a real browser (headless Chromium): the verdict first, no console error, nothing wider than a
1,280-px window; a full-page screenshot is kept (HBBATCH_TEST_ARTIFACTS, default outputs/test-artifacts/)."""

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from hbbatch.config import CONF_DIR
from hbbatch.report.multirun import collect_jobs, finish_run
from tests.report.browser import CHROMIUM, Browser
from tests.report.conftest import episodes_frame

ARTIFACTS = Path(os.environ.get("HBBATCH_TEST_ARTIFACTS", CONF_DIR.parent / "outputs" / "test-artifacts"))
pytestmark = pytest.mark.skipif(shutil.which("chromium") is None and not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (installed by .ci/run)")


@pytest.fixture(scope="module")
def browser():
    chrome = Browser()
    yield chrome
    chrome.stop()


def test_browser__sees_console_errors_and_horizontal_overflow(browser, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<!doctype html><html><body><h1>x</h1><div id='first' style='width:2000px'>wide</div>"
                    "<script>console.error('broken figure'); undefinedFunction();</script></body></html>")
    check = browser.check_page(page)
    assert any("broken figure" in e for e in check.console_errors)
    assert any("undefinedFunction" in e for e in check.console_errors)
    assert check.overflows and check.layout["scroll_width"] >= 2000 and check.layout["first_id"] == "first"


def _rule_values(variants, worlds):
    rows = []
    for world in worlds:
        for variant in variants:
            for rule in ("recenter_out_of_range", "edge", "vol_spike_widen", "calm_narrow", "trend_shift"):
                for regime in ("all", "mean_revert", "jumpy", "trend_up"):
                    for metric in ("net_pnl_usd", "pnl_vs_hodl_usd"):
                        rows.append({"world": world, "variant": variant, "rule": rule, "regime": regime,
                                     "metric": metric, "value_usd": 12.5, "low": -3.0, "high": 28.0, "n_pairs": 400})
    return pd.DataFrame(rows)


# The widen criterion gates by default; these runs report it as a warning (criteria.checks...severity=warn)
WIDEN_WARNS = {"checks": {"widen_share": {"severity": "warn"}}}


def _run(tmp_path, make_job, run_config, worlds=("historical", "regimes_calibrated", "stress_down_trend_high_gas")):
    run_dir = tmp_path / "run"
    num = 0
    validation = {"suite": "world_validation", "success": True,
                  "facts": [{"name": "kurtosis_of_minute_returns", "observed": 11.2, "low": 5.0, "high": 40.0,
                             "status": "pass"},
                            {"name": "volatility_clustering_acf_abs_returns_lag_60", "observed": 0.08, "low": 0.02,
                             "high": 0.4, "status": "warn"}]}
    confusion = {"mean_revert": {"mean_revert": 0.71, "jumpy": 0.12, "trend_up": 0.17},
                 "jumpy": {"mean_revert": 0.2, "jumpy": 0.7, "trend_up": 0.1},
                 "trend_up": {"mean_revert": 0.3, "jumpy": 0.05, "trend_up": 0.65}}
    for w, world in enumerate(worlds):
        for campaign, shift in (("A", 0.0), ("B", 40.0 - 20 * w), ("C", 60.0 - 35 * w)):
            job_dir = make_job(run_dir, num, f"{campaign}-{world}", [f"campaign={campaign}", f"world={world}"],
                               episodes_frame(shift_usd=shift, widens_per_action=0.15 if campaign != "B" else 0.5),
                               extra={"world": world, "campaign": campaign, "world_hash": {"world": world},
                                      "world_validation": validation, "classifier_confusion": confusion})
            num += 1
    _rule_values(["A", "B", "C"], worlds).to_parquet(run_dir / "rule_values.parquet")
    code = finish_run(run_dir, collect_jobs(run_dir), run_config(**WIDEN_WARNS))
    return run_dir, code


def test_report__reads_as_a_decision_and_fits_1280_px_in_chromium(browser, tmp_path, make_job, run_config):
    run_dir, code = _run(tmp_path, make_job, run_config)
    page = (run_dir / "report.html").read_text()
    for heading in ("Settings in each world", "Rule dashboard", "World validation", "Classifier quality", "Pairing"):
        assert f"<h2>{heading}</h2>" in page, heading
    assert "kurtosis_of_minute_returns" in page and "71.0 %" in page and "recenter_out_of_range" in page
    assert "USD/week" in page and "0.01</td>" not in page          # money per week, not raw fractions
    check = browser.check_page(run_dir / "report.html", screenshot=ARTIFACTS / "report_1280.png")
    assert check.console_errors == []
    assert not check.overflows, check.layout
    assert check.layout["first_id"] == "verdict"                   # the page opens with the verdict
    assert check.screenshot.stat().st_size > 10_000
    verdict = page.split("<section id='verdict'>")[1].split("</section>")[0]
    summary = json.loads((run_dir / "summary.json").read_text())["verdict"]
    assert summary["headline"].split(":")[0] in verdict
    assert "in 3 worlds" in summary["headline"] or "of 3 worlds" in summary["headline"]


def test_report__says_pass_only_when_nothing_missed_and_names_the_warnings(tmp_path, make_job, run_config):
    run_dir, code = _run(tmp_path, make_job, run_config, worlds=("historical",))
    verdict = (run_dir / "report.html").read_text().split("<section id='verdict'>")[1].split("</section>")[0]
    assert code == 0
    assert "PASS WITH WARNINGS" in verdict and "widen_share B" in verdict
    assert ">PASS<" not in verdict
