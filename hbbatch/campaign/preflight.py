"""A campaign's, a shadow run's and task=calibrate's inputs beyond their config, checked as the job will read
them, before Hydra makes a folder (called by hbbatch/preflight.py's callback, with each task's own checks):
- a campaign's or shadow run's calibration report (`calibration=default|file`, DUNE_CALIBRATION_JSON):
  read, gated and merged into a copy of the job's config exactly as the job does (`apply_calibration`),
  so a report that is missing, not JSON, tampered with, or that fails the calibration gates or the bounds
  once merged never starts a run;
- a campaign's `stats.metrics`: each a metric of the episodes table (the simulator's registry);
- a campaign's world as the world builder reads its settings (the embedded pools and resolutions, dates, a
  history file that exists), before any history is loaded;
- `task=calibrate`'s source and queries (`hbbatch.calibration.sources.check_fit_inputs`): the Dune API key,
  the folder of CSV exports, the queries named and every query parameter against its kind. No request is sent.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hbbatch.campaign import calibration as campaign_calibration

CALIBRATED_TASKS = ("campaign", "shadow")   # the tasks that merge a calibration report into their config


def check_inputs(config: dict[str, Any], overrides: list[str], environ: dict[str, str] | None = None) -> None:
    """Raise ValueError (one line) for an input the job with this resolved config and these overrides would refuse."""
    task = config.get("task", "campaign")
    if task == "campaign":
        _check_metrics((config.get("stats") or {}).get("metrics") or [])
        _check_world(config.get("world") or {}, float((config.get("market") or {}).get("step_minutes", 1.0)))
    if task in CALIBRATED_TASKS:
        with _quiet(campaign_calibration.log):   # the job logs what it applies; here nothing is applied
            campaign_calibration.apply_calibration(copy.deepcopy(config), campaign_calibration.explicit_keys(overrides),
                                                   environ)
    elif task == "calibrate":
        from hbbatch.calibration.sources import check_fit_inputs

        check_fit_inputs(config.get("calibration") or {})


def _check_metrics(metrics: list[str]) -> None:
    """stats.metrics name columns of the episodes table (or a ratio of two): an unknown one would fail the
    report after every job had run."""
    from hbbatch.sim.metrics import METRICS
    from hbbatch.stats import RATIO_METRICS

    known = list(METRICS) + [m for m in RATIO_METRICS if m not in METRICS]
    for i, metric in enumerate(metrics):
        if metric not in known:
            raise ValueError(f"stats.metrics[{i}]={metric!r} is not a metric of the episodes table: use one of "
                             f"{', '.join(known)}")


def _check_world(world: dict[str, Any], step_minutes: float) -> None:
    """The world's settings as the world builder reads them (`world_conf`: dates, the embedded pool), before any
    history is loaded: the resolution asked for, a history file that exists, a window that is not reversed."""
    import pandas as pd

    from hbbatch.worlds.build import WorldError, choose_bar_minutes, world_conf

    conf = world_conf(world)
    if conf["bar_minutes"] is not None:
        choose_bar_minutes(step_minutes, conf["bar_minutes"])
    if conf["history"] and not Path(str(conf["history"])).expanduser().is_file():
        raise WorldError(f"world.history={conf['history']}: no such file; give a bars file (parquet, feather or CSV) "
                         f"or null for the embedded history")
    start, end = conf["history_start"], conf["history_end"]
    if start and end and pd.Timestamp(start) > pd.Timestamp(end):
        raise WorldError(f"world.history_start={start} is after world.history_end={end}; use start <= end")


@contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled
