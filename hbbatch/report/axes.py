"""The axes of a multirun: which swept keys are agent settings (variants, compared), which make the world
(scenarios: settings are compared inside each), and which are replications (seeds: pooled).

A job's overrides are sorted onto the three axes by their keys:
- replication: `seed`; jobs that differ only by seed are one variant's replications, pooled, never judged
  against each other;
- scenario: `world` and the world's own sections (`world.*`, `market.*`, `regime_mix*`, `n_steps`, `dtype`);
- setting: everything else a job varies (`campaign`, `floors.*`, `agent.*`, `gating`, ...).
Keys that only say where files go or how the run is judged are not an axis.

The baseline is `criteria.baseline` where set; otherwise the job that runs the base config's value of every
swept setting (`-m floors.mean_revert=800,1000,1200` is judged against the configured 1200), and for a sweep
of campaigns the roadmap's baseline campaign (`criteria.baseline_campaign`, A).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

REPLICATION, SCENARIO, SETTING, IGNORED = "replication", "scenario", "setting", "ignored"
REPLICATION_KEYS = ("seed",)
SCENARIO_KEYS = ("world", "market", "regime_mix", "n_steps", "dtype")
IGNORED_KEYS = ("experiment", "experiment_name", "hydra", "paths", "criteria", "stats", "report", "task", "shard", "shards",
                "optimise")
DEFAULT_WORLD = "default"


class AxisError(ValueError):
    """The sweep names no baseline that a job runs, or compares settings across worlds."""


def axis_of(key: str) -> str:
    """The axis an override's key belongs to (`floors.mean_revert` -> setting, `world` -> scenario)."""
    root = key.lstrip("+~").split(".", 1)[0].split("/", 1)[0]
    if root in REPLICATION_KEYS:
        return REPLICATION
    if root in SCENARIO_KEYS:
        return SCENARIO
    if root in IGNORED_KEYS:
        return IGNORED
    return SETTING


def parse_overrides(overrides: Sequence[str]) -> dict[str, str]:
    """`["campaign=A", "+experiment=three_way"]` -> {"campaign": "A", "experiment": "three_way"}."""
    pairs = (o.split("=", 1) for o in overrides if "=" in o)
    return {k.lstrip("+~"): v for k, v in pairs}


def varying_keys(parsed: Sequence[Mapping[str, str]], axis: str) -> list[str]:
    """The keys of one axis whose value differs between jobs, in first-seen order."""
    keys = list(dict.fromkeys(k for p in parsed for k in p))
    return [k for k in keys if axis_of(k) == axis and len({p.get(k) for p in parsed}) > 1]


def setting_label(values: Mapping[str, str], keys: Sequence[str], campaign: str | None) -> str:
    """`A` for a campaign, `floors.mean_revert=800` for a swept key; the campaign when nothing varies."""
    parts = [values.get(k, "-") if k == "campaign" else f"{k}={values.get(k, '-')}" for k in keys]
    return ",".join(parts) or str(campaign or "default")


def world_label(values: Mapping[str, str], keys: Sequence[str], world: str | None) -> str:
    """The scenario's name: the swept world's name (`world=stress` -> `stress`), else the job's world."""
    parts = [values.get(k, "-") if k == "world" else f"{k}={values.get(k, '-')}" for k in keys]
    return ",".join(parts) or str(world or DEFAULT_WORLD)


def _same_value(override: str, base: Any) -> bool:
    """An override's text against the base config's value: `1200` matches 1200.0, `A` matches 'A'."""
    try:
        parsed = yaml.safe_load(override)
    except yaml.YAMLError:
        parsed = override
    if isinstance(parsed, (int, float)) and isinstance(base, (int, float)) and not isinstance(base, bool):
        return math.isclose(float(parsed), float(base), rel_tol=1e-12, abs_tol=0.0)
    return parsed == base or str(parsed) == str(base)


def select(config: Mapping[str, Any], key: str) -> Any:
    """`floors.mean_revert` from a nested mapping; None where a part is missing."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def default_baseline(settings: Mapping[str, Mapping[str, str]], keys: Sequence[str], base: Mapping[str, Any],
                     baseline_campaign: str | None) -> str:
    """The setting that runs the base config's value of every swept key (campaign: the roadmap's baseline).

    `settings`: label -> its values of the swept setting keys. Raises AxisError naming the values looked for.
    """
    wanted = {}
    for key in keys:
        wanted[key] = baseline_campaign if key == "campaign" else select(base, key)
    for label, values in settings.items():
        if all(k in values and _same_value(values[k], wanted[k]) for k in keys):
            return label
    described = ", ".join(f"{k}={wanted[k]}" for k in keys)
    raise AxisError(f"criteria.baseline: not set, and no job runs the base config's settings ({described}); "
                    f"add that value to the sweep or set criteria.baseline to one of {', '.join(settings)}")
