"""The optimiser's objective (`+experiment=optimise`, Hydra's Optuna sweeper): the paired gain in net PnL per
week of a trial's settings over the baseline's, on a walk-forward split of the episodes.

In the `replay` world episode e is the e-th consecutive window of the history, so the split is in time: the
first `optimise.fit_share` of the windows are in-sample (the search sees only these), the rest out-of-sample
(scored once, for the report). The baseline runs once per search, before the first trial, with the base
config's settings (the experiment's campaign, no searched value applied), into `<sweep dir>/baseline/`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from hbbatch import io as hbio
from hbbatch import stats
from hbbatch.campaign.job import EPISODES, SUMMARY, JobInfo, run_job

log = logging.getLogger(__name__)
BASELINE_DIR, OBJECTIVE = "baseline", "objective.json"
IN_SAMPLE, OUT_OF_SAMPLE = "in_sample", "out_of_sample"


def split_episodes(episodes: pd.DataFrame, fit_share: float) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(in-sample, out-of-sample, first out-of-sample episode): episodes before and from round(n x fit_share)."""
    indices = sorted(int(e) for e in episodes["episode"].unique())
    n_fit = min(max(1, int(round(len(indices) * float(fit_share)))), len(indices) - 1) if len(indices) > 1 else 1
    first_out = indices[n_fit] if n_fit < len(indices) else indices[-1] + 1
    return episodes[episodes["episode"] < first_out], episodes[episodes["episode"] >= first_out], first_out


def walk_forward(trial: pd.DataFrame, baseline: pd.DataFrame, *, fit_share: float, weeks_per_episode: float,
                 confidence: float, n_bootstrap: int, seed: int, label: str = "trial") -> dict[str, Any]:
    """Paired net PnL gain per week over the baseline, in-sample and out-of-sample, each with its intervals."""
    out: dict[str, Any] = {"fit_share": fit_share, "weeks_per_episode": weeks_per_episode}
    trial_in, trial_out, first_out = split_episodes(trial, fit_share)
    base_in, base_out, _ = split_episodes(baseline, fit_share)
    out["first_out_of_sample_episode"] = first_out
    for name, v, b in ((IN_SAMPLE, trial_in, base_in), (OUT_OF_SAMPLE, trial_out, base_out)):
        if v.empty or b.empty:
            out[name] = None
            continue
        row = stats.compare_pair(v, b, ["net_pnl_usd"], variant_label=f"{label}|{name}", baseline_label="baseline",
                                 confidence=confidence, n_bootstrap=n_bootstrap, seed=seed).iloc[0]
        out[name] = {"n_pairs": int(row.n_pairs), "paired_share": float(row.paired_share),
                     **{k: float(getattr(row, k)) / weeks_per_episode
                        for k in ("mean_diff", "boot_low", "boot_high", "t_low", "t_high")}}
    return out


def trial_objective(job_dir: Path, config: dict[str, Any], sweep_dir: Path) -> float | None:
    """The in-sample gain per week the search maximises (None for a failed trial: Optuna records it failed);
    both halves go to <job>/objective.json."""
    record = hbio.read_json(job_dir / SUMMARY)
    baseline_dir = sweep_dir / BASELINE_DIR
    if record.get("status") != "success" or not (baseline_dir / EPISODES).is_file():
        return None
    stats_conf, opt = config["stats"], config["optimise"]
    result = walk_forward(pd.read_parquet(job_dir / EPISODES), pd.read_parquet(baseline_dir / EPISODES),
                          fit_share=float(opt["fit_share"]), weeks_per_episode=float(record["weeks_per_episode"]),
                          confidence=float(stats_conf["confidence"]), n_bootstrap=int(stats_conf["n_bootstrap"]),
                          seed=int(stats_conf["bootstrap_seed"]), label=job_dir.name)
    hbio.write_json(job_dir / OBJECTIVE, result)
    value = (result.get(IN_SAMPLE) or {}).get("mean_diff")
    return float(value) if value is not None and math.isfinite(value) else None


class OptimiseCallback(Callback):
    """Runs the search's baseline once, before the first trial (the experiment adds this callback)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        plain = {k: OmegaConf.to_container(config[k], resolve=True) if OmegaConf.is_config(config[k]) else config[k]
                 for k in config if k != "hydra"}
        out = sweep_dir / BASELINE_DIR
        log.info("optimise: baseline (%s, the base config's settings) into %s", plain.get("campaign"), out)
        run_job(plain, JobInfo(output_dir=str(out), num=-1, overrides=list(config.hydra.overrides.task),
                               mode="MULTIRUN"))
        record = hbio.read_json(out / SUMMARY)
        hbio.write_json(out / SUMMARY, {**record, "role": "baseline"})
