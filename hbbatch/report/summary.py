"""One variant's numbers: means with intervals, widen share, gas, the hard cap, and per-rule totals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hbbatch import stats

# Metrics summarised per variant (titles with units live in hbbatch.report.metrics).
SUMMARY_METRICS = ("net_pnl_usd", "return", "gas_usd", "actions", "widen_share", "widens", "fees_usd",
                   "pnl_vs_hodl_usd", "time_in_range", "max_drawdown")
NOT_A_RULE = ("initial",)   # the opening position: no decision, no gas


def max_actions_per_window(episodes: pd.DataFrame, window_episodes: int) -> int:
    """Most gas-paying actions in any N consecutive episodes (all of them when fewer than N ran)."""
    actions = episodes.sort_values("episode")["actions"].to_numpy(np.int64)
    if actions.size == 0:
        return 0
    window = min(int(window_episodes), actions.size)
    sums = np.convolve(actions, np.ones(window, dtype=np.int64), mode="valid")
    return int(sums.max())


def rule_totals(rules: pd.DataFrame) -> pd.DataFrame:
    """Per rule over all episodes: fires, actions, share of the variant's actions, gas, attributed PnL."""
    table = (rules.groupby("rule", sort=False)[["fires", "actions", "gas_usd", "attributed_pnl_usd"]].sum()
             .reset_index())
    decisions = table[~table["rule"].isin(NOT_A_RULE)]
    total_actions = decisions["actions"].sum()
    table["action_share"] = table["actions"] / total_actions if total_actions > 0 else 0.0
    table.loc[table["rule"].isin(NOT_A_RULE), "action_share"] = 0.0
    table["bad"] = (table["attributed_pnl_usd"] < 0) & ~table["rule"].isin(NOT_A_RULE)
    return table


def _metrics(episodes: pd.DataFrame, confidence: float, n_bootstrap: int, seed: int, label: str,
             metrics: Sequence[str]) -> dict[str, Any]:
    overall = stats.describe_metrics(episodes, list(metrics), confidence, n_bootstrap, seed, label)
    per_regime = {}
    for regime in stats.REGIMES:
        part = episodes[episodes["regime"] == regime]
        per_regime[regime] = {"n": int(len(part)), **{m: stats.estimate(part, m) for m in metrics}}
    return {"n_episodes": int(len(episodes)), "metrics": overall, "per_regime": per_regime}


def summarize(episodes: pd.DataFrame, rules: pd.DataFrame, *, rails: dict[str, Any], confidence: float,
              n_bootstrap: int, seed: int, label: str, metrics: Sequence[str] = SUMMARY_METRICS) -> dict[str, Any]:
    """The numbers of summary.json for one variant."""
    window = int(rails["max_actions_episodes"])
    return {
        **_metrics(episodes, confidence, n_bootstrap, seed, label, metrics),
        "hard_cap": {"max_actions": int(rails["max_actions"]), "window_episodes": window,
                     "max_actions_per_window": max_actions_per_window(episodes, window)},
        "rules": rule_totals(rules).to_dict(orient="records"),
    }


def pooled_summary(episodes: pd.DataFrame, summaries: Sequence[dict[str, Any]], *, confidence: float,
                   n_bootstrap: int, seed: int, label: str, metrics: Sequence[str] = SUMMARY_METRICS,
                   recompute: bool = False) -> dict[str, Any]:
    """One variant's summary over its replications (jobs of different seeds): metrics over the pooled episodes,
    rule totals summed, the hard cap's worst window of any replication (windows never span two seeds).
    `recompute`: metrics from `episodes` even for one job (a subset of its episodes: out-of-sample windows)."""
    if len(summaries) == 1 and not recompute:
        return {**summaries[0], "replications": 1}
    caps = [s["hard_cap"] for s in summaries]
    rules = pd.concat([pd.DataFrame(s["rules"]) for s in summaries], ignore_index=True)
    return {
        **_metrics(episodes, confidence, n_bootstrap, seed, label, metrics),
        "hard_cap": {"max_actions": min(c["max_actions"] for c in caps), "window_episodes": caps[0]["window_episodes"],
                     "max_actions_per_window": max(c["max_actions_per_window"] for c in caps)},
        "rules": rule_totals(rules).to_dict(orient="records"),
        "replications": len(summaries),
    }


PER_WEEK_METRICS = ("net_pnl_usd", "pnl_vs_hodl_usd", "gas_usd")   # shown in dollars per week beside return


def variant_row(label: str, summary: dict[str, Any], world: str = "default",
                weeks_per_episode: float = 1.0) -> dict[str, Any]:
    """A flat row of the variants table (criteria and the final table read it); `<metric>_per_week_*` are the
    dollar metrics divided by the episode's length in weeks."""
    m = summary["metrics"]
    n = max(summary["n_episodes"], 1)
    cap = summary["hard_cap"]
    row = {"world": world, "variant": label, "n_episodes": summary["n_episodes"],
           "replications": summary.get("replications", 1), "weeks_per_episode": weeks_per_episode}
    for metric in ("net_pnl_usd", "return", "pnl_vs_hodl_usd"):
        if metric not in m:
            continue
        for key in ("estimate", "t_low", "t_high", "boot_low", "boot_high"):
            row[f"{metric}_{key}" if key != "estimate" else f"{metric}_mean"] = m[metric][key]
    for metric in PER_WEEK_METRICS:
        if metric in m:
            for key in ("estimate", "boot_low", "boot_high"):
                row[f"{metric}_per_week_{'mean' if key == 'estimate' else key}"] = m[metric][key] / weeks_per_episode
    if "max_drawdown" in m:
        row["max_drawdown_mean"] = m["max_drawdown"]["estimate"]
    row.update({
        "widen_share": m["widen_share"]["estimate"],
        "gas_per_episode_usd": m["gas_usd"]["estimate"],
        "actions_per_episode": m["actions"]["estimate"],
        "widens_per_episode": m["widens"]["estimate"] if "widens" in m else np.nan,
        "total_actions": int(round(m["actions"]["estimate"] * n)),
        "max_actions": cap["max_actions"],
        "hard_cap_window_episodes": cap["window_episodes"],
        "max_actions_per_window": cap["max_actions_per_window"],
    })
    return row
