"""In-process alerts of a shadow run: the rules of monitoring/prometheus/alerts.yml, evaluated per step.

An alert fires when its condition becomes true (not again while it stays true): one WARNING log line,
a count in `hbbatch_alerts_total{alert=...}`, and, with `monitoring.webhook_url`, one JSON POST
(failures are logged and never stop the run; the URL's path and query never reach the log).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

from hbbatch.monitoring.redact import redact_url

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class AlertRule:
    name: str
    severity: str
    condition: Callable[[dict[str, float], Any], bool]
    summary: Callable[[dict[str, float], Any], str]


def rules() -> tuple[AlertRule, ...]:
    """Named like the Prometheus rules; `s` holds the step's values, `t` the thresholds (AlertsConf)."""
    return (
        AlertRule("HbbatchGasSpendHigh", "warning",
                  lambda s, t: s["gas_cap_usd"] > 0 and s["window_gas_usd"] > t.gas_share_of_cap * s["gas_cap_usd"],
                  lambda s, t: f"gas spent in the rail window ${s['window_gas_usd']:.2f} is over "
                               f"{t.gas_share_of_cap:.0%} of its cap ${s['gas_cap_usd']:.2f}"),
        AlertRule("HbbatchDrawdownNearLimit", "warning",
                  lambda s, t: s["drawdown"] > t.drawdown_share_of_limit * s["drawdown_limit"],
                  lambda s, t: f"drawdown {s['drawdown']:.2%} is over {t.drawdown_share_of_limit:.0%} of the "
                               f"limit {s['drawdown_limit']:.2%}"),
        AlertRule("HbbatchWidenSpike", "warning",
                  lambda s, t: s["widens_last_hour"] > t.widens_per_hour,
                  lambda s, t: f"{s['widens_last_hour']:.0f} widens in the last hour (threshold {t.widens_per_hour:g})"),
        AlertRule("HbbatchStaleData", "critical",
                  lambda s, t: s["data_lag_seconds"] > t.stale_data_s,
                  lambda s, t: f"no new observation for {s['data_lag_seconds']:.0f} s (threshold {t.stale_data_s:g} s)"),
        AlertRule("HbbatchEmergencyStop", "critical",
                  lambda s, t: s["emergency_stop"] > 0,
                  lambda s, t: "gas emergency stop: actions held until the rail window ends"),
    )


class Alerts:
    def __init__(self, thresholds: Any, webhook_url: str | None = None, on_fire: Callable[[str], None] | None = None,
                 active: list[str] | None = None):
        self.thresholds, self.webhook_url, self.on_fire = thresholds, webhook_url, on_fire
        self.rules = rules()
        self.active: set[str] = set(active or [])
        self.fired: list[dict[str, Any]] = []

    def evaluate(self, values: dict[str, float], context: dict[str, Any], notify: bool = True) -> list[dict[str, Any]]:
        """Fire the alerts whose condition just became true; returns them. `notify=False` only tracks
        which are on (steps recomputed on resume fired theirs before the restart)."""
        fired = []
        for rule in self.rules:
            on = bool(rule.condition(values, self.thresholds))
            if on and rule.name not in self.active and notify:
                alert = {"alert": rule.name, "severity": rule.severity, "summary": rule.summary(values, self.thresholds),
                         **context}
                log.warning("ALERT %s [%s] %s (step %s)", rule.name, rule.severity, alert["summary"],
                            context.get("step"))
                if self.on_fire:
                    self.on_fire(rule.name)
                self._post(alert)
                fired.append(alert)
            if on:
                self.active.add(rule.name)
            else:
                self.active.discard(rule.name)
        self.fired.extend(fired)
        return fired

    def _post(self, alert: dict[str, Any]) -> None:
        if not self.webhook_url:
            return
        request = urllib.request.Request(self.webhook_url, data=json.dumps(alert).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            log.error("alert webhook %s failed: %s", redact_url(self.webhook_url), reason)
