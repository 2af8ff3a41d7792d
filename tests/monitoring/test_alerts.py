"""In-process alerts: one log line each when a condition starts, counted, and POSTed to a webhook
(tested against a local stand-in); a failing webhook never stops the run and never logs the URL's secret."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from hbbatch.config.shadow import AlertsConf
from hbbatch.monitoring.alerts import Alerts

CALM = {"window_gas_usd": 5.0, "gas_cap_usd": 60.0, "drawdown": 0.01, "drawdown_limit": 0.25,
        "widens_last_hour": 0.0, "data_lag_seconds": 1.0, "emergency_stop": 0}


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_alerts__fire_once_when_a_condition_starts_and_post_to_the_webhook(webhook, caplog):
    url, received = webhook
    counted = []
    alerts = Alerts(SimpleNamespace(**vars(AlertsConf())), f"{url}/hooks/TOKEN123", on_fire=counted.append)
    with caplog.at_level(logging.WARNING):
        assert alerts.evaluate(CALM, {"step": 1}) == []
        hot = {**CALM, "window_gas_usd": 55.0, "drawdown": 0.21}
        fired = alerts.evaluate(hot, {"step": 2})
        assert {a["alert"] for a in fired} == {"HbbatchGasSpendHigh", "HbbatchDrawdownNearLimit"}
        assert alerts.evaluate(hot, {"step": 3}) == []                 # still on: no repeat
        alerts.evaluate(CALM, {"step": 4})
        again = alerts.evaluate({**CALM, "window_gas_usd": 59.0}, {"step": 5})
    assert [a["alert"] for a in again] == ["HbbatchGasSpendHigh"]
    assert counted == ["HbbatchGasSpendHigh", "HbbatchDrawdownNearLimit", "HbbatchGasSpendHigh"]
    assert [body["alert"] for _, body in received] == counted
    assert received[0][0] == "/hooks/TOKEN123" and received[0][1]["step"] == 2
    assert "$55.00" in received[0][1]["summary"] and received[0][1]["severity"] == "warning"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT")]
    assert len(lines) == 3


def test_alerts__stale_data_widen_spike_and_emergency_stop(webhook):
    url, received = webhook
    alerts = Alerts(SimpleNamespace(**vars(AlertsConf())), url)
    fired = alerts.evaluate({**CALM, "data_lag_seconds": 301.0, "widens_last_hour": 4, "emergency_stop": 1}, {"step": 9})
    assert {a["alert"] for a in fired} == {"HbbatchStaleData", "HbbatchWidenSpike", "HbbatchEmergencyStop"}
    assert {a["severity"] for a in fired if a["alert"] != "HbbatchWidenSpike"} == {"critical"}


def test_alerts__a_dead_webhook_is_logged_without_its_secret(caplog):
    alerts = Alerts(SimpleNamespace(**vars(AlertsConf())), "http://127.0.0.1:9/hooks/SECRET-TOKEN?key=SECRET-TOKEN")
    with caplog.at_level(logging.WARNING):
        fired = alerts.evaluate({**CALM, "emergency_stop": 1}, {"step": 1})
    assert [a["alert"] for a in fired] == ["HbbatchEmergencyStop"]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "alert webhook http://127.0.0.1:9/… failed" in text and "SECRET-TOKEN" not in text
