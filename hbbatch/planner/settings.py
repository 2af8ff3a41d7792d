"""The planner's settings: the `planner` config group, checked against the query catalog.

`settings_from(conf, catalog)` accepts a `PlannerConf`, an OmegaConf node or a plain mapping, and
raises `PlannerConfigError` with one line naming the field and the fix for anything the planner
cannot honour: an unknown mode or priority, a negative TTL or count, a decision name it does not
know, an expensive P0 query, or a daily budget below what the P0 queries alone need.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from hbbatch.config.planner import PlannerConf
from hbbatch.planner.catalog import PRIORITIES, QuerySpec
from hbbatch.planner.decisions import DECISIONS
from hbbatch.planner.signals import MODES
from hbbatch.planner.state import DAY_S


class PlannerConfigError(ValueError):
    """A planner setting cannot be honoured; the message names the field and the fix."""


@dataclass(frozen=True)
class ModeLimits:
    max_priority: str
    max_expensive: int


@dataclass(frozen=True)
class PlannerSettings:
    mode: str
    limits: Mapping[str, ModeLimits]                 # normal, high_churn
    risk_max_priority: str
    vol_spike_ratio: float
    drawdown: float
    toxicity: float
    churn_actions_per_hour: float
    high_gas_ratio: float
    low_gas_ratio: float
    gas_usd_median: float | None
    budget_credits_per_day: float
    cycle_s: int
    refresh_s: Mapping[str, int]
    ttl_overrides_s: Mapping[str, int]
    k_sigma: float
    min_history: int
    feeds: Mapping[str, tuple[str, ...]]

    def ttl_s(self, spec: QuerySpec) -> int:
        """How long a stored result of `spec` stays fresh: its TTL, at least its priority's refresh period."""
        return max(self.ttl_overrides_s.get(spec.name, spec.ttl_s), self.refresh_s.get(spec.priority, 0))

    def period_s(self, spec: QuerySpec) -> int:
        """Seconds between runs of an always-due query on the cycle grid."""
        return max(1, math.ceil(self.ttl_s(spec) / self.cycle_s)) * self.cycle_s


def p0_credits_per_day(catalog: Mapping[str, QuerySpec], settings: PlannerSettings) -> float:
    """Most credits the P0 queries can need in one day: each runs at most ceil(day / period) times."""
    return sum(spec.cost_credits * math.ceil(DAY_S / settings.period_s(spec))
               for spec in catalog.values() if spec.priority == "P0")


@functools.lru_cache(maxsize=1)
def _schema() -> DictConfig:
    schema = OmegaConf.structured(PlannerConf)
    OmegaConf.set_readonly(schema, True)
    return schema


def _merged(conf: Any) -> dict[str, Any]:
    """`conf` over the schema's defaults, as plain containers (unknown keys and bad types fail here)."""
    try:
        if conf is None:
            merged = _schema()
        else:
            if not isinstance(conf, (DictConfig, PlannerConf)):
                conf = OmegaConf.create(dict(conf))
            merged = OmegaConf.merge(_schema(), conf)
        return OmegaConf.to_container(merged, resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise PlannerConfigError(f"planner.{key}: {str(exc).splitlines()[0]}; see hbbatch/config/planner.py "
                                 f"for the fields and their types") from None


def _priority(value: Any, field: str) -> str:
    if value not in PRIORITIES:
        raise PlannerConfigError(f"{field} is {value!r}: unknown priority; use one of {', '.join(PRIORITIES)}")
    return str(value)


def _non_negative(value: Any, field: str, whole: bool = False) -> Any:
    ok = isinstance(value, int) if whole else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not math.isfinite(value) or value < 0:
        kind = "a whole number >= 0" if whole else "a number >= 0"
        raise PlannerConfigError(f"{field} is {value!r}; use {kind}")
    return value


def settings_from(conf: Any, catalog: Mapping[str, QuerySpec]) -> PlannerSettings:
    c = _merged(conf)
    if c["mode"] not in MODES:
        raise PlannerConfigError(f"planner.mode is {c['mode']!r}: unknown mode; use one of {', '.join(MODES)}")
    limits = {}
    for mode in ("normal", "high_churn"):
        node = c[mode]
        limits[mode] = ModeLimits(_priority(node["max_priority"], f"planner.{mode}.max_priority"),
                                  _non_negative(node["max_expensive"], f"planner.{mode}.max_expensive", whole=True))
    refresh = {}
    for key, value in c["refresh_s"].items():
        _priority(key, f"planner.refresh_s key {key!r}")
        refresh[str(key)] = _non_negative(value, f"planner.refresh_s.{key}", whole=True)
    ttl_overrides = {}
    for name, value in c["ttl_overrides_s"].items():
        if name not in catalog:
            raise PlannerConfigError(f"planner.ttl_overrides_s.{name}: no such query in the catalog; "
                                     f"use one of {', '.join(catalog)}")
        ttl_overrides[str(name)] = _non_negative(value, f"planner.ttl_overrides_s.{name} (a TTL in seconds)", whole=True)
    feeds = {}
    for signal, decisions in c["voi"]["feeds"].items():
        for decision in decisions:
            if decision not in DECISIONS:
                raise PlannerConfigError(f"planner.voi.feeds.{signal}: unknown decision {decision!r}; "
                                         f"use one of {', '.join(DECISIONS)}")
        feeds[str(signal)] = tuple(decisions)
    cycle_s = _non_negative(c["cycle_s"], "planner.cycle_s", whole=True)
    if cycle_s == 0:
        raise PlannerConfigError("planner.cycle_s is 0; use the planning period in seconds (3600: hourly)")
    if c["switch"]["gas_usd_median"] is not None:
        _non_negative(c["switch"]["gas_usd_median"], "planner.switch.gas_usd_median")
    min_history = _non_negative(c["voi"]["min_history"], "planner.voi.min_history", whole=True)
    settings = PlannerSettings(
        mode=str(c["mode"]),
        limits=limits,
        risk_max_priority=_priority(c["risk"]["max_priority"], "planner.risk.max_priority"),
        vol_spike_ratio=_non_negative(c["risk"]["vol_spike_ratio"], "planner.risk.vol_spike_ratio"),
        drawdown=_non_negative(c["risk"]["drawdown"], "planner.risk.drawdown"),
        toxicity=_non_negative(c["risk"]["toxicity"], "planner.risk.toxicity"),
        churn_actions_per_hour=_non_negative(c["switch"]["churn_actions_per_hour"], "planner.switch.churn_actions_per_hour"),
        high_gas_ratio=_non_negative(c["switch"]["high_gas_ratio"], "planner.switch.high_gas_ratio"),
        low_gas_ratio=_non_negative(c["switch"]["low_gas_ratio"], "planner.switch.low_gas_ratio"),
        gas_usd_median=c["switch"]["gas_usd_median"],
        budget_credits_per_day=_non_negative(c["budget_credits_per_day"], "planner.budget_credits_per_day"),
        cycle_s=cycle_s,
        refresh_s=refresh,
        ttl_overrides_s=ttl_overrides,
        k_sigma=_non_negative(c["voi"]["k_sigma"], "planner.voi.k_sigma"),
        min_history=max(1, min_history),
        feeds=feeds,
    )
    for spec in catalog.values():
        if spec.priority == "P0" and spec.expensive:
            raise PlannerConfigError(f"queries/{spec.name}.yaml: a P0 query runs every cycle and may not be "
                                     f"expensive; set 'expensive: false' or make it P1/P2")
    need = p0_credits_per_day(catalog, settings)
    if settings.budget_credits_per_day < need:
        detail = ", ".join(f"{s.name} {math.ceil(DAY_S / settings.period_s(s))} x {s.cost_credits:g}"
                           for s in catalog.values() if s.priority == "P0")
        raise PlannerConfigError(f"planner.budget_credits_per_day is {settings.budget_credits_per_day:g} but the P0 "
                                 f"queries need {need:g} credits a day ({detail}); raise it to at least {need:g}")
    return settings
