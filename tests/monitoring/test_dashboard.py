"""dashboard.html of a shadow run, rendered in headless Chromium: no console errors, no overflow, every
section filled from the run."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.report.browser import Browser
from tests.shadow.conftest import decisions
from tests.shadow.helpers import config, run_in_process
from tests.shadow.test_resume import ACTIVE


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.svgs, self.polylines = [], 0, 0

    def handle_starttag(self, tag, attrs):
        self.svgs += tag == "svg"
        self.polylines += tag == "polyline"

    def handle_data(self, data):
        self.text.append(data)


def test_dashboard__renders_in_chromium_with_the_runs_numbers(tmp_path):
    state = tmp_path / "s"
    run_in_process(config(state, {**ACTIVE, "monitoring.dashboard_every_steps": 50}, max_steps=150))
    (state / "control.json").write_text('{"command": "pause", "by": "erin", "reason": "review"}')
    run_in_process(config(state, {**ACTIVE, "monitoring.dashboard_every_steps": 50}, max_steps=200))
    page = state / "dashboard.html"
    html = page.read_text()
    parsed = _Text()
    parsed.feed(html)
    text = " ".join(parsed.text)
    last = decisions(state)[-1]
    assert f"step {last['step']}" in text
    assert f"${last['net_pnl_usd']:,.2f}" in text and f"${last['pnl_vs_hodl_usd']:,.2f}" in text
    assert "erin" in text and "review" in text
    for section in ("Net PnL and PnL vs HODL", "Gas spent", "Actions and widens per hour", "Rules", "Rails", "Alerts",
                    "Manual overrides"):
        assert section in text, section
    for rule in ("edge", "out_of_range", "vol_widen", "rail_drawdown", "manual_override"):
        assert rule in text
    assert parsed.svgs == 3 and parsed.polylines == 3
    assert "http://" not in html and "https://" not in html          # self-contained: nothing fetched
    browser = Browser()
    try:
        check = browser.check_page(page, width=1280, screenshot=tmp_path / "dashboard.png")
    finally:
        browser.stop()
    assert check.console_errors == []
    assert not check.overflows, check.layout
    assert check.screenshot.stat().st_size > 20_000
