"""The decision a run supports: which settings to take live, by how much a week against the baseline, in how
many worlds they win, and the risks.

The rule, stated so a reader can check it:
- in each world, a setting's regret is the best setting's mean net PnL per week minus its own (0 for the best);
- the pick is the setting with the least worst-case regret over the worlds (ties: more wins, then the larger
  smallest gain over the baseline); a setting "wins" a world where its mean is the best;
- the pick goes live only if it beats the baseline in every world (the lower bound of the paired bootstrap
  interval of its net PnL gain above 0) and no gating criterion failed, errored or was skipped for it;
  otherwise the verdict says which of these it lacks. Where the baseline is the pick: keep the baseline.
Intervals are the paired Monte-Carlo intervals of the simulation: they say nothing about the model's
assumptions, which the per-world spread (and the calibration spread, where run) shows instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

TAKE_LIVE, KEEP_BASELINE, NOT_READY, NOT_PROVEN, UNDECIDED = "take_live", "keep_baseline", "not_ready", "not_proven", "undecided"
GATING_MISSES = ("fail", "error", "skipped")


@dataclass
class SettingOutcome:
    variant: str
    wins: int
    worlds: int
    worst_regret_usd_per_week: float
    worst_regret_world: str
    gain_usd_per_week: dict[str, list[float]] = field(default_factory=dict)   # world -> [mean, low, high] vs baseline
    beats_baseline_in: list[str] = field(default_factory=list)
    gating_misses: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    calibration_spread: dict[str, list[float]] = field(default_factory=dict)   # world -> [low, high] over refits


@dataclass
class Verdict:
    status: str
    pick: str | None
    baseline: str | None
    headline: str
    risks: list[str]
    worlds: list[str]
    settings: list[SettingOutcome]
    exit_code: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def money(x: float, signed: bool = True) -> str:
    """$1,234 / +$12 / -$3.4: whole dollars from $100, two significant figures below."""
    if x is None or not math.isfinite(x):
        return "–"
    sign = ("+" if x > 0 else "-" if x < 0 else "") if signed else ("-" if x < 0 else "")
    a = abs(x)
    text = f"{a:,.0f}" if a >= 100 else f"{a:.2g}" if a >= 1 else f"{a:.2f}"
    return f"{sign}${text}"


def interval(low: float, high: float) -> str:
    return f"[{money(low)}, {money(high)}]"


def _gains(comparison: pd.DataFrame, variants: pd.DataFrame, baseline: str) -> dict[tuple[str, str], list[float]]:
    """(world, variant) -> [mean, boot_low, boot_high] of its paired net PnL gain over the baseline, per week."""
    if comparison.empty:
        return {}
    rows = comparison[(comparison["metric"] == "net_pnl_usd") & (comparison["regime"] == "all")
                      & (comparison["baseline"] == baseline)]
    weeks = {(r.world, r.variant): float(r.weeks_per_episode) for r in variants.itertuples()} \
        if "weeks_per_episode" in variants.columns else {}
    return {(r.world, r.variant): [x / weeks.get((r.world, r.variant), 1.0) for x in (r.mean_diff, r.boot_low, r.boot_high)]
            for r in rows.itertuples()}


def outcomes(variants: pd.DataFrame, comparison: pd.DataFrame, criteria: Sequence[Any],
             baseline: str | None) -> list[SettingOutcome]:
    """Wins, worst-case regret, gains over the baseline and criteria misses of each setting, over the worlds."""
    if variants.empty or "net_pnl_usd_per_week_mean" not in variants.columns:
        return []
    table = variants.pivot_table(index="variant", columns="world", values="net_pnl_usd_per_week_mean", sort=False)
    complete = table.dropna()   # a setting missing from a world cannot be ranked there
    best = complete.max(axis=0)
    gains = _gains(comparison, variants, baseline) if baseline else {}
    result = []
    for variant, row in complete.iterrows():
        regret = best - row
        worst_world = str(regret.idxmax()) if len(regret) else ""
        mine = [c for c in criteria if c.variant == variant]
        result.append(SettingOutcome(
            variant=str(variant), wins=int((regret <= 1e-12).sum()), worlds=int(len(row)),
            worst_regret_usd_per_week=float(regret.max()) if len(regret) else math.nan,
            worst_regret_world=worst_world,
            gain_usd_per_week={w: gains[(w, variant)] for w in complete.columns if (w, variant) in gains},
            beats_baseline_in=[w for w in complete.columns if (w, variant) in gains and gains[(w, variant)][1] > 0],
            gating_misses=[f"{c.check} {c.status}" + (f" in {c.world}" if c.world else "")
                           for c in mine if c.status in GATING_MISSES],
            warnings=[c.message for c in mine if c.status == "warn"]))
    return result


def _pick(settings: list[SettingOutcome], baseline: str | None) -> SettingOutcome | None:
    def smallest_gain(s: SettingOutcome) -> float:
        return min((g[0] for g in s.gain_usd_per_week.values()), default=0.0 if s.variant == baseline else -math.inf)

    ranked = sorted(settings, key=lambda s: (s.worst_regret_usd_per_week, -s.wins, -smallest_gain(s)))
    return ranked[0] if ranked else None


def _risks(pick: SettingOutcome, variants: pd.DataFrame, baseline: str | None) -> list[str]:
    risks = []
    if pick.gain_usd_per_week:
        world, (mean, low, high) = min(pick.gain_usd_per_week.items(), key=lambda kv: kv[1][0])
        risks.append(f"worst world: {world}, {money(mean)}/week vs {baseline} {interval(low, high)}")
    mine = variants[variants["variant"] == pick.variant]
    if "max_drawdown_mean" in mine.columns and len(mine):
        worst = mine.loc[mine["max_drawdown_mean"].idxmax()]
        risks.append(f"drawdown: mean max drawdown {100 * worst['max_drawdown_mean']:.1f} % of capital "
                     f"(worst in {worst['world']})")
    if "gas_usd_per_week_mean" in mine.columns and len(mine):
        base = variants[variants["variant"] == baseline].set_index("world")["gas_usd_per_week_mean"] if baseline else None
        worst = mine.loc[mine["gas_usd_per_week_mean"].idxmax()]
        versus = f" ({baseline}: {money(base.get(worst['world'], math.nan), False)})" \
            if base is not None and pick.variant != baseline else ""
        risks.append(f"gas: up to {money(worst['gas_usd_per_week_mean'], False)}/week in {worst['world']}{versus}")
    for world, (low, high) in pick.calibration_spread.items():
        risks.append(f"calibration: in {world} the gain ranges {interval(low, high)}/week over refits of the world "
                     "on resampled history")
    risks += [f"warning: {w}" for w in pick.warnings]   # full messages: the criteria table has them too
    return risks


def _ties(pick: str, settings: list[SettingOutcome], comparison: pd.DataFrame, variants: pd.DataFrame) -> str:
    """The settings the pick cannot be told apart from: their paired difference's interval holds 0 in some world."""
    if comparison.empty:
        return ""
    rows = comparison[(comparison["metric"] == "net_pnl_usd") & (comparison["regime"] == "all")]
    weeks = {(r.world, r.variant): float(r.weeks_per_episode) for r in variants.itertuples()} \
        if "weeks_per_episode" in variants.columns else {}
    notes = []
    for other in (s.variant for s in settings if s.variant != pick):
        for r in rows.itertuples():
            if {r.variant, r.baseline} == {pick, other} and r.boot_low <= 0 <= r.boot_high:
                sign = 1.0 if r.variant == pick else -1.0
                w = weeks.get((r.world, r.variant), 1.0)
                low, high = sorted((sign * r.boot_low / w, sign * r.boot_high / w))
                notes.append(f"{pick} - {other} {money(sign * r.mean_diff / w)}/week {interval(low, high)} in {r.world}")
                break
    return ("; within noise of " + ", ".join(notes)) if notes else ""


def decide(variants: pd.DataFrame, comparison: pd.DataFrame, criteria: Sequence[Any], baseline: str | None,
           exit_code: int, errors: Sequence[str] = (),
           calibration_spread: dict[tuple[str, str], dict[str, Any]] | None = None) -> Verdict:
    """The verdict of a run (see the module docstring for the rule)."""
    worlds = list(dict.fromkeys(variants["world"])) if len(variants) else []
    settings = outcomes(variants, comparison, criteria, baseline)
    for s in settings:
        s.calibration_spread = {w: [v["low"], v["high"]] for (w, label), v in (calibration_spread or {}).items()
                                if label == s.variant}
    pick = _pick(settings, baseline)
    if errors or pick is None or baseline is None:
        reason = errors[0] if errors else ("one setting only: nothing to choose between" if len(settings) < 2
                                           else "no baseline")
        return Verdict(UNDECIDED, None, baseline, f"No decision: {reason}", [], worlds, settings, exit_code)
    n = len(worlds)
    where = f"in {n} world{'s' if n != 1 else ''}"
    if pick.variant != baseline and pick.gain_usd_per_week and \
            all(mean == low == high == 0 for mean, low, high in pick.gain_usd_per_week.values()):
        return Verdict(UNDECIDED, None, baseline,   # a pick at $0.00/week [0, 0] would be a coin toss
                       f"No decision: {pick.variant} gave the same episodes as {baseline} {where} (every paired "
                       "difference 0): the setting changed nothing here", [], worlds, settings, exit_code)
    if pick.variant == baseline:
        runner = next((s for s in sorted(settings, key=lambda s: s.worst_regret_usd_per_week) if s.variant != baseline), None)
        detail = (f"; next best {runner.variant}, worst-case regret {money(runner.worst_regret_usd_per_week, False)}/week"
                  f" ({runner.worst_regret_world})" if runner else "")
        return Verdict(KEEP_BASELINE, baseline, baseline,
                       f"Keep {baseline} (baseline): no setting earns more in the worst case {where}{detail}",
                       _risks(pick, variants, baseline), worlds, settings, exit_code)
    worst_world, (mean, low, high) = min(pick.gain_usd_per_week.items(), key=lambda kv: kv[1][0]) \
        if pick.gain_usd_per_week else ("", (math.nan,) * 3)
    gain = (f"{money(mean)}/week vs {baseline} {interval(low, high)}" + (f" in its worst world ({worst_world})"
                                                                          if n > 1 else ""))
    wins = f"wins {pick.wins} of {n} world{'s' if n != 1 else ''}"
    regret = f"worst-case regret {money(pick.worst_regret_usd_per_week, False)}/week"
    if pick.gating_misses:
        status, lead = NOT_READY, (f"Not ready: {pick.variant} leads ({gain}; {wins}) but misses "
                                   f"{', '.join(pick.gating_misses)}")
    elif len(pick.beats_baseline_in) < n:
        short = [w for w in worlds if w not in pick.beats_baseline_in]
        status, lead = NOT_PROVEN, (f"Not proven: {pick.variant} leads ({gain}; {wins}) but its gain is within "
                                    f"noise in {', '.join(short)}")
    else:
        status, lead = TAKE_LIVE, f"Take {pick.variant} live: {gain}; {wins}; {regret}"
    lead += _ties(pick.variant, settings, comparison, variants)
    return Verdict(status, pick.variant, baseline, lead, _risks(pick, variants, baseline), worlds, settings, exit_code)
