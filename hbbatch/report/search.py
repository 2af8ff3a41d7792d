"""An optimiser's run (`+experiment=optimise`) after the trials: every trial's in-sample and out-of-sample gain
over the baseline side by side, and the one trial the report judges: the best in-sample, on the out-of-sample
windows only (choosing by out-of-sample figures would make them in-sample)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hbbatch import io as hbio
from hbbatch.report import axes

OBJECTIVE = "objective.json"   # written by each trial (hbbatch.campaign.objective)
BASELINE_LABEL = "baseline"


@dataclass
class Search:
    trials: list[dict[str, Any]] = field(default_factory=list)   # one row per trial: label, params, both gains
    best: str | None = None
    first_out_of_sample_episode: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"trials": self.trials, "best": self.best,
                "first_out_of_sample_episode": self.first_out_of_sample_episode}


def label_search(jobs: list[Any]) -> Search:
    """Label the baseline `baseline` and each trial `trial <n>`; read every trial's walk-forward gains."""
    parsed = [axes.parse_overrides(j.record.get("overrides", [])) for j in jobs]
    searched = axes.varying_keys(parsed, axes.SETTING)
    search = Search()
    best_value = -math.inf
    for job, values in zip(jobs, parsed):
        job.world = str(job.record.get("world") or axes.DEFAULT_WORLD)
        if job.record.get("role") == BASELINE_LABEL:
            job.label = BASELINE_LABEL
            continue
        job.label = f"trial {job.num}"
        result = hbio.read_json(job.dir / OBJECTIVE) if (job.dir / OBJECTIVE).is_file() else {}
        inside, outside = result.get("in_sample") or {}, result.get("out_of_sample") or {}
        search.trials.append({"trial": job.label, "status": job.status,
                              "params": {k: values.get(k) for k in searched},
                              "in_sample": inside or None, "out_of_sample": outside or None})
        if result.get("first_out_of_sample_episode") is not None:
            search.first_out_of_sample_episode = int(result["first_out_of_sample_episode"])
        value = inside.get("mean_diff")
        if value is not None and math.isfinite(value) and value > best_value:
            best_value, search.best = value, job.label
    return search
