"""Titles with units for everything the reports show: the simulator's metric registry, plus campaign-level
ratios and the paired-comparison columns."""

from __future__ import annotations

from hbbatch.sim.metrics import METRICS, Metric

REPORT_METRICS: dict[str, Metric] = {
    **METRICS,
    "widen_share": Metric("Widen share", "fraction of actions"),
    "gas_per_episode_usd": Metric("Gas per episode", "USD"),
    "actions_per_episode": Metric("Actions per episode", "count"),
    "widens_per_episode": Metric("Widens per episode", "count"),
}


def title(metric: str) -> str:
    """'Net PnL [USD]' for 'net_pnl_usd'; the key itself for an unknown metric."""
    entry = REPORT_METRICS.get(metric)
    return f"{entry.title} [{entry.unit}]" if entry else metric
