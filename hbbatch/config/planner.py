"""Schema of the `planner` config group (owned by the planner package)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PlannerConf:
    mode: str = "auto"            # auto (from live signals) | normal | high_churn
