"""The planning core: `plan(catalog, cache_state, signals, config, now_s) -> Plan`, pure (no I/O, no clock).

Each query passes these gates in order; the first that stops it is its one reason:

1. `fresh`: its stored result is younger than its TTL (for P1 at least a day: "P1 daily").
2. `dominated by R`: a query R fresh in the cache provides every signal it provides, costs no more,
   and R's result is young enough to count as fresh for this query (no worse freshness).
3. `no risk signal`: P2 runs only while a risk signal is high.
4. `priority cap`: its priority is above the mode's `max_priority` (a high risk signal lifts the cap
   to `risk.max_priority`).
5. `would not change decisions` (not P0): for every signal it provides that no fresh result and no P0
   query due now already provides, no value its plausible range admits flips an agent decision
   (`hbbatch.planner.decisions`). A query with no such signal adds nothing: unless dominated
   (step 6), it is skipped with this reason too.

What remains is ordered by priority, then value per credit (those new signals per credit), then
name, and taken greedily:

6. `dominated by R`: R is planned, provides every signal it provides and costs no more. A later
   query that dominates it is planned in its place when R fits the caps and budget now; since R costs
   no more, this never spends more than running the dominated query would.
7. `expensive cap`: the mode's `max_expensive` expensive queries are already planned.
8. `over budget`: the day's credits (spent + planned) would exceed the budget. Credits for the P0
   runs still due today are reserved first, so P1/P2 spending never starves a later P0 run.

A validated budget covers the P0 queries' daily need, so P0 runs every time unless fresh or
dominated (or credits were spent outside the plan).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from hbbatch.planner import plans as p
from hbbatch.planner.catalog import PRIORITIES, QuerySpec
from hbbatch.planner.decisions import DecisionModel, could_change_decisions, point_estimates
from hbbatch.planner.settings import PlannerSettings, settings_from
from hbbatch.planner.signals import LiveSignals, choose_mode, effective_gas_regime, high_risks
from hbbatch.planner.state import DAY_S, CacheState, day_start_s

EPS_CREDITS = 1e-9


def covers(r: QuerySpec, q: QuerySpec) -> bool:
    """R provides every signal Q provides at no greater cost."""
    return r.name != q.name and set(q.provides) <= set(r.provides) and r.cost_credits <= q.cost_credits


def _runs_before(first_s: float, period_s: float, end_s: float) -> int:
    return 0 if first_s >= end_s else math.ceil((end_s - first_s) / period_s)


def _future_p0_credits(catalog: Mapping[str, QuerySpec], state: CacheState, settings: PlannerSettings,
                       now_s: float, runs_now: set[str]) -> float:
    """Credits the P0 queries can still need today after this cycle (an upper bound)."""
    day_end = day_start_s(now_s) + DAY_S
    total = 0.0
    for spec in catalog.values():
        if spec.priority != "P0":
            continue
        period = settings.period_s(spec)
        if spec.name in runs_now:
            first = now_s + period
        else:
            result = state.results.get(spec.name)
            due = now_s + settings.cycle_s if result is None else max(now_s + settings.cycle_s,
                                                                      result.fetched_at_s + settings.ttl_s(spec))
            first = now_s + math.ceil((due - now_s) / settings.cycle_s) * settings.cycle_s
        total += spec.cost_credits * _runs_before(first, period, day_end)
    return total


def plan(catalog: Mapping[str, QuerySpec], cache_state: CacheState, signals: LiveSignals | Mapping[str, Any] | None,
         config: Any, now_s: float, model: DecisionModel | None = None) -> p.Plan:
    settings = config if isinstance(config, PlannerSettings) else settings_from(config, catalog)
    live = signals if isinstance(signals, LiveSignals) else LiveSignals.from_mapping(signals or {})
    model = model or DecisionModel()

    gas_regime = effective_gas_regime(live, settings.gas_usd_median or model.market.gas_usd_median,
                                      settings.high_gas_ratio, settings.low_gas_ratio)
    mode, mode_reason = choose_mode(settings.mode, live, settings.churn_actions_per_hour, gas_regime)
    limits = settings.limits[mode]
    risks = high_risks(live, settings.vol_spike_ratio, settings.drawdown, settings.toxicity)
    max_priority = limits.max_priority
    if risks and PRIORITIES.index(settings.risk_max_priority) > PRIORITIES.index(max_priority):
        max_priority = settings.risk_max_priority
    cap_rank = PRIORITIES.index(max_priority)

    ages = {name: cache_state.age_s(name, now_s) for name in catalog}
    ttls = {name: settings.ttl_s(spec) for name, spec in catalog.items()}
    fresh = {name for name, age in ages.items() if age is not None and age < ttls[name]}
    ctx = point_estimates(cache_state, model, {"actions_per_hour": live.actions_per_hour})

    reasons: dict[str, str] = {}
    gated: list[QuerySpec] = []
    for name, spec in catalog.items():
        if name in fresh:
            reasons[name] = p.FRESH
            continue
        fresh_cover = [r for r in catalog.values() if r.name in fresh and covers(r, spec) and ages[r.name] < ttls[name]]
        if fresh_cover:
            reasons[name] = p.DOMINATED_BY + min(fresh_cover, key=lambda r: (ages[r.name], r.name)).name
            continue
        if spec.priority == "P2" and not risks:
            reasons[name] = p.NO_RISK_SIGNAL
            continue
        if spec.priority_rank > cap_rank:
            reasons[name] = p.PRIORITY_CAP
            continue
        gated.append(spec)

    # A signal due from a P0 query this cycle, or fresh in the cache young enough for the asking
    # query's own TTL, is covered: another query adds nothing on it.
    due_now = {s for spec in gated if spec.priority == "P0" for s in spec.provides}

    def new_signals(spec: QuerySpec) -> list[str]:
        if spec.priority == "P0":
            return list(spec.provides)
        covered = due_now | {s for name in fresh if ages[name] < ttls[spec.name] for s in catalog[name].provides}
        return [s for s in spec.provides if s not in covered]

    candidates: list[QuerySpec] = []
    for spec in gated:
        if spec.priority != "P0" and new_signals(spec) and not could_change_decisions(
                new_signals(spec), cache_state.results.get(spec.name), settings.feeds, ctx, model, settings.k_sigma,
                settings.min_history, ages[spec.name] or 0.0, ttls[spec.name]):
            reasons[spec.name] = p.NO_DECISION_CHANGE
            continue
        candidates.append(spec)

    def value_per_credit(spec: QuerySpec) -> float:
        return math.inf if spec.cost_credits == 0 else len(new_signals(spec)) / spec.cost_credits

    order = sorted(candidates, key=lambda s: (s.priority_rank, -value_per_credit(s), s.name))
    position = {s.name: i for i, s in enumerate(order)}
    p0_candidates = {s.name for s in order if s.priority == "P0"}
    reserved = sum(catalog[n].cost_credits for n in p0_candidates) + _future_p0_credits(
        catalog, cache_state, settings, now_s, p0_candidates)
    spent = cache_state.spent_in_day(now_s)
    budget = settings.budget_credits_per_day
    selected: list[QuerySpec] = []
    planned = {"all": 0.0, "non_p0": 0.0}

    def admissible(spec: QuerySpec) -> str | None:
        """Why `spec` cannot be planned now, or None if it can."""
        if spec.expensive and sum(s.expensive for s in selected) >= limits.max_expensive:
            return p.EXPENSIVE_CAP
        if spec.priority == "P0":
            over = spent + planned["all"] + spec.cost_credits > budget + EPS_CREDITS
        else:
            over = spent + planned["non_p0"] + spec.cost_credits + reserved > budget + EPS_CREDITS
        return p.OVER_BUDGET if over else None

    def take(spec: QuerySpec) -> None:
        selected.append(spec)
        planned["all"] += spec.cost_credits
        if spec.priority != "P0":
            planned["non_p0"] += spec.cost_credits

    for spec in order:
        if spec.name in reasons or spec in selected:
            continue
        cover = next((r for r in selected if covers(r, spec)), None)
        if cover is None:
            later = [r for r in order[position[spec.name] + 1:]
                     if r.name not in reasons and r not in selected and covers(r, spec) and not covers(spec, r)
                     and admissible(r) is None]
            if later:
                cover = min(later, key=lambda r: (r.cost_credits, position[r.name]))
                take(cover)
        if cover is not None:
            reasons[spec.name] = p.DOMINATED_BY + cover.name
            continue
        if spec.priority != "P0" and not new_signals(spec):
            reasons[spec.name] = p.NO_DECISION_CHANGE
            continue
        blocked = admissible(spec)
        if blocked:
            reasons[spec.name] = blocked
            continue
        take(spec)

    runs = {s.name for s in selected}
    choices = []
    for name, spec in catalog.items():
        if name in runs:
            action = p.RUN
            reason = {"P0": p.P0_ALWAYS, "P1": p.P1_DAILY if ttls[name] >= DAY_S else p.P1_DUE}.get(
                spec.priority) or p.RISK_SIGNAL + risks[0]
        else:
            action, reason = p.SKIP, reasons[name]
        choices.append(p.QueryChoice(query=name, action=action, reason=reason, priority=spec.priority,
                                     expensive=spec.expensive, cost_credits=spec.cost_credits,
                                     expected_credits=spec.cost_credits if name in runs else 0.0,
                                     age_s=ages[name], ttl_s=ttls[name]))
    return p.Plan(now_s=float(now_s), mode=mode, mode_reason=mode_reason, risk_signals=risks,
                  max_priority=max_priority, max_expensive=limits.max_expensive,
                  budget_credits_per_day=budget, spent_today_credits=spent,
                  reserved_p0_credits=reserved - sum(catalog[n].cost_credits for n in p0_candidates),
                  choices=tuple(choices), signal_age_s=signal_ages(catalog, ages, runs),
                  signals={**live.to_dict(), "gas_regime": gas_regime})


def signal_ages(catalog: Mapping[str, QuerySpec], ages: Mapping[str, float | None], runs: set[str]
                ) -> dict[str, float | None]:
    """Each signal's age once the planned queries have run: the youngest result that provides it."""
    out: dict[str, float | None] = {}
    for name, spec in catalog.items():
        age = 0.0 if name in runs else ages[name]
        for signal in spec.provides:
            known = out.get(signal)
            out[signal] = age if known is None else (known if age is None else min(known, age))
    return dict(sorted(out.items()))
