"""Gas believed against gas charged: what each variant's gate assumed one action costs, what its world
charged per action, and how often the emergency stop (the rails' gas cap) refused an action.

The world's charge is measured on the run's own episodes: the gas paid over the actions taken (the opening
band included), so it is the cost of the actions this agent chose, in the world's gas on the days it chose
them. A gated variant whose belief (`agent.gas_usd`) is more than `report.gas_belief_factor` times off the
charge, either way, is judged at a gas its gate does not expect: the run says so in the verdict's risks and
in `summary.json` (`gas`). A variant without the gate carries a belief it never uses: shown, not warned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hbbatch.report.verdict import money

DEFAULT_BELIEF_FACTOR = 2.0


def belief(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A job's gas settings, from its manifest: GAS, FEE_GATE, whether the gate is on, the rails' gas cap."""
    config = manifest.get("config") or {}
    agent = config.get("agent") or {}
    rails = agent.get("rails") or {}
    gating = (config.get("gating") or {}).get("mode")    # the compiled spec may carry the gate as a traced flag
    return {"gas_usd": agent.get("gas_usd"), "fee_gate_usd": agent.get("fee_gate_usd"), "gate": gating == "ev",
            "gas_cap_usd_per_window": rails.get("gas_cap_usd_per_window"),
            "gas_window_minutes": rails.get("gas_window_minutes")}


def charged(episodes: pd.DataFrame) -> dict[str, float]:
    """Gas paid per action over a variant's episodes, its spread over episodes, and the emergency stops."""
    actions = episodes["actions"].to_numpy(float)
    gas = episodes["gas_usd"].to_numpy(float)
    acted = actions > 0
    per_episode = gas[acted] / actions[acted]
    stops = episodes["emergency_stops"].to_numpy(float) if "emergency_stops" in episodes else np.zeros(len(episodes))
    q = np.quantile(per_episode, [0.1, 0.5, 0.9]) if per_episode.size else [math.nan] * 3
    return {"charged_usd_per_action": float(gas.sum() / actions.sum()) if actions.sum() > 0 else math.nan,
            "charged_usd_per_action_q10": float(q[0]), "charged_usd_per_action_q50": float(q[1]),
            "charged_usd_per_action_q90": float(q[2]),
            "emergency_stops_per_episode": float(stops.mean()) if len(stops) else 0.0,
            "emergency_stop_share": float((stops > 0).mean()) if len(stops) else 0.0}


def gas_rows(episodes: Mapping[str, Mapping[str, pd.DataFrame]], beliefs: Mapping[tuple[str, str], dict[str, Any]],
             factor: float = DEFAULT_BELIEF_FACTOR) -> list[dict[str, Any]]:
    """One row per (world, variant): believed and charged gas, their ratio, the stops, and whether to warn."""
    rows = []
    for world, variants in episodes.items():
        for variant, frame in variants.items():
            held = beliefs.get((variant, world), {})
            row = {"world": world, "variant": variant, **held, **charged(frame)}
            believed, paid = held.get("gas_usd"), row["charged_usd_per_action"]
            ratio = paid / believed if believed and believed > 0 and math.isfinite(paid) else math.nan
            row["charged_over_believed"] = ratio
            row["warn"] = bool(held.get("gate")) and math.isfinite(ratio) and not (1.0 / factor <= ratio <= factor)
            rows.append(row)
    return rows


def usd(x: float | None) -> str:
    """Gas in dollars and cents below $100 ($1.83: beliefs differ by cents), whole dollars above."""
    if x is None or not math.isfinite(x):
        return "–"
    return f"${x:,.2f}" if abs(x) < 100 else money(x, False)


def gas_lines(rows: list[dict[str, Any]], factor: float = DEFAULT_BELIEF_FACTOR) -> list[str]:
    """The run's gas in words: per world what it charged and what each variant believed; then the warnings."""
    lines = []
    for world in dict.fromkeys(r["world"] for r in rows):
        mine = [r for r in rows if r["world"] == world]
        paid = ", ".join(f"{usd(r['charged_usd_per_action'])} ({r['variant']})" for r in mine)
        low = min(r["charged_usd_per_action_q10"] for r in mine)
        high = max(r["charged_usd_per_action_q90"] for r in mine)
        believed = ", ".join(f"{r['variant']} {usd(r.get('gas_usd'))}" + ("" if r.get("gate") else " (gate off)")
                             for r in mine)
        stops = [f"{100 * r['emergency_stop_share']:.0f} % of {r['variant']}'s" for r in mine
                 if r["emergency_stop_share"] > 0]
        cap, window = mine[0].get("gas_cap_usd_per_window"), mine[0].get("gas_window_minutes") or 0.0
        stop_text = (f"; emergency stop (cap {usd(cap)} per {window:g} min) tripped in {', '.join(stops)} episodes"
                     if stops else "; emergency stop never tripped")
        lines.append(f"gas in {world}: the world charged {paid} an action (per episode q10-q90 {usd(low)}-"
                     f"{usd(high)}); believed {believed}{stop_text}")
    for r in rows:
        if r["warn"]:
            lines.append(f"warning: gas belief: {r['variant']}'s gate believes {usd(r['gas_usd'])} an action but "
                         f"{r['world']} charged {usd(r['charged_usd_per_action'])} ({r['charged_over_believed']:.2g}x; "
                         f"more than report.gas_belief_factor={factor:g}x apart): its gate is judged at a gas it "
                         "does not expect")
    return lines
