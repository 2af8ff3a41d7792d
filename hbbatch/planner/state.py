"""What the planner knows about past query runs: a pure, immutable snapshot (no files).

`CacheState` holds, per query, when its stored result was fetched and the scalar value of each signal
it provided, with a bounded history of those values (the planner's value-of-information test reads
it), plus a ledger of credits spent. `record` returns the state after one more run; the on-disk cache
(`hbbatch.planner.cache`) and the timeline simulation both build their states with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping

HISTORY_LENGTH = 30         # past values kept per signal
LEDGER_S = 2 * 86400        # ledger rows older than this are dropped (the budget looks at one day)
DAY_S = 86400


@dataclass(frozen=True)
class CachedResult:
    """The latest stored result of one query."""

    fetched_at_s: float
    values: Mapping[str, float] = field(default_factory=dict)                      # signal -> value
    history: Mapping[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)  # signal -> ((t_s, value), ...)

    def age_s(self, now_s: float) -> float:
        return max(0.0, now_s - self.fetched_at_s)


@dataclass(frozen=True)
class LedgerRow:
    t_s: float
    query: str
    credits: float


@dataclass(frozen=True)
class CacheState:
    results: Mapping[str, CachedResult] = field(default_factory=dict)
    ledger: tuple[LedgerRow, ...] = ()

    def age_s(self, query: str, now_s: float) -> float | None:
        """Age of the query's stored result; None when it never ran."""
        result = self.results.get(query)
        return None if result is None else result.age_s(now_s)

    def spent_in_day(self, now_s: float) -> float:
        """Credits spent since the start of the UTC day that contains `now_s`."""
        day_start = day_start_s(now_s)
        return sum(row.credits for row in self.ledger if day_start <= row.t_s <= now_s)


def day_start_s(now_s: float) -> float:
    return math.floor(now_s / DAY_S) * DAY_S


def record(state: CacheState, query: str, fetched_at_s: float, credits: float,
           values: Mapping[str, float] | None = None) -> CacheState:
    """The state after `query` ran at `fetched_at_s`, cost `credits` and yielded `values` per signal."""
    values = {k: float(v) for k, v in (values or {}).items() if v is not None and math.isfinite(float(v))}
    previous = state.results.get(query)
    history = dict(previous.history) if previous else {}
    for signal, value in values.items():
        history[signal] = (tuple(history.get(signal, ())) + ((float(fetched_at_s), value),))[-HISTORY_LENGTH:]
    results = dict(state.results)
    results[query] = CachedResult(fetched_at_s=float(fetched_at_s), values=values, history=history)
    ledger = tuple(r for r in state.ledger if r.t_s > fetched_at_s - LEDGER_S)
    ledger += (LedgerRow(float(fetched_at_s), query, float(credits)),)
    return replace(state, results=results, ledger=ledger)
