"""dashboard.html: the live rule-performance page of a shadow run, self-contained (inline SVG and CSS).

Rewritten atomically every `monitoring.dashboard_every_steps` steps and at the end; it reloads itself
every 15 s, so leaving it open in a browser watches the run.
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Sequence

from hbbatch.io import write_text

MAX_POINTS = 600     # per series: longer histories are thinned evenly (first and last kept)
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;max-width:1150px;color:#222}
h1{font-size:1.4em;margin-bottom:.2em}h2{font-size:1.1em;margin-top:1.5em;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:.9em}table{border-collapse:collapse;font-size:.85em;margin:.4em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.on{color:#b3261e;font-weight:700}.off{color:#16794b}.grid{display:flex;flex-wrap:wrap;gap:1.2em}
svg{background:#fafafa;border:1px solid #e5e5e5}.kpi{font-size:1.25em;font-weight:600}
"""


def _thin(points: Sequence[Any]) -> list[Any]:
    if len(points) <= MAX_POINTS:
        return list(points)
    stride = (len(points) - 1) / (MAX_POINTS - 1)
    return [points[round(i * stride)] for i in range(MAX_POINTS)]


def line_chart(series: dict[str, list[float]], title: str, unit: str, width: int = 540, height: int = 220) -> str:
    """An SVG line chart of one or more equally long series against step."""
    colours = ("#1f5fa8", "#c2571a", "#2e7d32", "#6a1b9a")
    values = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    if not values:
        return f"<p class='meta'>{html.escape(title)}: no data yet</p>"
    low, high = min(values + [0.0]), max(values + [0.0])
    span = (high - low) or 1.0
    pad_l, pad_r, pad_t, pad_b = 64, 10, 24, 22
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    n = max(len(s) for s in series.values())
    x = lambda i: pad_l + plot_w * (i / max(n - 1, 1))  # noqa: E731
    y = lambda v: pad_t + plot_h * (1 - (v - low) / span)  # noqa: E731
    parts = [f"<svg width='{width}' height='{height}' role='img' aria-label='{html.escape(title)}'>",
             f"<text x='{pad_l}' y='15' font-size='12' font-weight='600'>{html.escape(title)} [{html.escape(unit)}]</text>",
             f"<line x1='{pad_l}' x2='{width - pad_r}' y1='{y(0):.1f}' y2='{y(0):.1f}' stroke='#999' stroke-width='0.7'/>"]
    for value in (low, high):
        parts.append(f"<text x='{pad_l - 4}' y='{y(value) + 4:.1f}' font-size='10' text-anchor='end'>{value:,.2f}</text>")
    for (name, s), colour in zip(series.items(), colours):
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s) if v is not None and math.isfinite(v))
        parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='1.4' points='{path}'/>")
    for k, (name, _) in enumerate(series.items()):
        parts.append(f"<text x='{pad_l + 8 + 150 * k}' y='{height - 6}' font-size='11' fill='{colours[k]}'>"
                     f"{html.escape(name)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(counts: dict[str, dict[str, int]], title: str, width: int = 540, height: int = 220) -> str:
    """Grouped bars per hour: {hour: {series: count}}."""
    if not counts:
        return f"<p class='meta'>{html.escape(title)}: no data yet</p>"
    hours = sorted(counts)[-48:]
    names = sorted({k for c in counts.values() for k in c}) or ["actions"]
    colours = {"actions": "#1f5fa8", "widens": "#c2571a"}
    top = max([counts[h].get(k, 0) for h in hours for k in names] + [1])
    pad_l, pad_b, pad_t = 40, 34, 24
    slot = (width - pad_l - 10) / len(hours)
    bar = slot / (len(names) + 1)
    parts = [f"<svg width='{width}' height='{height}' role='img' aria-label='{html.escape(title)}'>",
             f"<text x='{pad_l}' y='15' font-size='12' font-weight='600'>{html.escape(title)}</text>",
             f"<text x='{pad_l - 4}' y='{pad_t + 8}' font-size='10' text-anchor='end'>{top}</text>"]
    plot_h = height - pad_t - pad_b
    for i, hour in enumerate(hours):
        for j, name in enumerate(names):
            v = counts[hour].get(name, 0)
            h = plot_h * v / top
            parts.append(f"<rect x='{pad_l + i * slot + j * bar:.1f}' y='{pad_t + plot_h - h:.1f}' width='{bar:.1f}' "
                         f"height='{h:.1f}' fill='{colours.get(name, '#777')}'><title>{html.escape(hour)} {name}: {v}"
                         "</title></rect>")
        if len(hours) <= 12 or i % max(len(hours) // 12, 1) == 0:
            parts.append(f"<text x='{pad_l + i * slot:.1f}' y='{height - 20}' font-size='9'>{html.escape(hour[11:13])}h</text>")
    for k, name in enumerate(names):
        parts.append(f"<text x='{pad_l + 130 * k}' y='{height - 5}' font-size='11' fill='{colours.get(name, '#777')}'>"
                     f"{name} per hour</text>")
    parts.append("</svg>")
    return "".join(parts)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(run: dict[str, Any], history: Sequence[dict[str, Any]], rules: dict[str, dict[str, float]],
           rails: dict[str, int], alerts: Sequence[dict[str, Any]], latest: dict[str, Any],
           overrides: Sequence[dict[str, Any]] = ()) -> str:
    """The page. `history` holds per-step dicts with time, net_pnl_usd, pnl_vs_hodl_usd, gas_usd_total, action."""
    points = _thin(history)
    per_hour: dict[str, Counter] = {}
    for h in history:
        if h.get("action") and h["action"] != "hold":
            bucket = per_hour.setdefault(str(h["time"])[:13] + ":00", Counter())
            bucket["actions"] += 1
            bucket["widens"] += h["action"] == "widen"
    for h in history:     # hours with no action show as zero bars
        per_hour.setdefault(str(h["time"])[:13] + ":00", Counter()).update({"actions": 0, "widens": 0})
    pnl = line_chart({"net PnL": [p["net_pnl_usd"] for p in points],
                      "PnL vs HODL": [p["pnl_vs_hodl_usd"] for p in points]}, "Net PnL and PnL vs HODL", "USD")
    gas = line_chart({"gas spent": [p["gas_usd_total"] for p in points]}, "Gas spent", "USD")
    hourly = bar_chart({k: dict(v) for k, v in per_hour.items()}, "Actions and widens per hour")
    rule_rows = [[html.escape(name), f"{v.get('fires', 0):,.0f}", f"{v.get('actions', 0):,.0f}",
                  f"{v.get('gas_usd', 0):,.2f}", f"{v.get('value_usd', 0):,.2f}"] for name, v in rules.items()]
    rail_rows = [[html.escape(name), f"<span class='{'on' if state else 'off'}'>{'ON' if state else 'off'}</span>"]
                 for name, state in rails.items()]
    alert_rows = [[html.escape(a.get("time", "")), html.escape(a["alert"]), html.escape(a["severity"]),
                   html.escape(a["summary"])] for a in list(alerts)[-20:][::-1]]
    override_rows = [[str(o.get("step", "")), html.escape(o["command"]), html.escape(o["by"]), html.escape(o["via"]),
                      html.escape(o.get("reason", "")), html.escape(o.get("ignored", o["mode"]))]
                     for o in list(overrides)[-20:][::-1]]
    kpis = "".join(f"<div><div class='meta'>{html.escape(k)}</div><div class='kpi'>{html.escape(v)}</div></div>"
                   for k, v in (("Net PnL", f"${latest.get('net_pnl_usd', 0):,.2f}"),
                                ("PnL vs HODL", f"${latest.get('pnl_vs_hodl_usd', 0):,.2f}"),
                                ("Gas spent", f"${latest.get('gas_usd_total', 0):,.2f}"),
                                ("Actions", f"{latest.get('actions', 0)}"), ("Widens", f"{latest.get('widens', 0)}"),
                                ("Price", f"${latest.get('price_usd', 0):,.2f}"),
                                ("Band (pool ticks)", f"{latest.get('tick_lower', '')} .. {latest.get('tick_upper', '')}")))
    written = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = html.escape(" · ".join(f"{k}: {v}" for k, v in run.items()))
    script = ("<script>(function(){var w=new Date(document.body.dataset.written);"
              "var el=document.getElementById('age');function tick(){el.textContent=Math.max(0,Math.round("
              "(Date.now()-w.getTime())/1000))+' s ago';}tick();setInterval(tick,1000);"
              "document.body.dataset.ready='1';})();</script>")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta http-equiv='refresh' content='15'>"
            f"<title>hbbatch shadow: step {latest.get('step', 0)}</title><style>{CSS}</style></head>"
            f"<body data-written='{written}' data-step='{latest.get('step', 0)}'>"
            f"<h1>Shadow run: rule performance</h1><p class='meta'>{info}<br>step {latest.get('step', 0)} at "
            f"{html.escape(str(latest.get('time', '')))} · written {written} (<span id='age'></span>) · "
            "nothing is executed: a paper position</p>"
            f"<div class='grid'>{kpis}</div><h2>PnL</h2><div class='grid'>{pnl}{gas}</div>"
            f"<h2>Activity</h2>{hourly}"
            f"<h2>Rules</h2>{_table(['rule or rail', 'fires', 'actions', 'gas [USD]', 'running value vs HODL [USD]'], rule_rows)}"
            f"<h2>Rails</h2>{_table(['rail', 'state'], rail_rows)}"
            f"<h2>Manual overrides</h2>{_table(['step', 'command', 'by', 'via', 'reason', 'mode after'], override_rows) if override_rows else '<p class=meta>none</p>'}"
            f"<h2>Alerts</h2>{_table(['time', 'alert', 'severity', 'summary'], alert_rows) if alert_rows else '<p class=meta>none</p>'}"
            f"<script type='application/json' id='latest'>{html.escape(json.dumps(latest, default=str))}</script>"
            f"{script}</body></html>")


def write(path, *args, **kwargs) -> None:
    write_text(path, render(*args, **kwargs))
