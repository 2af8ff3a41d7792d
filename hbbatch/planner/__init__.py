"""Query planning: which Dune queries run each cycle, within a credit budget, and why.

`catalog` (query metadata), `schedule.plan` (the pure planning core), `decisions` (value of
information), `cache` (stored results and plan execution), `timeline` (the planner simulation),
`task` (the `task=plan` and `task=plan_sim` entries). The names below load on first use, so that
reading the catalog does not import the planner.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "plan": "schedule", "Plan": "plans", "QueryChoice": "plans", "runnable": "cache", "execute": "cache",
    "Fetched": "cache", "ResultCache": "cache", "Served": "cache", "PlannerConfigError": "settings",
    "PlannerSettings": "settings", "settings_from": "settings", "LiveSignals": "signals", "CacheState": "state",
    "record": "state", "SignalSeries": "timeline", "series_from_episodes": "timeline",
    "simulate_timeline": "timeline", "synthetic_series": "timeline",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hbbatch.planner' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hbbatch.planner.{_EXPORTS[name]}"), name)
