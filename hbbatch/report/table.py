"""The summary printed at the end of a run, within 100 columns: the verdict, then one table per world (one row
per variant, money per week), then what missed and the footer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from hbbatch.report.verdict import money

WIDTH = 100   # the summary fits a 100-column terminal; logs and CI get the same width
MARKS = {"pass": "[green]pass[/]", "warn": "[yellow]WARN[/]", "fail": "[bold red]FAIL[/]", "error": "[bold red]error[/]",
         "skipped": "[yellow]skipped[/]"}
VERDICT_STYLE = {"take_live": "bold green", "keep_baseline": "bold", "not_ready": "bold red", "not_proven": "yellow",
                 "undecided": "bold red"}


def _num(x: Any, digits: int = 0, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{100 * x:,.{digits}f} %" if pct else f"{x:,.{digits}f}"


def _criteria_cell(results: Sequence[Any], label: str, baseline: str | None) -> str:
    """`4 pass` / `3 pass, 1 WARN` / `baseline` / `–`."""
    if label == baseline:
        return "baseline"
    if not results:
        return "–"
    counts = {s: sum(c.status == s for c in results) for s in MARKS}
    return ", ".join(f"{n} {MARKS[s]}" for s, n in counts.items() if n)


def _gain_cell(comparison: pd.DataFrame, world: str, label: str, baseline: str | None, weeks: float) -> str:
    if baseline is None or label == baseline or comparison.empty:
        return "–"
    row = comparison[(comparison["world"] == world) & (comparison["variant"] == label)
                     & (comparison["baseline"] == baseline) & (comparison["metric"] == "net_pnl_usd")
                     & (comparison["regime"] == "all")]
    if row.empty:
        return "not paired"
    r = row.iloc[0]
    return f"{money(r.mean_diff / weeks)} [{money(r.boot_low / weeks)}, {money(r.boot_high / weeks)}]"


def build_tables(variants: pd.DataFrame, jobs: Sequence[dict[str, Any]], criteria: Sequence[Any],
                 baseline: str | None, confidence: float, comparison: pd.DataFrame | None = None) -> list[Any]:
    """One rich Table per world; `jobs` are {label, world, status, message} for every job."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    comparison = comparison if comparison is not None else pd.DataFrame()
    worlds = list(dict.fromkeys([j.get("world") or "default" for j in jobs]))
    tables = []
    for world in worlds:
        gain = (f"; gain vs baseline {escape(str(baseline))} with its {confidence:.0%} paired bootstrap CI"
                if baseline is not None else "")   # one setting: nothing to gain against
        table = Table(title=f"World {escape(world)}: money per week{gain}",
                      title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("Variant", justify="left", overflow="fold", max_width=22)
        for header in ("Net PnL", "vs HODL", "Gain vs baseline", "Return", "Widen", "Gas"):
            table.add_column(escape(header), justify="right", no_wrap=header.startswith("Net"))
        table.add_column("Criteria", justify="left", overflow="fold")
        rows = variants[variants["world"] == world].set_index("variant") if len(variants) else pd.DataFrame()
        labels = list(dict.fromkeys(j["label"] for j in jobs if (j.get("world") or "default") == world))
        for label in labels:
            mine = [c for c in criteria if c.variant == label and (not c.world or c.world == world)]
            if label not in rows.index:
                job = next(j for j in jobs if j["label"] == label)
                table.add_row(escape(label), "[bold red]error[/]", escape(job.get("message", "")[:40]), "", "", "", "",
                              _criteria_cell(mine, label, baseline))
                continue
            row = rows.loc[label]
            weeks = float(row.get("weeks_per_episode", 1.0))
            table.add_row(escape(label), money(row.get("net_pnl_usd_per_week_mean"), False),
                          money(row.get("pnl_vs_hodl_usd_per_week_mean", math.nan)),
                          _gain_cell(comparison, world, label, baseline, weeks), _num(row["return_mean"], 2, pct=True),
                          _num(row["widen_share"], 0, pct=True), money(row.get("gas_usd_per_week_mean"), False),
                          _criteria_cell(mine, label, baseline))
        tables.append(table)
    return tables


def convergence_table(convergence: pd.DataFrame, confidence: float):
    """Half-width of the CI on mean return by episodes run: one row per variant and world (roadmap step 4)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    sizes = sorted(convergence["n_episodes"].unique())
    table = Table(title=f"Convergence: {confidence:.0%} CI half-width of mean return (t)", title_justify="left",
                  header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Variant", overflow="fold", max_width=30)
    for n in sizes:
        table.add_column(f"{n:,} ep.", justify="right")
    several = "world" in convergence.columns and convergence["world"].nunique() > 1
    keys = ["world", "variant"] if "world" in convergence.columns else ["variant"]
    for key, part in convergence.groupby(keys, sort=False):
        world, variant = key if len(keys) == 2 else ("", key[0] if isinstance(key, tuple) else key)
        widths = dict(zip(part["n_episodes"], part["t_half_width"]))
        name = f"{variant} ({world})" if several else str(variant)
        table.add_row(escape(name), *(f"±{_num(widths.get(n), 3, pct=True)}" if n in widths else "–" for n in sizes))
    return table


def print_report(variants: pd.DataFrame, jobs: Sequence[dict[str, Any]], criteria: Sequence[Any],
                 baseline: str | None, heading: str, confidence: float, footer: Sequence[str],
                 convergence: pd.DataFrame | None = None, verdict: Any = None,
                 comparison: pd.DataFrame | None = None, console: Any = None) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = console or Console(highlight=False, width=WIDTH, soft_wrap=False)
    console.print(f"[bold]{escape(heading)}[/]")
    if verdict is not None:
        console.print(f"[{VERDICT_STYLE.get(verdict.status, 'bold')}]{escape(verdict.headline)}[/]")
        for risk in verdict.risks:
            console.print(f"  risk: {escape(risk)}")
    for table in build_tables(variants, jobs, criteria, baseline, confidence, comparison):
        console.print(table)
    if convergence is not None and not convergence.empty and convergence["n_episodes"].nunique() > 1:
        console.print(convergence_table(convergence, confidence))
    for c in criteria:
        if c.status != "pass":
            console.print(f"  {MARKS[c.status]} {escape(c.message)}")
    for line in footer:
        console.print(escape(line))
