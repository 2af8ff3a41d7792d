"""report.html: one self-contained page (inline CSS, figures as base64 PNG) that opens offline."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from hbbatch.report.metrics import title
from hbbatch.stats import REGIMES

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.pass{color:#16794b;font-weight:600}.fail,.error{color:#b3261e;font-weight:700}.skipped,.warn{color:#a06000}
.msg{text-align:left;font-size:.9em}.note{color:#555;font-size:.9em}img{max-width:100%}
"""


def _fmt(x: Any, digits: int = 2) -> str:
    if isinstance(x, float):
        return "–" if not math.isfinite(x) else f"{x:,.{digits}f}"
    return html.escape(str(x))


def _table(frame: pd.DataFrame, digits: int = 2, titles: bool = True) -> str:
    if frame is None or frame.empty:
        return "<p class='note'>none</p>"
    head = "".join(f"<th>{html.escape(title(c) if titles else c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v, digits)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return f"<img alt='figure' src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'>"


def _figures(variants: list[str], comparison: pd.DataFrame, convergence: pd.DataFrame,
             episodes: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    from matplotlib.figure import Figure   # no pyplot: no global state, no display backend

    figures = []
    if episodes:
        fig = Figure(figsize=(10, 3.4))
        axes = fig.subplots(1, len(REGIMES), sharey=True)
        for ax, regime in zip(axes, REGIMES):
            data = [episodes[v].loc[episodes[v]["regime"] == regime, "net_pnl_usd"].to_numpy() for v in variants]
            ax.boxplot([d if len(d) else [math.nan] for d in data], showfliers=False)
            ax.set_xticks(range(1, len(variants) + 1), [v[:18] for v in variants], rotation=20, fontsize=8)
            ax.set_title(regime, fontsize=10)
            ax.axhline(0, color="#999", lw=0.8)
        axes[0].set_ylabel(title("net_pnl_usd"))
        figures.append(("Net PnL per episode by regime (box: quartiles, whiskers 1.5 IQR)", _png(fig)))
    rows = comparison[comparison["metric"] == "net_pnl_usd"] if not comparison.empty else comparison
    if not rows.empty:
        fig = Figure(figsize=(10, 0.45 * len(rows) + 1.2))
        ax = fig.subplots()
        names = [f"{r.pair} | {r.regime}" for r in rows.itertuples()]
        y = list(range(len(rows)))[::-1]
        ax.errorbar(rows["mean_diff"], y, xerr=[rows["mean_diff"] - rows["boot_low"], rows["boot_high"] - rows["mean_diff"]],
                    fmt="o", color="#1f5fa8", ecolor="#1f5fa8", capsize=3)
        ax.axvline(0, color="#b3261e", lw=1)
        ax.set_yticks(y, names, fontsize=8)
        ax.set_xlabel("Paired difference in net PnL per episode [USD] (bootstrap CI)")
        figures.append(("Paired differences in net PnL, overall and per regime", _png(fig)))
    if not convergence.empty:
        fig = Figure(figsize=(6, 3.6))
        ax = fig.subplots()
        for variant, part in convergence.groupby("variant", sort=False):
            ax.plot(part["n_episodes"], 100 * part["t_half_width"], marker="o", label=str(variant)[:24])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("episodes")
        ax.set_ylabel("CI half-width of mean return [%]")
        ax.legend(fontsize=8)
        figures.append(("Convergence: CI half-width of absolute return against episodes", _png(fig)))
    return figures


def _pairing(comparison: pd.DataFrame, skipped_pairs: Sequence[dict[str, str]]) -> str:
    """Per pair: episodes each side ran, how many paired (and the share), how many saw another path; then
    the pairs not compared and why."""
    rows = ""
    if not comparison.empty:
        overall = comparison[comparison["regime"] == "all"].drop_duplicates("pair")
        for r in overall.itertuples():
            cls = "" if r.paired_share >= 0.9 else " class='warn'"
            rows += (f"<tr><td>{html.escape(r.pair)}</td><td>{r.n_variant:,}</td><td>{r.n_baseline:,}</td>"
                     f"<td>{r.n_pairs:,}</td><td{cls}>{100 * r.paired_share:.1f} %</td>"
                     f"<td>{r.unpaired_mismatch:,}</td></tr>")
    out = ("<table><thead><tr><th>pair</th><th>episodes (variant)</th><th>episodes (baseline)</th><th>paired</th>"
           f"<th>paired share</th><th>same index, other path</th></tr></thead><tbody>{rows}</tbody></table>"
           if rows else "")
    for p in skipped_pairs:
        out += f"<p class='warn'>not compared: {html.escape(p['variant'])} - {html.escape(p['baseline'])}: " \
               f"{html.escape(p['reason'])}</p>"
    return out


def render_report(*, experiment: str, jobs: Sequence[dict[str, Any]], variants: pd.DataFrame,
                  comparison: pd.DataFrame, convergence: pd.DataFrame, criteria: Sequence[Any],
                  episodes: dict[str, pd.DataFrame], baseline: str | None, errors: Sequence[str], exit_code: int,
                  confidence: float, rules: dict[str, pd.DataFrame] | None = None,
                  skipped_pairs: Sequence[dict[str, str]] = ()) -> str:
    verdict = {0: ("pass", "all jobs ran, every criterion held"), 1: ("fail", "a success criterion failed"),
               2: ("error", "an error occurred")}[exit_code]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>hbbatch: {html.escape(experiment)}</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>hbbatch: {html.escape(experiment)}</h1>",
             f"<p><span class='{verdict[0]}'>{verdict[0].upper()}</span>: {verdict[1]} (exit {exit_code}). "
             f"Baseline: {html.escape(str(baseline))}. Generated "
             f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}. Intervals: {confidence:.0%}, "
             "percentile bootstrap and t.</p>"]
    for err in errors:
        parts.append(f"<p class='error'>{html.escape(err)}</p>")
    if criteria:
        rows = "".join(f"<tr><td>{html.escape(c.check)}</td><td>{html.escape(c.variant)}</td>"
                       f"<td class='{c.status}'>{c.status}</td><td class='msg'>{html.escape(c.message)}</td></tr>"
                       for c in criteria)
        parts.append("<h2>Success criteria</h2><table><thead><tr><th>criterion</th><th>variant</th><th>status</th>"
                     f"<th>detail</th></tr></thead><tbody>{rows}</tbody></table>")
    parts.append("<h2>Variants</h2>" + _table(variants))
    labels = [j["label"] for j in jobs if j["label"] in episodes]
    for caption, img in _figures(labels, comparison, convergence, episodes):
        parts.append(f"<h2>{html.escape(caption)}</h2>{img}")
    if not comparison.empty or skipped_pairs:
        parts.append("<h2>Pairing</h2>" + _pairing(comparison, skipped_pairs))
    if not comparison.empty:
        shown = comparison[["pair", "metric", "regime", "n_pairs", "paired_share", "mean_variant", "mean_baseline", "mean_diff",
                            "boot_low", "boot_high", "t_low", "t_high"]]
        parts.append("<h2>Paired comparisons</h2>" + _table(shown, 4, titles=False))
    if not convergence.empty:
        parts.append("<h2>Convergence of mean return</h2>" + _table(convergence, 5, titles=False))
    if rules:
        for label, table in rules.items():
            parts.append(f"<h2>Rules: {html.escape(label)}</h2>" + _table(table, 2, titles=False))
    job_rows = pd.DataFrame([{k: j.get(k) for k in ("label", "status", "message", "execution_time", "config_hash",
                                                    "calibration_hash", "dir")} for j in jobs])
    parts.append("<h2>Jobs</h2>" + _table(job_rows, 1, titles=False))
    parts.append("</body></html>")
    return "\n".join(parts)
