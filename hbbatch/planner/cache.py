"""A small on-disk TTL cache of query results, and the way a source of results executes a plan.

A source (the Dune source, a test double) uses it like this:

    cache = ResultCache(cache_dir)
    the_plan = plan(catalog, cache.state(), signals, planner_conf, now_s)
    served = execute(the_plan, catalog, cache, fetch)      # fetch(spec) -> Fetched(rows, credits, execution_id)

`execute` calls `fetch` only for `runnable(the_plan)`, stores each answer with `cache.put`, and
returns every query that has a result as `Served(rows, fetched_at_s, age_s, ran, ...)`: the planned
ones fresh (age 0, or the age `Fetched.as_of_s` gives a result computed earlier), the skipped ones
from the cache with their age. A query that never ran and was not planned is absent. Piecewise:
`runnable(plan)`, `cache.put(...)`, `cache.get(name)`, `cache.state()`; `cache.charge(...)` records
credits spent on a result that was not stored (a failed execution), so the budget still sees them.

Files under `cache_dir`, each written to a temporary name and renamed:
    <query>.result.json   {query, fetched_at_s, credits, execution_id, rows, values, history, meta}
    ledger.json           [{t_s, query, credits}, ...]   credits spent, for the daily budget

`values` holds one number per signal the query provides, in the units of the table in
`hbbatch.planner.decisions`, for the planner's value-of-information test: the median of the signal's
column where `decisions.SIGNAL_COLUMNS` names one, unless the caller passes `values` (the fitted
numbers) itself. `meta` is the source's own description of the result (column types, parameters),
kept as given. Nothing secret is stored: rows, times, credits and that description only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from hbbatch.planner.catalog import QuerySpec
from hbbatch.planner.decisions import SIGNAL_COLUMNS
from hbbatch.planner.plans import OVER_BUDGET, Plan
from hbbatch.planner.schedule import EPS_CREDITS
from hbbatch.planner.state import LEDGER_S, CachedResult, CacheState, LedgerRow, record
from hbbatch.io import write_json

LEDGER_FILE = "ledger.json"
RESULT_SUFFIX = ".result.json"      # distinct, so the folder can be shared with other stored files


class CacheError(ValueError):
    """A cache file is unreadable; the message names it and the fix."""


@dataclass(frozen=True)
class Fetched:
    rows: list[dict[str, Any]]
    credits: float
    execution_id: str | None = None
    values: Mapping[str, float] | None = None   # per signal, in decisions.py's units; None: column medians
    meta: Mapping[str, Any] | None = None       # stored as given (ResultCache.put)
    as_of_s: float | None = None                # when the result was computed, if before the plan's time


@dataclass(frozen=True)
class StoredResult:
    query: str
    fetched_at_s: float
    credits: float
    execution_id: str | None
    rows: list[dict[str, Any]]
    values: Mapping[str, float]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def age_s(self, now_s: float) -> float:
        return max(0.0, now_s - self.fetched_at_s)


@dataclass(frozen=True)
class Served:
    rows: list[dict[str, Any]]
    fetched_at_s: float
    age_s: float
    ran: bool                   # True: executed for this plan; False: served from the cache
    execution_id: str | None = None
    credits: float = 0.0        # spent for this plan (0 when served from the cache)
    meta: Mapping[str, Any] = field(default_factory=dict)


def runnable(plan: Plan) -> list[str]:
    """Names of the queries the plan runs, in catalog order."""
    return [c.query for c in plan.choices if c.runs]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def signal_values(rows: Sequence[Mapping[str, Any]], provides: Sequence[str]) -> dict[str, float]:
    """Median over rows of each provided signal's column (decisions.SIGNAL_COLUMNS), where numeric."""
    out = {}
    for signal in provides:
        column = SIGNAL_COLUMNS.get(signal)
        numbers = [n for n in (_number(row.get(column)) for row in rows) if n is not None] if column else []
        if numbers:
            out[signal] = float(np.median(numbers))
    return out


class ResultCache:
    def __init__(self, cache_dir: Path | str):
        self.dir = Path(cache_dir)

    def _path(self, query: str) -> Path:
        return self.dir / f"{query}{RESULT_SUFFIX}"

    def _read(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CacheError(f"{path}: unreadable cache file ({exc.__class__.__name__}); delete it and the "
                             f"query runs again") from None

    def _entry(self, query: str) -> dict[str, Any] | None:
        path = self._path(query)
        if not path.exists():
            return None
        data = self._read(path)
        for key in ("fetched_at_s", "rows", "values"):
            if not isinstance(data, dict) or key not in data:
                raise CacheError(f"{path}: field '{key}' is missing; delete the file and the query runs again")
        return data

    def get(self, query: str) -> StoredResult | None:
        data = self._entry(query)
        if data is None:
            return None
        return StoredResult(query=query, fetched_at_s=float(data["fetched_at_s"]), credits=float(data.get("credits", 0)),
                            execution_id=data.get("execution_id"), rows=data["rows"], values=data["values"],
                            meta=data.get("meta") or {})

    def _ledger(self) -> tuple[LedgerRow, ...]:
        path = self.dir / LEDGER_FILE
        if not path.exists():
            return ()
        data = self._read(path)
        try:
            return tuple(LedgerRow(float(r["t_s"]), str(r["query"]), float(r["credits"])) for r in data)
        except (TypeError, KeyError, ValueError):
            raise CacheError(f"{path}: rows need t_s, query and credits; delete the file to reset the "
                             f"day's spending record") from None

    def state(self) -> CacheState:
        """The snapshot the planner reads: every stored result's time, values and history, and the ledger."""
        results = {}
        for path in sorted(self.dir.glob(f"*{RESULT_SUFFIX}")) if self.dir.exists() else ():
            query = path.name[:-len(RESULT_SUFFIX)]
            data = self._entry(query)
            history = {s: tuple((float(t), float(v)) for t, v in rows) for s, rows in data.get("history", {}).items()}
            results[query] = CachedResult(float(data["fetched_at_s"]), dict(data["values"]), history)
        return CacheState(results=results, ledger=self._ledger())

    def put(self, query: str, rows: list[dict[str, Any]], fetched_at_s: float, credits: float,
            provides: Sequence[str] = (), execution_id: str | None = None,
            values: Mapping[str, float] | None = None, meta: Mapping[str, Any] | None = None) -> StoredResult:
        """Store a fresh result of `query` and add its credits to the ledger."""
        values = dict(values) if values is not None else signal_values(rows, provides)
        before = self.state()
        previous = before.results.get(query)
        after = record(CacheState(results={query: previous} if previous else {}, ledger=before.ledger),
                       query, fetched_at_s, credits, values)
        entry = after.results[query]
        # the charge first: a crash between the two writes over-counts the day's credits, never under-counts
        self._write_ledger(after.ledger)
        write_json(self._path(query), {
            "query": query, "fetched_at_s": entry.fetched_at_s, "credits": float(credits),
            "execution_id": execution_id, "rows": rows, "values": dict(entry.values),
            "history": {s: [list(tv) for tv in h] for s, h in entry.history.items()}, "meta": dict(meta or {})})
        return self.get(query)

    def charge(self, query: str, t_s: float, credits: float) -> None:
        """Add credits spent on `query` without a stored result (a failed execution) to the ledger."""
        if credits > 0:
            ledger = tuple(r for r in self._ledger() if r.t_s > t_s - LEDGER_S)
            self._write_ledger(ledger + (LedgerRow(float(t_s), query, float(credits)),))

    def _write_ledger(self, ledger: Sequence[LedgerRow]) -> None:
        write_json(self.dir / LEDGER_FILE, [{"t_s": r.t_s, "query": r.query, "credits": r.credits} for r in ledger])


def estimated_credits(spec: QuerySpec, ledger: Sequence[LedgerRow]) -> float:
    """What one run of `spec` is expected to cost: its declared cost, or its most recent actual charge
    in the ledger when that was more (Dune bills what it measures, not what the catalog says)."""
    last = next((r.credits for r in reversed(ledger) if r.query == spec.name and r.credits > 0), 0.0)
    return max(float(spec.cost_credits), last)


def execute(plan: Plan, catalog: Mapping[str, QuerySpec], cache: ResultCache,
            fetch: Callable[[QuerySpec], Fetched], skipped: dict[str, str] | None = None) -> dict[str, Served]:
    """Run the plan's queries through `fetch`, store them, and serve the rest from the cache.

    Before each fetch the ledger is read again: a planned query whose estimate (`estimated_credits`)
    no longer fits in the day's budget, because earlier runs were charged more than planned, is not
    fetched; it is served from the cache if stored, and `skipped[name]` (when given) says why."""
    now_s = plan.now_s
    served: dict[str, Served] = {}
    for choice in plan.choices:
        if choice.runs:
            spec = catalog[choice.query]
            state = cache.state()
            spent, estimate = state.spent_in_day(now_s), estimated_credits(spec, state.ledger)
            if spent + estimate > plan.budget_credits_per_day + EPS_CREDITS:
                if skipped is not None:
                    skipped[spec.name] = (f"{OVER_BUDGET} at execution: {spent:g} credits spent today + "
                                          f"{estimate:g} estimated > {plan.budget_credits_per_day:g}")
            else:
                fetched = fetch(spec)
                at_s = now_s if fetched.as_of_s is None else min(now_s, fetched.as_of_s)
                # the result dates from when it was computed; credits spent now count today
                stored = cache.put(spec.name, fetched.rows, at_s, fetched.credits if at_s == now_s else 0.0,
                                   spec.provides, fetched.execution_id, fetched.values, fetched.meta)
                if at_s < now_s:
                    cache.charge(spec.name, now_s, fetched.credits)
                served[spec.name] = Served(stored.rows, at_s, now_s - at_s, True, stored.execution_id,
                                           fetched.credits, stored.meta)
                continue
        stored = cache.get(choice.query)
        if stored is not None:
            served[choice.query] = Served(stored.rows, stored.fetched_at_s, stored.age_s(now_s), False,
                                          stored.execution_id, 0.0, stored.meta)
    return served
