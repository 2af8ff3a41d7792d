"""Terminal tables (rich) for a plan and for the planner simulation."""

from __future__ import annotations

import math
from typing import Any, Mapping

from hbbatch.planner.live import Sourced
from hbbatch.planner.plans import Plan
from hbbatch.planner.timeline import TimelineReport

ACTION_STYLE = {"run": "[bold green]run[/]", "skip": "[yellow]skip[/]"}


def _hours(age_s: float | None) -> str:
    return "never" if age_s is None else f"{age_s / 3600:.1f} h"


def _num(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:,.{digits}f}"


def plan_tables(plan: Plan, live: Sourced | None = None) -> list[Any]:
    """The plan's queries, the signals' freshness after it, and the live signals it was made with."""
    from rich.markup import escape
    from rich.table import Table

    left = plan.budget_credits_per_day - plan.spent_today_credits - plan.expected_credits
    title = (f"Query plan: mode {plan.mode} ({escape(plan.mode_reason)}), max priority {plan.max_priority}, "
             f"max expensive {plan.max_expensive}, risk signals: {', '.join(plan.risk_signals) or 'none'}")
    queries = Table(title=title, title_justify="left", header_style="bold",
                    caption=(f"credits today: spent {plan.spent_today_credits:g} + planned {plan.expected_credits:g}"
                             f" of {plan.budget_credits_per_day:g} (P0 reserve for later today "
                             f"{plan.reserved_p0_credits:g}; {left:g} left)"), caption_justify="left")
    for header, justify in (("Query", "left"), ("Priority", "center"), ("Action", "center"), ("Reason", "left"),
                            ("Credits", "right"), ("Age", "right"), ("TTL", "right")):
        queries.add_column(header, justify=justify)
    for c in plan.choices:
        expensive = " [dim](expensive)[/]" if c.expensive else ""
        queries.add_row(c.query + expensive, c.priority, ACTION_STYLE[c.action], escape(c.reason),
                        f"{c.expected_credits:g}", _hours(c.age_s), _hours(c.ttl_s))
    freshness = Table(title="Signal freshness after the plan", title_justify="left", header_style="bold")
    freshness.add_column("Signal")
    freshness.add_column("Age", justify="right")
    for signal, age in plan.signal_age_s.items():
        freshness.add_row(signal, _hours(age))
    tables = [queries, freshness]
    if live is not None:
        signals = Table(title="Live signals", title_justify="left", header_style="bold")
        for header in ("Signal", "Value", "From"):
            signals.add_column(header)
        for name, value in plan.signals.items():
            shown = "–" if value is None else (value if isinstance(value, str) else f"{value:.4g}")
            source = live.sources.get(name, "derived" if name == "gas_regime" and value else "")
            signals.add_row(name, shown, escape(source))
        tables.append(signals)
    return tables


def timeline_table(reports: Mapping[str, TimelineReport], days: int) -> Any:
    """Configurations side by side: credits per day, runs per query, skips, and signal staleness."""
    from rich.markup import escape
    from rich.table import Table

    names = list(reports)
    table = Table(title=f"Planner simulation: {days} days of hourly cycles", title_justify="left",
                  header_style="bold")
    table.add_column("")
    for name in names:
        table.add_column(name, justify="right")

    def row(label: str, values: list[str], style: str | None = None) -> None:
        table.add_row(escape(label), *values, style=style)

    row("Credits per day [mean]", [_num(sum(r.credits_per_day) / max(1, len(r.credits_per_day))) for r in reports.values()])
    row("Credits per day [max]", [_num(max(r.credits_per_day, default=0.0)) for r in reports.values()])
    row("Budget per day", [_num(r.budget_credits_per_day, 0) for r in reports.values()])
    row("Cycles in high-churn mode [%]", [_num(100 * r.high_churn_share) for r in reports.values()])
    row("Cycles with a risk signal [%]", [_num(100 * r.risk_share) for r in reports.values()])
    first = reports[names[0]]
    table.add_section()
    for query in first.runs:
        row(f"Runs: {query}", [str(r.runs[query]) for r in reports.values()])
    table.add_section()
    skip_kinds = sorted({k for r in reports.values() for q in r.reasons.values() for k in q
                         if k not in ("P0 always", "P1 daily", "P1 due", "risk signal")})
    for query in first.runs:
        for kind in skip_kinds:
            counts = [r.reasons[query].get(kind, 0) for r in reports.values()]
            if any(counts):
                row(f"Skipped {query}: {kind}", [str(c) for c in counts], style="dim")
    table.add_section()
    for signal in first.staleness_h:
        cells = []
        for r in reports.values():
            s = r.staleness_h[signal]
            unknown = f", {100 * s['unknown_share']:.0f} % never" if s["unknown_share"] > 0 else ""
            cells.append(f"{_num(s['mean_h'])} / {_num(s['max_h'], 0)} h{unknown}")
        row(f"Staleness {signal} [mean / max]", cells)
    return table
