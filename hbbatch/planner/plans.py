"""A plan: for every query, run or skip with exactly one reason, plus the credits and freshness it leads to.

Skip reasons are the fixed vocabulary below (`dominated by <query>` names the query that covers it);
run reasons say which rule planned the query (`P0 always`, `P1 daily`, `risk signal: <name>`, ...).
`Plan.to_dict` is the content of `plan.json`; `Plan.write_json` writes it atomically.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from hbbatch.io import write_json

RUN, SKIP = "run", "skip"
FRESH = "fresh"
DOMINATED_BY = "dominated by "          # + the dominating query's name
OVER_BUDGET = "over budget"
PRIORITY_CAP = "priority cap"
EXPENSIVE_CAP = "expensive cap"
NO_RISK_SIGNAL = "no risk signal"
NO_DECISION_CHANGE = "would not change decisions"
SKIP_REASONS = (FRESH, DOMINATED_BY, OVER_BUDGET, PRIORITY_CAP, EXPENSIVE_CAP, NO_RISK_SIGNAL, NO_DECISION_CHANGE)
P0_ALWAYS = "P0 always"
P1_DAILY = "P1 daily"
P1_DUE = "P1 due"                      # P1 with a refresh period under a day
RISK_SIGNAL = "risk signal: "           # + the first high risk signal
RUN_REASONS = (P0_ALWAYS, P1_DAILY, P1_DUE, RISK_SIGNAL)


def reason_kind(reason: str) -> str:
    """The reason without its argument: 'dominated by X' -> 'dominated by', 'risk signal: y' -> 'risk signal'."""
    for prefix in (DOMINATED_BY, RISK_SIGNAL):
        if reason.startswith(prefix):
            return prefix.rstrip(": ").strip()
    return reason


@dataclass(frozen=True)
class QueryChoice:
    query: str
    action: str                 # run | skip
    reason: str
    priority: str
    expensive: bool
    cost_credits: float         # one execution
    expected_credits: float     # cost_credits when it runs, else 0
    age_s: float | None         # age of its stored result before this plan (None: never ran)
    ttl_s: int                  # the freshness window the plan used

    @property
    def runs(self) -> bool:
        return self.action == RUN


@dataclass(frozen=True)
class Plan:
    now_s: float
    mode: str
    mode_reason: str
    risk_signals: tuple[str, ...]
    max_priority: str
    max_expensive: int
    budget_credits_per_day: float
    spent_today_credits: float
    reserved_p0_credits: float          # kept back for the P0 runs still due later today
    choices: tuple[QueryChoice, ...]
    signal_age_s: Mapping[str, float | None]     # every signal's age once the plan has run
    signals: Mapping[str, Any] = field(default_factory=dict)     # the live signals it was made with
    signal_sources: Mapping[str, str] = field(default_factory=dict)  # where each came from (task=plan)

    @property
    def expected_credits(self) -> float:
        return sum(c.expected_credits for c in self.choices)

    def choice(self, query: str) -> QueryChoice:
        for c in self.choices:
            if c.query == query:
                return c
        raise KeyError(query)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["risk_signals"] = list(self.risk_signals)
        out["choices"] = [asdict(c) for c in self.choices]
        out["signal_age_s"] = dict(self.signal_age_s)
        out["signals"] = dict(self.signals)
        out["signal_sources"] = dict(self.signal_sources)
        out["expected_credits"] = self.expected_credits
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Plan":
        fields_ = {k: v for k, v in data.items() if k != "expected_credits"}
        fields_["risk_signals"] = tuple(data["risk_signals"])
        fields_["choices"] = tuple(QueryChoice(**c) for c in data["choices"])
        return cls(**fields_)

    def write_json(self, path: Path | str) -> Path:
        """Write plan.json to a temporary file beside `path`, then rename it."""
        return write_json(path, self.to_dict())
