"""A run's rule values: each job's `rule_values.parquet` (written by hbbatch.campaign.rule_values) gathered
into the run's table, one row per (world, variant, rule, regime, metric), read by the "no new bad rule"
criterion and the report's rule dashboard. Nothing is simulated again.

A setting with several replications (seeds) has one table per job, each over independent episodes: their
values combine exactly as the mean of all pairs (weighted by n_pairs), and each interval's half-widths in
quadrature with the same weights (exact for a normal mean; the bootstrap's asymmetry is kept side by side).
A rule is bad when its value's upper bound (net PnL, all regimes) is below zero.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from hbbatch.report.files import RULE_VALUES

KEYS = ["rule", "regime", "metric"]
INTERVALS = (("low", "high"), ("t_low", "t_high"))
WEIGHTED = ("mean_with_usd", "mean_without_usd")


def _pool(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One setting's rows over its replications (independent episodes): n_pairs-weighted values, interval
    half-widths combined in quadrature."""
    if len(frames) == 1:
        return frames[0].assign(replications=1)
    stacked = pd.concat(frames, ignore_index=True)
    rows = []
    for key, part in stacked.groupby(KEYS, sort=False):
        n = part["n_pairs"].to_numpy(np.float64)
        total = n.sum()
        weights = n / total if total > 0 else np.full(len(n), 1.0 / len(n))
        value = float(np.sum(weights * part["value_usd"].to_numpy(np.float64)))
        row: dict[str, Any] = dict(zip(KEYS, key), variant=part["variant"].iloc[0], value_usd=value,
                                   n_pairs=int(total), replications=len(part))
        v = part["value_usd"].to_numpy(np.float64)
        for low, high in INTERVALS:
            if low in part.columns:
                row[low] = value - float(np.sqrt(np.sum((weights * (v - part[low].to_numpy(np.float64))) ** 2)))
                row[high] = value + float(np.sqrt(np.sum((weights * (part[high].to_numpy(np.float64) - v)) ** 2)))
        for column in WEIGHTED:
            if column in part.columns:
                row[column] = float(np.sum(weights * part[column].to_numpy(np.float64)))
        if "confidence" in part.columns:
            row["confidence"] = float(part["confidence"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)[[c for c in [*frames[0].columns, "replications"]]]


def run_table(jobs: Iterable[Any]) -> pd.DataFrame:
    """The run's rule values from its jobs' tables (`jobs`: labelled hbbatch.report.multirun.Job objects,
    successful and compared); a job without rule_values.parquet contributes nothing. The variant is the
    run's label of the job's settings (a job's own table names its campaign)."""
    grouped: dict[tuple[str, str], list[pd.DataFrame]] = {}
    for job in jobs:
        path = job.dir / RULE_VALUES
        if path.is_file():
            grouped.setdefault((job.world, job.label), []).append(pd.read_parquet(path).assign(variant=job.label))
    tables = [_pool(frames).assign(world=world) for (world, _), frames in grouped.items()]
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame()
    table = pd.concat(tables, ignore_index=True)
    table["n_pairs"] = table["n_pairs"].astype(np.int64)
    return table[["world", *[c for c in table.columns if c != "world"]]]


def of(table: pd.DataFrame, world: str, variant: str) -> pd.DataFrame:
    """The rows of one variant in one world."""
    if table.empty:
        return table
    return table[(table["world"] == world) & (table["variant"] == variant)]


def mark_bad_rules(summary_rules: list[dict[str, Any]], values: pd.DataFrame) -> list[dict[str, Any]]:
    """summary.json's per-rule rows with each rule's value (overall net PnL) beside its totals; `bad` is set
    by the value (upper bound below zero), the attribution's sign kept as `attributed_bad` (marking twice
    changes nothing)."""
    overall = values[(values["regime"] == "all") & (values["metric"] == "net_pnl_usd")].set_index("rule")
    rows = []
    for row in summary_rules:
        row = dict(row)
        row["attributed_bad"] = bool(row.get("attributed_bad", row.get("bad", False)))
        if row["rule"] in overall.index:
            v = overall.loc[row["rule"]]
            row.update(value_usd=float(v["value_usd"]), value_low=float(v["low"]), value_high=float(v["high"]),
                       bad=bool(v["high"] < 0))
        else:   # not a rule (initial position, rails) or not enabled: no counterfactual, never bad
            row.update(value_usd=None, value_low=None, value_high=None, bad=False)
        rows.append(row)
    return rows


def rule_tables(summaries: dict[str, dict[str, Any]], values: pd.DataFrame, world: str) -> dict[str, pd.DataFrame]:
    """Each variant's per-rule rows of one world, for the criteria and the report: a rule is bad by its value
    in the run's table where the variant has values, by the summary's (attribution) otherwise."""
    tables = {}
    for label, summary in summaries.items():
        mine = of(values, world, label)
        tables[label] = pd.DataFrame(mark_bad_rules(summary["rules"], mine) if len(mine) else summary["rules"])
    return tables
