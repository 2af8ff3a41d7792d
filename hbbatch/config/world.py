"""The world a campaign's market paths come from (`conf/world/<name>.yaml`, `world=<name>`).

kind:
  historical  stationary block bootstrap of real ETH history (hbbatch/data/history or world.history)
  replay      consecutive non-overlapping windows of a history in time order (walk-forward)
  parametric  the regime model of `market.*` (the `regimes` world)
Stress worlds are historical worlds with one assumption changed (conf/world/stress_*.yaml).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from hbbatch.config.bounds import bounded, one_of, plain_name
from hbbatch.config.world_validation import WorldValidationConf

WORLD_KINDS = ("historical", "replay", "parametric")
WITHIN_BAR = ("profile", "flat")
RECENTER_GAS_UNITS = 787_760.0  # burn + collect + swap + mint: hbbatch/calibration/gas.py
# The gas the user pays once the settings go live: one recenter at the median of the latest 30 days of the
# embedded Etherscan daily gas (hbbatch/data/history/gas_daily.parquet, 2026-05-04 .. 2026-06-02: 0.946 gwei,
# ETH $2,129: $1.62), the days of the calibration's gas fit (calibration_report.json fits.gas). History's own
# gas on its dates (2020-01 .. 2025-04) has a median of $38 a recenter, 24x this; its day-to-day spread and
# its link to |return| are kept, the level is today's. tests/config/test_world_gas.py checks it on the data.
DEPLOYMENT_GAS_USD_MEDIAN = 1.62


@dataclass
class WorldConf:
    name: str = plain_name("historical")     # the scenario label (report, manifest, comparisons)
    kind: str = one_of("historical", WORLD_KINDS)  # historical | replay | parametric
    description: str = ""
    history: Optional[str] = None            # a bars file (parquet/feather/CSV date,open,high,low,close[,volume],
                                             # or demeter minute bars); null: the embedded Binance ETH/USDT history
    bar_minutes: Optional[int] = bounded(None, ge=1, le=60)  # embedded bars to read (1, 5, 60); null: the finest
                                             # that covers history_start .. history_end
    history_start: Optional[str] = "2020-01-01"   # the real window the world draws from (UTC dates; null: all)
    history_end: Optional[str] = None        # (world validation compares against the same window by default)
    # mean block length of the stationary bootstrap: 30 days keep the weekly volatility clustering the
    # world validation checks (ACF of |hourly r| at 168 h); a day's or a week's blocks wipe it out (README)
    block_hours: float = bounded(720.0, gt=0, le=100_000)
    # how a bar coarser than the step spreads its variance over its steps: profile (a real hour's 5-minute
    # variance profile, drawn per bar: hbbatch/worlds/profiles.py; bars of 5 minutes or less stay flat) or
    # flat (the bar's variance held flat over its steps, as before)
    within_bar: str = one_of("profile", WITHIN_BAR)
    drift_annual: float = bounded(0.0, ge=-50, le=50)  # added to every step's log return (stress_down_trend)
    # the history's gas per action rescaled to this median (default: the deployment level); null: as history,
    # each date's real cost
    gas_median_usd: Optional[float] = bounded(DEPLOYMENT_GAS_USD_MEDIAN, ge=0, le=100_000)
    # with gas_median_usd set, each day's gas is first taken relative to the median of the gas_level_days days
    # centred on it: the history's day-to-day spread (log sd 0.44 at 90 days, 2020-2025) and its link to
    # |return| stay, its change of level over the years (log sd 1.40 of the raw days, $213 a recenter in 2021,
    # $5 in 2025) goes. The deployment month's own spread is 0.49 (2026-05/06); 30 days: 0.34, 180: 0.55.
    gas_level_days: int = bounded(90, ge=1, le=3650)
    gas_units: float = bounded(RECENTER_GAS_UNITS, gt=0, le=1e8)  # gas of one action, for gas price -> USD
    lp_fee_share: float = bounded(1.0, ge=0, le=1)  # the LPs' share of the pool fee (fee switch: 0.75)
    pool_fee_bp: int = bounded(5, ge=5, le=30)  # which embedded pool history sets volume and liquidity levels
    validate: bool = True                    # false: simulate without checking the world (the manifest says so)
    validation: WorldValidationConf = field(default_factory=WorldValidationConf)


# Stress assumptions: world field -> the fact groups it moves by construction. A world that sets one of them
# differently from the default world (WorldConf) is a stress world and may exempt those facts from its
# validation (world.validation.exempt_facts); a world that changes none (historical, replay, the parametric
# regimes world, whose market is market.*) has nothing to be exempted from.
STRESS_ASSUMPTIONS = {
    "drift_annual": ("weekly_abs_return", "band_stay_share", "time_in_range", "fee_apr"),
    "gas_median_usd": ("gas_per_action_usd",),
    "lp_fee_share": ("fee_apr",),
}


def changed_assumptions(world: Mapping[str, Any]) -> list[str]:
    """The stress assumptions a world section sets differently from the default world (none in a parametric
    world: they act on history)."""
    if world.get("kind", "historical") == "parametric":
        return []
    default = WorldConf()
    return [key for key in STRESS_ASSUMPTIONS if world.get(key, getattr(default, key)) != getattr(default, key)]


def suite_facts(expectations_dir: str | Path, suite: str) -> list[str] | None:
    """The facts a world suite checks (the columns of its expectations); None if the file cannot be read
    (the validation itself then says so)."""
    path = Path(expectations_dir) / "world" / f"{suite}.json"
    try:
        expectations = json.loads(path.read_text()).get("expectations", [])
    except (OSError, ValueError, AttributeError):
        return None
    return [e.get("kwargs", {}).get("column") for e in expectations if isinstance(e, dict)]


def exemption_problems(world: Mapping[str, Any], expectations_dir: str | Path | None) -> list[str]:
    """world.validation.exempt_facts refused, one line each: a name that is not a fact of the suite, a
    missing reason, any exemption in a world that changes no stress assumption, or a fact that none of
    the world's changed assumptions moves."""
    validation = world.get("validation") or {}
    exempt = validation.get("exempt_facts") or {}
    if not exempt:
        return []
    key, name = "world.validation.exempt_facts", world.get("name", "?")
    facts = suite_facts(expectations_dir, validation.get("suite", "stylised_facts")) if expectations_dir else None
    out = [f"{key}.{fact}: not a fact of the world suite {validation.get('suite', 'stylised_facts')}; "
           f"use one of {', '.join(facts)}" for fact in exempt if facts is not None and fact not in facts]
    out += [f"{key}.{fact}: give a one-line reason why world {name} changes it on purpose"
            for fact, reason in exempt.items() if not isinstance(reason, str) or not reason.strip() or "\n" in reason]
    if out:
        return out
    changed = changed_assumptions(world)
    if not changed:
        return [f"{key}: world {name} changes none of the default world's assumptions ({', '.join(STRESS_ASSUMPTIONS)}), "
                f"so none of its facts can be exempted; world.validate=false runs it unchecked (recorded)"]
    groups = [g for c in changed for g in STRESS_ASSUMPTIONS[c]]
    return [f"{key}.{fact}: world {name} changes {', '.join(changed)}, which does not move this fact by construction "
            f"(it moves {', '.join(g + '*' for g in groups)})" for fact in exempt if not fact.startswith(tuple(groups))]
