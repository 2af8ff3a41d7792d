"""The Dune source executes a query plan: only planned queries run; skipped ones come from the cache.

`fetch_planned` is what `task=calibrate calibration.source=dune` does instead of calling every query:

1. One cache: the planner's `ResultCache` (`planner.cache_dir`, else `calibration.dune.cache_dir`),
   the one `task=plan` reads. A stored result answers a query only for the same SQL, saved-query id
   and parameters (its `meta.request`); one stored for other parameters is, to the planner, a query
   that never ran, and is not served.
2. The plan is `task=plan`'s (`hbbatch.planner.task.current_plan`: live signals from the command
   line, the cache and the latest campaign; `planner.*` overrides apply) over the queries in
   `calibration.queries`. A query's TTL is the planner's: a result younger than it is "fresh".
3. A query the fit needs (`fit.REQUIRED_QUERIES`) that has no stored result and that the plan skips
   stops the calibration before anything runs, naming the query, the reason and the override.
4. Each planned query is fetched through the API and gated; a result failing its suite never enters
   the cache (its credits, like a failed execution's, still reach the ledger). A stored result keeps
   its signal values (`hbbatch.calibration.signals`) and, in `meta`, what it takes to serve it again
   in Dune's results shape.
5. Per query, `served` says whether it ran or came from the cache, its age in seconds and the plan's
   action and reason; the execution id and credits are the result's own (`QueryResult.summary`).
6. A stored result older than `calibration.max_age_factor` x the planner's TTL for it is not used: for a
   query the fit needs, the calibration stops with one line naming the query, its age and the limit; any
   other is left out like a query never fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from hbbatch.calibration.errors import GateError, SourceError
from hbbatch.calibration.fit import REQUIRED_QUERIES, FitSettings
from hbbatch.calibration.gates import check_results
from hbbatch.calibration.results import QueryResult, parse_time, results_payload, sha256_of
from hbbatch.calibration.signals import signal_values
from hbbatch.calibration.sources import overrides_for, query_parameters
from hbbatch.calibration.sources.dune import DuneSource
from hbbatch.planner import plans as p
from hbbatch.planner.cache import RESULT_SUFFIX, Fetched, ResultCache, Served, execute
from hbbatch.planner.catalog import QuerySpec
from hbbatch.planner.plans import Plan, QueryChoice
from hbbatch.planner.state import CacheState
from hbbatch.planner.task import PLAN_FILE, current_plan, result_cache

DEFAULT_MAX_AGE_FACTOR = 4.0   # a stored result serves the fit while younger than this x its planner TTL


@dataclass(frozen=True)
class PlannedResults:
    plan: Plan
    results: dict[str, QueryResult]
    served: dict[str, dict[str, Any]]   # per result: served (dune | cache), age_s, plan_action, plan_reason
    absent: dict[str, str]              # per query with no result: why

    def summary(self) -> dict[str, Any]:
        """The report's `provenance.plan`."""
        return {"file": PLAN_FILE, "now_s": self.plan.now_s, "mode": self.plan.mode,
                "mode_reason": self.plan.mode_reason, "risk_signals": list(self.plan.risk_signals),
                "expected_credits": self.plan.expected_credits, "not_served": dict(self.absent)}


def request_key(spec: QuerySpec, parameters: Mapping[str, Any]) -> str:
    """What a stored result must have been fetched for to answer the query now."""
    return sha256_of({"sql": spec.sql, "dune_query_id": spec.dune_query_id, "parameters": dict(parameters)})


def fetch_planned(source: DuneSource, cfg: Any, catalog: Mapping[str, QuerySpec], names: Sequence[str],
                  parameters: Mapping[str, Any], settings: FitSettings, suites_dir: Any) -> PlannedResults:
    planned_catalog = {name: catalog[name] for name in names}
    overrides = {name: overrides_for(catalog[name], parameters) for name in names}
    requests = {name: request_key(catalog[name], query_parameters(catalog[name], overrides[name])) for name in names}
    max_age_factor = _max_age_factor(cfg)
    cache = result_cache(cfg)
    known = cache.state()
    answering = {name for name in names if name in known.results and _answers(cache.get(name), requests[name])}
    state = CacheState(results={n: r for n, r in known.results.items() if n in answering}, ledger=known.ledger)
    the_plan, _ = current_plan(cfg, planned_catalog, cache, state)
    for name in names:
        choice = the_plan.choice(name)
        if name in REQUIRED_QUERIES and name not in answering and not choice.runs:
            raise SourceError(f"dune: query {name} has never been fetched for these parameters and the query plan "
                              f"skips it ({choice.reason}); the fit needs it for {REQUIRED_QUERIES[name]}: "
                              f"{_override(choice, the_plan)}")
    fetched: dict[str, QueryResult] = {}

    def fetch(spec: QuerySpec) -> Fetched:
        try:
            result = source.fetch(spec, overrides[spec.name], ttl_s=the_plan.choice(spec.name).ttl_s)
        except SourceError as exc:
            cache.charge(spec.name, the_plan.now_s, exc.credits)
            raise
        try:
            check_results({spec.name: result}, catalog, suites_dir)
        except GateError:
            cache.charge(spec.name, the_plan.now_s, result.credits)
            raise
        fetched[spec.name] = result
        return Fetched(rows=result.rows, credits=result.credits, execution_id=result.execution_id,
                       values=signal_values(result, spec, settings), meta=_meta(result, requests[spec.name]),
                       as_of_s=result.as_of.timestamp() if result.reused else None)

    over_budget: dict[str, str] = {}
    served = execute(the_plan, planned_catalog, cache, fetch, over_budget)
    results, records, absent = {}, {}, {}
    for name in names:
        choice, got = the_plan.choice(name), served.get(name)
        reason = over_budget.get(name, choice.reason)
        if got is None or not (got.ran or got.meta.get("request") == requests[name]):
            stored = "; its stored result answers other parameters" if got is not None else ""
            absent[name] = f"skipped by the query plan ({reason}) and never fetched{stored}"
            continue
        limit_s = max_age_factor * choice.ttl_s
        if not got.ran and got.age_s > limit_s:
            stale = (f"its stored result is {got.age_s:g} s old, over calibration.max_age_factor "
                     f"({max_age_factor:g}) x its TTL ({choice.ttl_s} s) = {limit_s:g} s")
            if name in REQUIRED_QUERIES:
                raise SourceError(f"dune: query {name}: skipped by the query plan ({reason}) and {stale}; the fit "
                                  f"needs it for {REQUIRED_QUERIES[name]}: {_override(choice, the_plan)}, or raise "
                                  f"calibration.max_age_factor")
            absent[name] = f"skipped by the query plan ({reason}) and {stale}"
            continue
        results[name] = fetched[name] if got.ran else _from_cache(name, got, cache)
        records[name] = {"served": "dune" if got.ran else "cache", "age_s": got.age_s,
                         "plan_action": "skip" if name in over_budget else choice.action, "plan_reason": reason}
    for name in REQUIRED_QUERIES:
        if name in over_budget and name not in results:
            raise SourceError(f"dune: query {name}: not fetched, {over_budget[name]}, and no stored result answers "
                              f"it; the fit needs it for {REQUIRED_QUERIES[name]}: raise "
                              f"planner.budget_credits_per_day or wait for the next UTC day")
    return PlannedResults(plan=the_plan, results=results, served=records, absent=absent)


def _max_age_factor(cfg: Any) -> float:
    calibration = cfg.get("calibration") or {}
    value = calibration.get("max_age_factor", DEFAULT_MAX_AGE_FACTOR)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise SourceError(f"calibration.max_age_factor is {value!r}; use a number >= 0 (stored results older than "
                          f"it x the planner's TTL are not used)")
    return float(value)


def _answers(stored: Any, request: str) -> bool:
    return stored is not None and stored.meta.get("request") == request


def _meta(result: QueryResult, request: str) -> dict[str, Any]:
    """What serving the result again in Dune's results shape takes (`_from_cache`)."""
    return {"request": request, "parameters": dict(result.parameters), "column_names": result.column_names,
            "column_types": result.column_types, "execution_ended_at": result.payload["execution_ended_at"],
            "query_id": result.payload.get("query_id"), "origin": result.origin}


def _from_cache(name: str, got: Served, cache: ResultCache) -> QueryResult:
    meta = got.meta
    payload = results_payload(got.rows, list(meta["column_names"]), list(meta["column_types"]),
                              execution_id=str(got.execution_id), ended_at=parse_time(meta["execution_ended_at"]),
                              query_id=meta.get("query_id"))
    origin = str(cache.dir / f"{name}{RESULT_SUFFIX}")
    return QueryResult.from_payload(name, payload, source=DuneSource.kind, origin=origin,
                                    parameters=dict(meta["parameters"]), credits=0.0, reused=True)


def _override(choice: QueryChoice, the_plan: Plan) -> str:
    """The command-line override that lets the plan run a query it skipped."""
    kind = p.reason_kind(choice.reason)
    if kind == p.PRIORITY_CAP:
        return f"allow it with planner.{the_plan.mode}.max_priority={choice.priority}"
    if kind == p.EXPENSIVE_CAP:
        return f"allow it with planner.{the_plan.mode}.max_expensive={the_plan.max_expensive + 1}"
    if kind == p.OVER_BUDGET:
        return (f"raise planner.budget_credits_per_day (now {the_plan.budget_credits_per_day:g}, "
                f"{the_plan.spent_today_credits:g} spent today)")
    if kind == p.NO_RISK_SIGNAL:
        return "give a risk signal, e.g. planner.signals.drawdown=1"
    return "see the plan with `python -m hbbatch task=plan`, or fit offline with calibration.source=snapshot"
