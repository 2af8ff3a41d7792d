"""What each rule is worth: the variant run again with one rule switched off, on the same seeds.

Common random numbers make the comparison exact: an episode with the rule and the same episode
without it see the same market path, so their difference in net PnL (and in PnL vs HODL) is the
rule's value in that episode. Only the episodes in which the rule fired are run again: in the others
nothing changes without it (`counterfactual_runs` says why), so their episodes without the rule are the
job's own. Rules are traced flags (`AgentParams.rule_enabled`), one row per episode, so the re-runs of all
rules of a job go in one list through the job's compiled batch (or, with `rule_values.resume`, resume
from the job's own checkpoints: hbbatch/sim/resume.py). A rule is "bad" when its value's upper bound (the
bootstrap interval's) is below zero: switching it off would have earned more. Holding-period
attribution (`attributed_pnl_usd` in rules.parquet) stays as a diagnostic under that name: it credits
a rule with the PnL of the position it set until the next action, which says nothing about what
the episode would have earned without the rule.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from hbbatch import io as hbio
from hbbatch import tables
from hbbatch.config.sim import REGIMES, RULES
from hbbatch.report.files import EPISODES, RULE_VALUES, RULES as RULES_TABLE
from hbbatch.report.rule_values import mark_bad_rules
from hbbatch.stats import compare_pair

log = logging.getLogger(__name__)
VALUE_METRICS = ("net_pnl_usd", "pnl_vs_hodl_usd")
# what a re-run episode replaces; the market columns are taken from it too, so pairing still checks the path
CHANGED_COLUMNS = (*VALUE_METRICS, "regime", "price_start", "realized_vol")
COLUMNS = ["variant", "rule", "regime", "metric", "value_usd", "low", "high", "n_pairs", "t_low", "t_high",
           "mean_with_usd", "mean_without_usd", "confidence"]


def valued_stop(config: dict[str, Any], start: int, stop: int) -> int:
    """The end of the episodes whose rule values are computed: the job's first `rule_values.max_episodes`."""
    return min(stop, start + int(config["rule_values"]["max_episodes"]))


def fired_episodes(fires: pd.DataFrame, rule: str, start: int, stop: int) -> np.ndarray:
    """Episodes start .. stop - 1 in which `rule` fired (rules.parquet's `fires` > 0: it was asked for, off
    cooldown, while the rails allowed actions), ascending."""
    part = fires[(fires["rule"] == rule) & (fires["fires"] > 0) & (fires["episode"] >= start)
                 & (fires["episode"] < stop)]
    return np.unique(part["episode"].to_numpy(np.int64))


def counterfactual_runs(config: dict[str, Any], fires: pd.DataFrame, start: int,
                        stop: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """What must be re-run: (rules, the rule of each run as an index into them, its episode, its enabled-rule
    flags), every enabled rule's fired episodes in one list.

    Only those: an episode in which a rule never fired is the same episode without it. The rule chosen at a
    step is the first enabled trigger (hbbatch.sim.policy.propose), and it matters only when it is
    considered: asked off cooldown while the rails are free (hbbatch.sim.rails.apply), which is what `fires`
    counts. At every other step the rails hold the position whatever was asked (nothing the policy proposed
    reaches execution, memory or the rails' counters), so with the rule off every step, hence every dollar,
    is the same."""
    rules = list(config["agent"]["rules"]["enabled"])
    enabled = np.asarray([r in rules for r in RULES])
    fired = [fired_episodes(fires, rule, start, stop) for rule in rules]
    which = np.concatenate([np.full(len(e), i, np.int64) for i, e in enumerate(fired)] + [np.zeros(0, np.int64)])
    episodes = np.concatenate(fired + [np.zeros(0, np.int64)])
    masks = np.repeat(enabled[None, :], len(episodes), axis=0)
    masks[np.arange(len(episodes)), [RULES.index(rules[i]) for i in which]] = False
    return rules, which, episodes, masks


def rule_values(config: dict[str, Any], episodes: pd.DataFrame, fires: pd.DataFrame, label: str, start: int,
                stop: int, simulate_counterfactuals: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """rule_values.parquet's rows for a job whose episodes are `episodes` (episode indices start .. stop - 1)
    and whose rules.parquet rows are `fires` (episode, rule, fires): per enabled rule, metric and regime
    ("all" overall), the paired value with - without the rule. The episodes without the rule are the job's
    own where it never fired, and re-run where it did (`counterfactual_runs`), all rules' in one list.
    `simulate_counterfactuals` is hbbatch.campaign.stream's (passed in: stream calls this module)."""
    stats_conf = config["stats"]
    job_episodes, stop = stop - start, valued_stop(config, start, stop)
    with_rule = episodes[(episodes["episode"] >= start) & (episodes["episode"] < stop)]
    rules, which, runs, masks = counterfactual_runs(config, fires, start, stop)
    rerun = simulate_counterfactuals(config, runs, masks, job_episodes) if len(runs) else None
    log.info("[%s] rule values: %d counterfactual episodes re-run for %d rules (of %d x %d)", label, len(runs),
             len(rules), len(rules), len(with_rule))
    rows = pd.Index(with_rule["episode"]).get_indexer(runs)   # each run's row in the job's episodes
    if (rows < 0).any():
        missing = sorted(set(runs[rows < 0].tolist()))[:5]
        raise ValueError(f"[{label}] rules.parquet has episodes that episodes.parquet lacks: {missing}")
    frames = []
    for index, rule in enumerate(rules):
        without, mine = with_rule.copy(), which == index
        for column in CHANGED_COLUMNS if mine.any() else ():
            values = without[column].to_numpy(copy=True)
            values[rows[mine]] = rerun[column].to_numpy()[mine]
            without[column] = values
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
        log.info("[%s] value of %s: %+.2f USD/episode net PnL [%+.2f, %+.2f] over %d pairs (%d re-run)", label,
                 rule, overall["value_usd"], overall["low"], overall["high"], overall["n_pairs"],
                 int((which == index).sum()))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def read_fires(path: Path, rules: list[str], start: int, stop: int) -> pd.DataFrame:
    """rules.parquet's (episode, rule, fires) rows of these rules in episodes start .. stop - 1, one row group
    at a time (bounded memory at any job size)."""
    parts = [frame[frame["rule"].isin(rules) & (frame["episode"] >= start) & (frame["episode"] < stop)]
             for frame in tables.iter_frames(path, ["episode", "rule", "fires"])]
    return pd.concat(parts, ignore_index=True)


def classifier_confusion(episodes: pd.DataFrame | Iterable[pd.DataFrame],
                         regimes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Share of steps per (true regime, estimated regime), from episodes.parquet's steps_classified_* columns
    (one frame, or its row groups one at a time: counts are summed, so memory stays one row group's);
    a true regime with no episode is left out."""
    columns = [f"steps_classified_{r}" for r in regimes]
    counts: dict[str, np.ndarray] = {}
    for frame in [episodes] if isinstance(episodes, pd.DataFrame) else episodes:
        if not set(columns) <= set(frame.columns):
            return {}
        for regime, part in frame.groupby("regime", sort=False):
            total = part[columns].to_numpy(np.float64).sum(axis=0)
            counts[str(regime)] = counts[str(regime)] + total if str(regime) in counts else total
    return {r: {e: float(c / counts[r].sum()) for e, c in zip(regimes, counts[r])}
            for r in regimes if r in counts and counts[r].sum() > 0}


def _episode_range(path: Path) -> tuple[int, int]:
    """(first, last + 1) episode index of a job's episodes.parquet, one row group at a time; (0, 0) if empty."""
    first, last = None, None
    for frame in tables.iter_frames(path, ["episode"]):
        if len(frame):
            low, high = int(frame["episode"].min()), int(frame["episode"].max())
            first, last = low if first is None else min(first, low), high if last is None else max(last, high)
    return (0, 0) if first is None else (first, last + 1)


def add_to_job(out: Path, config: dict[str, Any], summary: dict[str, Any], label: str,
               simulate_counterfactuals: Callable[..., pd.DataFrame]) -> None:
    """A finished job's classifier confusion (into `summary`) and, when `rule_values.enabled`, its
    rule values: out/rule_values.parquet, and the per-rule rows of `summary` marked by them. The table is read
    one row group at a time, and only the valued episodes are kept (at 10 M episodes the whole table's
    columns alone took about 1.7 GB)."""
    summary["classifier_confusion"] = classifier_confusion(
        tables.iter_frames(out / EPISODES, ["regime", *[f"steps_classified_{r}" for r in REGIMES]]), REGIMES)
    start, stop = _episode_range(out / EPISODES)
    if not config["rule_values"]["enabled"] or stop == start:
        return
    columns = ["episode", "regime", "seed", "net_pnl_usd", "pnl_vs_hodl_usd", "price_start", "realized_vol"]
    valued = valued_stop(config, start, stop)
    episodes = pd.concat([frame[frame["episode"].to_numpy() < valued]
                          for frame in tables.iter_frames(out / EPISODES, columns)], ignore_index=True)
    fires = read_fires(out / RULES_TABLE, config["agent"]["rules"]["enabled"], start, valued)
    values = rule_values(config, episodes, fires, label, start, stop, simulate_counterfactuals)
    hbio.write_parquet(out / RULE_VALUES, values)
    summary["rules"] = mark_bad_rules(summary["rules"], values)
    summary["rule_values"] = RULE_VALUES
