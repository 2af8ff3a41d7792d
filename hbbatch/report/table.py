"""The table printed at the end of a run: one row per variant, one column per criterion."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from hbbatch.report.metrics import title

MARKS = {"pass": "[green]pass[/]", "warn": "[yellow]WARN[/]", "fail": "[bold red]FAIL[/]", "error": "[bold red]error[/]",
         "skipped": "[yellow]skipped[/]"}


def _num(x: Any, digits: int = 0, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{100 * x:,.{digits}f} %" if pct else f"{x:,.{digits}f}"


def _with_ci(row: pd.Series, metric: str, digits: int, pct: bool = False) -> str:
    mean, low, high = row.get(f"{metric}_mean"), row.get(f"{metric}_boot_low"), row.get(f"{metric}_boot_high")
    return f"{_num(mean, digits, pct)} [{_num(low, digits, pct)}, {_num(high, digits, pct)}]"


def build_table(variants: pd.DataFrame, jobs: Sequence[dict[str, Any]], criteria: Sequence[Any],
                baseline: str | None, heading: str, confidence: float):
    """A rich Table; `jobs` are {label, status, message} for every job, `criteria` CriterionResults."""
    from rich.markup import escape
    from rich.table import Table

    checks = list(dict.fromkeys(c.check for c in criteria))
    table = Table(title=heading, title_justify="left", header_style="bold")
    ci = f"{confidence:.0%} CI"
    table.add_column("Variant", justify="left", min_width=7, no_wrap=True)
    for header in ("Episodes", f"{title('net_pnl_usd')} ({ci})", f"Return [%] ({ci})", "Widen share",
                   "Gas/ep. [USD]", "Actions/ep."):
        table.add_column(escape(header), justify="right", no_wrap="CI" not in header)   # CIs may wrap on a narrow terminal
    for check in checks:   # long criterion names fold onto two lines rather than being cut
        table.add_column(escape(check.replace("_", " ")), justify="center", overflow="fold", min_width=11)
    rows = variants.set_index("variant") if len(variants) else pd.DataFrame()
    for job in jobs:
        label = job["label"]
        marks = []
        for check in checks:
            found = [c for c in criteria if c.check == check and c.variant == label]
            marks.append(MARKS[found[0].status] if found else ("baseline" if label == baseline else "–"))
        if job["status"] != "success" or label not in rows.index:
            table.add_row(escape(label), "[bold red]error[/]", escape(job.get("message", "")[:60]), "", "", "", "",
                          *marks)
            continue
        row = rows.loc[label]
        table.add_row(escape(label), f"{int(row['n_episodes']):,}", _with_ci(row, "net_pnl_usd", 0),
                      _with_ci(row, "return", 2, pct=True), _num(row["widen_share"], 1, pct=True),
                      _num(row["gas_per_episode_usd"], 2), _num(row["actions_per_episode"], 2), *marks)
    return table


def convergence_table(convergence: pd.DataFrame, confidence: float):
    """Half-width of the CI on mean return by episodes run: one row per variant (roadmap step 4)."""
    from rich.markup import escape
    from rich.table import Table

    sizes = sorted(convergence["n_episodes"].unique())
    table = Table(title=f"Convergence: {confidence:.0%} CI half-width of mean return (t)", title_justify="left",
                  header_style="bold")
    table.add_column("Variant")
    for n in sizes:
        table.add_column(f"{n:,} ep.", justify="right")
    for variant, part in convergence.groupby("variant", sort=False):
        widths = dict(zip(part["n_episodes"], part["t_half_width"]))
        table.add_row(escape(str(variant)), *(f"±{_num(widths.get(n), 3, pct=True)}" if n in widths else "–"
                                              for n in sizes))
    return table


def print_report(variants: pd.DataFrame, jobs: Sequence[dict[str, Any]], criteria: Sequence[Any],
                 baseline: str | None, heading: str, confidence: float, footer: Sequence[str],
                 convergence: pd.DataFrame | None = None) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    if not console.is_terminal:   # logs and CI: wide enough for one line per variant
        console = Console(highlight=False, width=200)
    console.print(build_table(variants, jobs, criteria, baseline, heading, confidence))
    if convergence is not None and not convergence.empty and convergence["n_episodes"].nunique() > 1:
        console.print(convergence_table(convergence, confidence))
    for c in criteria:
        if c.status != "pass":
            console.print(f"  {MARKS[c.status]} {escape(c.message)}")
    for line in footer:
        console.print(escape(line))
