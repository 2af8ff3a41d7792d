"""What each rule is worth: the variant run again with one rule switched off, on the same seeds.

Common random numbers make the comparison exact: an episode with the rule and the same episode
without it see the same market path, so their difference in net PnL (and in PnL vs HODL) is the
rule's value in that episode. Rules are traced flags (`AgentParams.rule_enabled`), so every
counterfactual reuses the job's compiled batch. A rule is "bad" when its value's upper bound (the
bootstrap interval's) is below zero: switching it off would have earned more. Holding-period
attribution (`attributed_pnl_usd` in rules.parquet) stays as a diagnostic under that name: it credits
a rule with the PnL of the position it set until the next action, which says nothing about what
the episode would have earned without the rule.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from hbbatch import io as hbio
from hbbatch.config.sim import REGIMES
from hbbatch.report.files import RULE_VALUES
from hbbatch.report.rule_values import mark_bad_rules
from hbbatch.stats import compare_pair

log = logging.getLogger(__name__)
VALUE_METRICS = ("net_pnl_usd", "pnl_vs_hodl_usd")
COLUMNS = ["variant", "rule", "regime", "metric", "value_usd", "low", "high", "n_pairs", "t_low", "t_high",
           "mean_with_usd", "mean_without_usd", "confidence"]


def without_rule(config: dict[str, Any], rule: str) -> dict[str, Any]:
    """The job's config with one rule switched off (nothing else changes)."""
    changed = copy.deepcopy(config)
    rules = changed["agent"]["rules"]
    rules["enabled"] = [r for r in rules["enabled"] if r != rule]
    return changed


def rule_values(config: dict[str, Any], episodes: pd.DataFrame, label: str, start: int, stop: int,
                simulate_frames: Callable[..., Any]) -> pd.DataFrame:
    """rule_values.parquet's rows for a job whose episodes are `episodes` (episode indices start .. stop - 1):
    per enabled rule, metric and regime ("all" overall), the paired value with - without the rule.
    `simulate_frames` is hbbatch.campaign.stream's (passed in: stream calls this module, not the reverse)."""
    settings, stats_conf = config["rule_values"], config["stats"]
    stop = min(stop, start + int(settings["max_episodes"]))
    with_rule = episodes[(episodes["episode"] >= start) & (episodes["episode"] < stop)]
    frames = []
    for rule in config["agent"]["rules"]["enabled"]:
        batches = simulate_frames(without_rule(config, rule), start, stop, config["scale"]["batch_episodes"])
        without = pd.concat([b[0] for b in batches], ignore_index=True)
        paired = compare_pair(with_rule, without, VALUE_METRICS, variant_label=label,
                              baseline_label=f"{label} without {rule}", confidence=stats_conf["confidence"],
                              n_bootstrap=stats_conf["n_bootstrap"], seed=stats_conf["bootstrap_seed"])
        frames.append(pd.DataFrame({
            "variant": label, "rule": rule, "regime": paired["regime"], "metric": paired["metric"],
            "value_usd": paired["mean_diff"], "low": paired["boot_low"], "high": paired["boot_high"],
            "n_pairs": paired["n_pairs"].astype(np.int64), "t_low": paired["t_low"], "t_high": paired["t_high"],
            "mean_with_usd": paired["mean_variant"], "mean_without_usd": paired["mean_baseline"],
            "confidence": paired["confidence"]}))
        overall = frames[-1][(frames[-1]["regime"] == "all") & (frames[-1]["metric"] == "net_pnl_usd")].iloc[0]
        log.info("[%s] value of %s: %+.2f USD/episode net PnL [%+.2f, %+.2f] over %d pairs", label, rule,
                 overall["value_usd"], overall["low"], overall["high"], overall["n_pairs"])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def classifier_confusion(episodes: pd.DataFrame, regimes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Share of steps per (true regime, estimated regime), from episodes.parquet's steps_classified_* columns;
    a true regime with no episode is left out."""
    columns = [f"steps_classified_{r}" for r in regimes]
    if not set(columns) <= set(episodes.columns):
        return {}
    out = {}
    for regime, part in episodes.groupby("regime", sort=False):
        counts = part[columns].to_numpy(np.float64).sum(axis=0)
        total = counts.sum()
        if total > 0:
            out[str(regime)] = {r: float(c / total) for r, c in zip(regimes, counts)}
    return {r: out[r] for r in regimes if r in out}


def add_to_job(out: Path, config: dict[str, Any], summary: dict[str, Any], label: str,
               simulate_frames: Callable[..., Any]) -> None:
    """A finished job's classifier confusion (into `summary`) and, when `rule_values.enabled`, its
    rule values: out/rule_values.parquet, and the per-rule rows of `summary` marked by them."""
    columns = ["episode", "regime", "seed", "net_pnl_usd", "pnl_vs_hodl_usd", "price_start", "realized_vol",
               *[f"steps_classified_{r}" for r in REGIMES]]
    episodes = pd.read_parquet(out / "episodes.parquet", columns=columns)
    summary["classifier_confusion"] = classifier_confusion(episodes, REGIMES)
    if not config["rule_values"]["enabled"] or episodes.empty:
        return
    start = int(episodes["episode"].min())
    values = rule_values(config, episodes, label, start, int(episodes["episode"].max()) + 1, simulate_frames)
    hbio.write_parquet(out / RULE_VALUES, values)
    summary["rules"] = mark_bad_rules(summary["rules"], values)
    summary["rule_values"] = RULE_VALUES
