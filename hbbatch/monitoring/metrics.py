"""Prometheus metrics of a shadow run (prometheus_client), served on 127.0.0.1 only.

Counters carry the run's totals: a resumed run starts them at the totals of its snapshot, so
`increase()` over a restart sees no loss. Rail states are 0/1 gauges, one per rail.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.exposition import generate_latest

RAILS = ("emergency_stop", "hard_cap", "position_size", "drawdown_exit", "manual_pause", "manual_exit")


class ShadowMetrics:
    def __init__(self, rules: tuple[str, ...], registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        g = lambda name, doc, labels=(): Gauge(name, doc, labels, registry=r)  # noqa: E731
        c = lambda name, doc, labels=(): Counter(name, doc, labels, registry=r)  # noqa: E731
        self.net_pnl = g("hbbatch_net_pnl_usd", "Paper net PnL: equity minus capital [USD]")
        self.pnl_vs_hodl = g("hbbatch_pnl_vs_hodl_usd", "Paper equity minus the value of the opening tokens [USD]")
        self.equity = g("hbbatch_equity_usd", "Paper equity [USD]")
        self.price = g("hbbatch_price_usd", "Pool price at the last observation [USD/ETH]")
        self.drawdown = g("hbbatch_drawdown", "Drawdown from peak equity [fraction]")
        self.drawdown_limit = g("hbbatch_drawdown_limit", "agent.rails.max_drawdown [fraction]")
        self.window_gas = g("hbbatch_window_gas_usd", "Gas spent in the current emergency-stop window [USD]")
        self.gas_cap = g("hbbatch_gas_cap_usd", "agent.rails.gas_cap_usd_per_window [USD]")
        self.widens_hour = g("hbbatch_widens_last_hour", "Widens in the last hour of observations")
        self.lag = g("hbbatch_data_lag_seconds", "Seconds since the source last delivered a new observation")
        self.step = g("hbbatch_step", "Steps completed")
        self.gas_total = c("hbbatch_gas_spent_usd", "Gas of paper actions [USD]")
        self.actions = c("hbbatch_actions", "Gas-paying paper actions")
        self.widens = c("hbbatch_widens", "Widening actions")
        self.fires = c("hbbatch_rule_fires", "Rule fires considered by the gate and rails", ("rule",))
        self.rule_actions = c("hbbatch_rule_actions", "Actions set by each rule or rail", ("rule",))
        self.rule_value = g("hbbatch_rule_value_usd", "Running PnL vs HODL of the positions each rule set [USD]",
                            ("rule",))
        self.rail = g("hbbatch_rail_state", "1 while a rail holds or has tripped", ("rail",))
        self.alerts = c("hbbatch_alerts", "In-process alerts fired", ("alert",))
        self.gaps = c("hbbatch_data_gaps", "Steps with no data (reported, never filled)")
        self.retries = c("hbbatch_rpc_retries", "JSON-RPC requests retried (rate limit, timeout, 5xx)")
        for rule in rules:
            self.fires.labels(rule)
            self.rule_actions.labels(rule)
            self.rule_value.labels(rule)
        for rail in RAILS:
            self.rail.labels(rail).set(0)
        self._server = None
        self.port: int | None = None

    def serve(self, port: int) -> int:
        """Serve /metrics on 127.0.0.1:port (0: a free port); returns the port."""
        self._server, _ = start_http_server(int(port), addr="127.0.0.1", registry=self.registry)
        self.port = int(self._server.server_port)
        return self.port

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def text(self) -> str:
        return generate_latest(self.registry).decode()

    def restore(self, totals: dict[str, Any]) -> None:
        """Start the counters at a resumed run's totals."""
        self.gas_total.inc(totals.get("gas_usd", 0.0))
        self.actions.inc(totals.get("actions", 0))
        self.widens.inc(totals.get("widens", 0))
        self.gaps.inc(totals.get("gap_steps", 0))
        for rule, n in totals.get("rule_fires", {}).items():
            self.fires.labels(rule).inc(n)
        for rule, n in totals.get("rule_actions", {}).items():
            self.rule_actions.labels(rule).inc(n)
        for name, n in totals.get("alerts", {}).items():
            self.alerts.labels(name).inc(n)
