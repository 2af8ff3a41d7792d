"""Query planning: which Dune queries run each cycle, within a credit budget, and why.

`catalog` (query metadata), `schedule.plan` (the pure planning core), `decisions` (value of
information), `cache` (stored results and plan execution), `timeline` (the planner simulation),
`task` (the `task=plan` and `task=plan_sim` entries).
"""

from hbbatch.planner.cache import Fetched, ResultCache, Served, execute, runnable
from hbbatch.planner.plans import Plan, QueryChoice
from hbbatch.planner.schedule import plan
from hbbatch.planner.settings import PlannerConfigError, PlannerSettings, settings_from
from hbbatch.planner.signals import LiveSignals
from hbbatch.planner.state import CacheState, record

__all__ = ["CacheState", "Fetched", "LiveSignals", "Plan", "PlannerConfigError", "PlannerSettings", "QueryChoice",
           "ResultCache", "Served", "execute", "plan", "record", "runnable", "settings_from"]
