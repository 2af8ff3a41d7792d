"""report.html: one self-contained page (inline CSS, figures as base64 PNG) that opens offline and reads as a
decision: the verdict first (id="verdict"), then per-world tables, the rule dashboard, world validation,
classifier quality, pairing, and the detail below. Laid out to fit a 1,280-px window."""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from hbbatch.report.metrics import title
from hbbatch.report.verdict import interval, money
from hbbatch.stats import REGIMES

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;max-width:1180px;padding:0 16px;
color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}h3{font-size:1.02em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0;max-width:100%}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}td.num{text-align:right;white-space:nowrap;overflow-wrap:normal}
th{background:#f3f3f3;font-weight:600}
.pass{color:#16794b;font-weight:600}.fail,.error,.undecided,.not_ready{color:#b3261e;font-weight:700}
.skipped,.warn,.not_proven{color:#a06000;font-weight:600}.take_live{color:#16794b;font-weight:700}
.keep_baseline{font-weight:700}.msg{text-align:left;font-size:.9em;max-width:640px}.note{color:#555;font-size:.9em}
img{max-width:100%;height:auto}#verdict{border:2px solid #ccc;border-radius:6px;padding:.6em 1em;background:#fafafa}
#verdict .headline{font-size:1.15em}details{margin:.6em 0}summary{cursor:pointer;font-weight:600}
"""


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _cell(x: Any, digits: int = 2) -> str:
    if isinstance(x, float):
        return "–" if not math.isfinite(x) else f"{x:,.{digits}f}"
    return _esc(x)


NUMERIC = re.compile(r"^[-+–]?\$?[\d.,]|^–$|^±")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], classes: Sequence[Sequence[str]] | None = None) -> str:
    """A table of already formatted cells (strings, escaped here); numbers right-aligned, kept on one line."""
    if not rows:
        return "<p class='note'>none</p>"
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = ""
    for i, row in enumerate(rows):
        cls = classes[i] if classes else [""] * len(row)
        cells = []
        for v, c in zip(row, cls):
            names = " ".join(x for x in (c, "num" if NUMERIC.match(str(v)) else "") if x)
            cells.append(f"<td class='{names}'>{_esc(v)}</td>" if names else f"<td>{_esc(v)}</td>")
        body += "<tr>" + "".join(cells) + "</tr>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pct(x: Any, digits: int = 1) -> str:
    return "–" if x is None or not isinstance(x, (int, float)) or not math.isfinite(x) else f"{100 * x:.{digits}f} %"


def _wrap(label: str, width: int = 14) -> str:
    """A tick label on several lines rather than cut ('floors.mean_revert=800' -> 'floors.mean_revert\\n=800')."""
    parts, line = [], ""
    for piece in label.replace("=", "\n=").replace(",", ",\n").split("\n"):
        if line and len(line) + len(piece) > width:
            parts.append(line)
            line = piece
        else:
            line += piece
    return "\n".join(parts + [line])


# ---------------------------------------------------------------- sections

def _verdict(verdict: Any, exit_code: int, criteria: Sequence[Any], errors: Sequence[str], baseline: str | None,
             confidence: float) -> str:
    warned = [c for c in criteria if c.status == "warn"]
    missed = [c for c in criteria if c.status in ("fail", "error", "skipped")]
    if exit_code == 2 or errors:
        gate, gate_cls = "ERROR", "error"
    elif exit_code == 1 or any(c.status == "fail" for c in criteria):
        gate, gate_cls = "FAIL", "fail"
    elif missed:
        gate, gate_cls = "NOT JUDGED IN FULL", "warn"
    elif warned:
        gate, gate_cls = "PASS WITH WARNINGS", "warn"
    elif criteria:
        gate, gate_cls = "PASS", "pass"
    else:
        gate, gate_cls = "NOTHING JUDGED", "warn"
    lines = [f"<section id='verdict'><p class='headline {_esc(verdict.status)}'>{_esc(verdict.headline)}</p>",
             f"<p>Gate: <span class='{gate_cls}'>{gate}</span> (exit {exit_code}); "
             f"{sum(c.status == 'pass' for c in criteria)} of {len(criteria)} criteria held"
             + (f"; warnings: {_esc(', '.join(sorted({c.check + ' ' + c.variant for c in warned})))}" if warned else "")
             + (f"; missed: {_esc(', '.join(sorted({c.check + ' ' + c.variant for c in missed})))}" if missed else "")
             + ".</p>"]
    if verdict.risks:
        lines.append("<p><b>Risks</b></p><ul>" + "".join(f"<li>{_esc(r)}</li>" for r in verdict.risks) + "</ul>")
    for err in errors:
        lines.append(f"<p class='error'>{_esc(err)}</p>")
    if verdict.settings:
        worlds = verdict.worlds
        headers = ["Setting", "Wins [worlds]", "Worst-case regret [USD/week]"] + \
                  [f"Gain vs {baseline} in {w} [USD/week]" for w in worlds]
        rows = []
        for s in verdict.settings:
            gains = [("baseline" if s.variant == baseline else
                      (f"{money(g[0])} {interval(g[1], g[2])}" if (g := s.gain_usd_per_week.get(w)) else "–")
                      + (f"; calibration {interval(*c)}" if (c := s.calibration_spread.get(w)) else ""))
                     for w in worlds]
            rows.append([s.variant, f"{s.wins} of {s.worlds}", money(s.worst_regret_usd_per_week, False), *gains])
        lines.append(_table(headers, rows))
    lines.append(f"<p class='note'>Intervals: {confidence:.0%} paired percentile bootstrap over episodes (t intervals "
                 "in the detail); they measure simulation noise only. The spread between worlds shows what the "
                 "market model's assumptions do to the answer; 'calibration' is the range of the gain over refits "
                 "of the calibrated world on bootstrap resamples of the history.</p></section>")
    return "\n".join(lines)


def _criteria(criteria: Sequence[Any]) -> str:
    rows = [[c.world or "–", c.check, c.variant, c.status, c.severity, c.message] for c in criteria]
    classes = [["", "", "", c.status, "", "msg"] for c in criteria]
    return _table(["World", "Criterion", "Variant", "Status", "Severity", "Detail"], rows, classes)


def _world_tables(variants: pd.DataFrame, comparison: pd.DataFrame, baseline: str | None) -> str:
    out = []
    for world, part in variants.groupby("world", sort=False):
        rows = []
        for r in part.itertuples():
            weeks = float(getattr(r, "weeks_per_episode", 1.0))
            gain = "baseline" if r.variant == baseline else "–"
            if r.variant != baseline and not comparison.empty:
                g = comparison[(comparison["world"] == world) & (comparison["variant"] == r.variant)
                               & (comparison["baseline"] == baseline) & (comparison["metric"] == "net_pnl_usd")
                               & (comparison["regime"] == "all")]
                if len(g):
                    gain = f"{money(g.iloc[0].mean_diff / weeks)} {interval(g.iloc[0].boot_low / weeks, g.iloc[0].boot_high / weeks)}"
            rows.append([r.variant, f"{int(r.n_episodes):,}" + (f" ({int(r.replications)} seeds)" if r.replications > 1 else ""),
                         f"{money(r.net_pnl_usd_per_week_mean, False)} {interval(r.net_pnl_usd_per_week_boot_low, r.net_pnl_usd_per_week_boot_high)}",
                         money(getattr(r, "pnl_vs_hodl_usd_per_week_mean", math.nan)), gain,
                         f"{100 * r.return_mean:.2f} %", _pct(r.widen_share, 0),
                         money(getattr(r, "gas_usd_per_week_mean", math.nan), False), f"{r.actions_per_episode:.1f}",
                         _pct(getattr(r, "max_drawdown_mean", math.nan))])
        headers = ["Variant", "Episodes", "Net PnL [USD/week] (CI)", "PnL vs HODL [USD/week]",
                   f"Gain vs {baseline} [USD/week] (paired CI)", "Return [%/episode]", "Widen share [% of actions]",
                   "Gas [USD/week]", "Actions [/episode]", "Max drawdown [% of capital]"]
        out.append(f"<h3>World: {_esc(world)}</h3>" + _table(headers, rows))
    return "\n".join(out)


def _draw_regime_boxes(spec: Mapping[str, Any]) -> Any:
    from matplotlib.figure import Figure   # no pyplot: no global state, no display backend

    fig = Figure(figsize=(11, 3.6))
    axes = fig.subplots(1, len(spec["regimes"]), sharey=True)
    for ax, regime, data in zip(axes, spec["regimes"], spec["data"]):
        ax.boxplot([d if len(d) else [math.nan] for d in data], showfliers=False)
        ax.set_xticks(range(1, len(spec["labels"]) + 1), [_wrap(v) for v in spec["labels"]], fontsize=8)
        ax.set_title(regime, fontsize=10)
        ax.axhline(0, color="#999", lw=0.8)
    axes[0].set_ylabel("Net PnL [USD/week]")
    return fig


def _draw_intervals(spec: Mapping[str, Any]) -> Any:
    """Points with their interval, one row each, and the zero line (paired gains, rule values)."""
    from matplotlib.figure import Figure

    mean, low, high = spec["mean"], spec["low"], spec["high"]
    fig = Figure(figsize=(11, 0.32 * len(mean) + 1.2))
    ax = fig.subplots()
    y = list(range(len(mean)))[::-1]
    ax.errorbar(mean, y, xerr=[mean - low, high - mean], fmt="o", color=spec["color"], capsize=3)
    ax.axvline(0, color="#b3261e", lw=1)
    ax.set_yticks(y, spec["names"], fontsize=8)
    ax.set_xlabel(spec["xlabel"])
    return fig


def _png_of(name: str, spec: Mapping[str, Any], draw: Any) -> str:
    """The figure's <img>, drawn by `draw(spec)` or read back for the same spec (hbbatch.report.figures)."""
    from hbbatch.report.figures import drawn

    return drawn(name, spec, draw, (__file__,))


def _figures(episodes: Mapping[str, Mapping[str, pd.DataFrame]], comparison: pd.DataFrame,
             variants: pd.DataFrame, baseline: str | None) -> list[tuple[str, str]]:
    figures = []
    for world, frames in episodes.items():
        labels = list(frames)
        weeks = dict(zip(variants.loc[variants["world"] == world, "variant"],
                         variants.loc[variants["world"] == world, "weeks_per_episode"])) \
            if "weeks_per_episode" in variants.columns else {}
        data = [[(frames[v].loc[frames[v]["regime"] == regime, "net_pnl_usd"] / weeks.get(v, 1.0)).to_numpy()
                 for v in labels] for regime in REGIMES]
        spec = {"regimes": list(REGIMES), "labels": labels, "data": data}
        figures.append((f"Net PnL per episode by regime in {world} (box: quartiles, whiskers 1.5 IQR)",
                        _png_of("regime_boxes", spec, _draw_regime_boxes)))
    rows = comparison[(comparison["metric"] == "net_pnl_usd") & (comparison["baseline"] == baseline)] \
        if not comparison.empty else comparison
    if not rows.empty:
        weeks = {(r.world, r.variant): float(r.weeks_per_episode) for r in variants.itertuples()}
        scale = [weeks.get((r.world, r.variant), 1.0) for r in rows.itertuples()]
        mean, low, high = (rows[c].to_numpy() / scale for c in ("mean_diff", "boot_low", "boot_high"))
        spec = {"mean": mean, "low": low, "high": high, "color": "#1f5fa8",
                "names": [f"{r.pair} | {r.world} | {r.regime}" for r in rows.itertuples()],
                "xlabel": f"Paired gain in net PnL over {baseline} [USD/week] (bootstrap CI)"}
        figures.append((f"Paired gains over {baseline}, per world and regime",
                        _png_of("intervals", spec, _draw_intervals)))
    return figures


def _rule_dashboard(rule_values: pd.DataFrame | None) -> str:
    """The agent's counterfactual rule values: per variant, rule and regime, with intervals, and a plot."""
    if rule_values is None or rule_values.empty:
        return "<p class='note'>No rule values in this run (rule_values.parquet not written).</p>"
    frame = rule_values.copy()
    has_world = "world" in frame.columns
    keys = (["world"] if has_world else []) + ["variant", "rule", "metric"]
    regimes = list(dict.fromkeys(frame["regime"]))
    rows = []
    for key, part in frame.groupby(keys, sort=False):
        by = part.set_index("regime")
        cells = [f"{money(by.loc[g, 'value_usd'])} {interval(by.loc[g, 'low'], by.loc[g, 'high'])}"
                 if g in by.index else "–" for g in regimes]
        n = int(by["n_pairs"].max()) if "n_pairs" in by.columns else ""
        rows.append([*key, *cells, n])
    table = _table([k.capitalize() for k in keys] + [f"{g} [USD/episode]" for g in regimes] + ["Pairs"], rows)
    overall = frame[(frame["regime"] == "all") & (frame["metric"] == "net_pnl_usd")]
    plot = ""
    if len(overall):
        names = [f"{r.variant} | {r.rule}" + (f" | {r.world}" if has_world else "") for r in overall.itertuples()]
        spec = {"mean": overall["value_usd"].to_numpy(), "low": overall["low"].to_numpy(),
                "high": overall["high"].to_numpy(), "color": "#16794b", "names": names,
                "xlabel": "Value of the rule: net PnL with it minus without it [USD/episode] (paired CI)"}
        plot = _png_of("intervals", spec, _draw_intervals)
    return table + plot


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return [item for k, v in value.items() for item in _flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return [item for i, v in enumerate(value)
                for item in _flatten(v, f"{prefix}[{v.get('name', v.get('fact', i))}]")]
    return [(prefix, value)]


def _status_class(key: str, value: Any) -> str:
    if key.endswith(("status", "success", "passed")):
        return {"pass": "pass", "success": "pass", "True": "pass", "fail": "fail", "False": "fail",
                "warn": "warn", "error": "error"}.get(str(value), "")
    return ""


def _fact_cell(x: Any) -> str:
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
        return "–"
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"


def _world_facts(result: Mapping[str, Any]) -> str:
    """One world's check: its verdict line, then each stylised fact against the real history's."""
    sample = result.get("sample") or {}
    history = result.get("history") or {}
    line = (f"<p><span class='{_status_class('status', result.get('status'))}'>{_esc(str(result.get('status')).upper())}"
            f"</span> {_esc(result.get('message', ''))}."
            + (f" Sample: {sample.get('paths')} episodes, {sample.get('weeks')} weeks; real history hourly from "
               f"{_esc(history.get('start') or 'its start')}." if sample else "") + "</p>")
    facts = result.get("facts") or []
    rows = [[f.get("title") or f.get("fact") or f.get("name"), _fact_cell(f.get("real")),
             _fact_cell(f.get("world", f.get("observed"))),
             f"[{_fact_cell(f.get('low'))}, {_fact_cell(f.get('high'))}]" if f.get("low") is not None else "–",
             f.get("note", "") if f.get("status") == "exempt" else f.get("status", "")] for f in facts]
    classes = [["", "", "", "", _status_class("status", f.get("status"))] for f in facts]
    return line + (_table(["Stylised fact", "Real history", "World", "Allowed", "Status"], rows, classes) if rows else "")


def _world_validation(found: Mapping[str, Any] | None) -> str:
    """World validation as recorded (per job): each distinct world once, its facts against the real history's."""
    if not found:
        return "<p class='note'>No world validation recorded in this run.</p>"
    out = []
    seen: dict[str, str] = {}
    for job, value in found.items():
        key = value.get("key") if isinstance(value, Mapping) else None
        text = key or json.dumps(value, sort_keys=True, default=str)
        if text in seen:   # one world validated once, shown once
            out.append(f"<p class='note'>{_esc(job)}: as {_esc(seen[text])}</p>")
            continue
        seen[text] = job
        if isinstance(value, Mapping) and ("facts" in value or "status" in value):
            out.append(f"<h3>{_esc(job)}</h3>" + _world_facts(value))
            continue
        items = _flatten(value)
        rows = [[k, _cell(v, 4) if isinstance(v, float) else v] for k, v in items]
        classes = [["", _status_class(k, v)] for k, v in items]
        out.append(f"<h3>{_esc(job)}</h3>" + _table(["Check", "Value"], rows, classes))
    return "\n".join(out)


def _classifier(found: Mapping[str, Any] | None) -> str:
    """Classifier quality: share of steps of each true regime by the regime the agent estimated."""
    if not found:
        return "<p class='note'>No classifier quality recorded in this run.</p>"
    out, seen = [], {}
    for job, confusion in found.items():
        text = json.dumps(confusion, sort_keys=True, default=str)
        if text in seen:
            out.append(f"<p class='note'>{_esc(job)}: as {_esc(seen[text])}</p>")
            continue
        seen[text] = job
        estimated = list(dict.fromkeys(e for row in confusion.values() for e in row))
        rows = [[true, *(_pct(row.get(e)) for e in estimated)] for true, row in confusion.items()]
        out.append(f"<h3>{_esc(job)}</h3>" + _table(["True regime \\ estimated [% of steps]", *estimated], rows))
    return "\n".join(out)


def _pairing(comparison: pd.DataFrame, skipped_pairs: Sequence[dict[str, str]]) -> str:
    """Per pair: episodes each side ran, how many paired (and the share), how many saw another path; then
    the pairs not compared and why."""
    rows, classes = [], []
    if not comparison.empty:
        overall = comparison[comparison["regime"] == "all"].drop_duplicates(["world", "pair"])
        for r in overall.itertuples():
            rows.append([r.world, r.pair, f"{r.n_variant:,}", f"{r.n_baseline:,}", f"{r.n_pairs:,}",
                         f"{100 * r.paired_share:.1f} %", f"{r.unpaired_mismatch:,}"])
            classes.append(["", "", "", "", "", "" if r.paired_share >= 0.9 else "warn", ""])
    out = _table(["World", "Pair", "Episodes (variant)", "Episodes (baseline)", "Paired", "Paired share",
                  "Same index, other path"], rows, classes) if rows else ""
    for p in skipped_pairs:
        out += (f"<p class='warn'>not compared: {_esc(p['variant'])} - {_esc(p['baseline'])} in "
                f"{_esc(p.get('world', ''))}: {_esc(p['reason'])}</p>")
    return out


def _search(search: Any) -> str:
    """An optimiser's trials: searched values, in-sample and out-of-sample gain over the baseline side by side."""
    def gain(part: Any) -> str:
        return f"{money(part['mean_diff'])} {interval(part['boot_low'], part['boot_high'])}" if part else "–"

    keys = list(dict.fromkeys(k for t in search.trials for k in t["params"]))
    rows, classes = [], []
    for t in search.trials:
        best = t["trial"] == search.best
        rows.append([t["trial"] + (" (best in-sample)" if best else ""), t["status"],
                     *(t["params"].get(k) or "–" for k in keys), gain(t["in_sample"]), gain(t["out_of_sample"])])
        classes.append(["pass" if best else ""] + [""] * (len(rows[-1]) - 1))
    note = (f"<p class='note'>Episodes are consecutive windows of the history; windows before episode "
            f"{search.first_out_of_sample_episode} are in-sample (the search maximised their mean gain), the "
            "rest out-of-sample. Only the best in-sample trial is judged, on the out-of-sample windows. Gains: "
            "paired net PnL over the baseline [USD/week], bootstrap CI.</p>")
    return note + _table(["Trial", "Status", *keys, "In-sample gain [USD/week]", "Out-of-sample gain [USD/week]"],
                         rows, classes)


def _detail(comparison: pd.DataFrame, convergence: pd.DataFrame, jobs: Sequence[dict[str, Any]],
            rules: Mapping[str, Mapping[str, pd.DataFrame]] | None) -> str:
    parts = []
    if not comparison.empty:
        rows = [[r.world, r.pair, title(r.metric), r.regime, f"{r.n_pairs:,}", _cell(r.mean_variant, 4),
                 _cell(r.mean_baseline, 4), _cell(r.mean_diff, 4), f"[{_cell(r.boot_low, 4)}, {_cell(r.boot_high, 4)}]",
                 f"[{_cell(r.t_low, 4)}, {_cell(r.t_high, 4)}]"] for r in comparison.itertuples()]
        parts.append("<details><summary>Paired comparisons, every metric and regime (per episode)</summary>"
                     + _table(["World", "Pair", "Metric", "Regime", "Pairs", "Variant", "Baseline", "Difference",
                               "Bootstrap CI", "t CI"], rows) + "</details>")
    if not convergence.empty:
        rows = [[getattr(r, "world", ""), r.variant, f"{r.n_episodes:,}", _pct(r.estimate, 3), _pct(r.t_half_width, 3),
                 _pct(r.boot_half_width, 3)] for r in convergence.itertuples()]
        parts.append("<details><summary>Convergence of mean return</summary>"
                     + _table(["World", "Variant", "Episodes", "Mean return", "t half-width", "Bootstrap half-width"],
                              rows) + "</details>")
    for world, tables in (rules or {}).items():
        for label, table in tables.items():
            if table.empty:
                continue
            rows = [[r.rule, f"{int(r.fires):,}", f"{int(r.actions):,}", _pct(r.action_share), money(r.gas_usd, False),
                     money(r.attributed_pnl_usd), "yes" if r.bad else ""] for r in table.itertuples()]
            parts.append(f"<details><summary>Rules of {_esc(label)} in {_esc(world)} (holding-period attribution, "
                         "a diagnostic)</summary>" + _table(["Rule", "Fires", "Actions", "Share of actions",
                                                             "Gas [USD]", "Attributed PnL vs HODL [USD]", "Bad"], rows)
                         + "</details>")
    rows = [[j.get("label"), j.get("world", ""), j.get("status"), j.get("message", ""),
             f"{j.get('execution_time', 0.0):.1f} s", str(j.get("config_hash", ""))[:19],
             str(j.get("calibration_hash", ""))[:19], j.get("dir", "")] for j in jobs]
    parts.append("<details><summary>Jobs</summary>" + _table(
        ["Variant", "World", "Status", "Message", "Time", "Config hash", "Calibration hash", "Folder"], rows)
        + "</details>")
    return "\n".join(parts)


def render_report(*, experiment: str, jobs: Sequence[dict[str, Any]], variants: pd.DataFrame,
                  comparison: pd.DataFrame, convergence: pd.DataFrame, criteria: Sequence[Any],
                  episodes: Mapping[str, Mapping[str, pd.DataFrame]], baseline: str | None, errors: Sequence[str],
                  exit_code: int, confidence: float, verdict: Any,
                  rules: Mapping[str, Mapping[str, pd.DataFrame]] | None = None,
                  skipped_pairs: Sequence[dict[str, str]] = (), extras: Mapping[str, Any] | None = None) -> str:
    extras = extras or {}
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>hbbatch: {_esc(experiment)}</title><style>{CSS}</style></head><body>",
             f"<h1>hbbatch: {_esc(experiment)}</h1>",
             _verdict(verdict, exit_code, criteria, errors, baseline, confidence),
             f"<p class='note'>Baseline: {_esc(baseline)}. Generated "
             f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}.</p>"]
    if extras.get("search") is not None:
        parts.append("<h2>Walk-forward search</h2>" + _search(extras["search"]))
    if criteria:
        parts.append("<h2>Success criteria</h2>" + _criteria(criteria))
    if len(variants):
        parts.append("<h2>Settings in each world</h2>" + _world_tables(variants, comparison, baseline))
    for caption, img in _figures(episodes, comparison, variants, baseline):
        parts.append(f"<h2>{_esc(caption)}</h2>{img}")
    parts.append("<h2>Rule dashboard</h2>" + _rule_dashboard(extras.get("rule_values")))
    parts.append("<h2>World validation</h2>" + _world_validation(extras.get("world_validation")))
    parts.append("<h2>Classifier quality</h2>" + _classifier(extras.get("classifier_confusion")))
    if not comparison.empty or skipped_pairs:
        parts.append("<h2>Pairing</h2>" + _pairing(comparison, skipped_pairs))
    parts.append("<h2>Detail</h2>" + _detail(comparison, convergence, jobs, rules))
    parts.append("</body></html>")
    return "\n".join(parts)
