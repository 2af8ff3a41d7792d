"""The Hydra callback that turns finished jobs into a run's report (multirun and single run alike).

Kept import-light: Hydra instantiates it before any job starts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from hbbatch import exit_codes, runs
from hbbatch.errors import one_line

log = logging.getLogger(__name__)


def _plain(config: DictConfig) -> dict[str, Any]:
    """The sections post-processing reads, resolved (the hydra section is left out), and the base config's
    agent settings (`base`: the values a sweep's baseline runs; see hbbatch.report.axes)."""
    keys = ("experiment_name", "criteria", "stats", "paths", "report", "optimise")
    plain = {k: OmegaConf.to_container(config[k], resolve=True) if OmegaConf.is_config(config[k]) else config[k]
             for k in keys}
    plain["base"] = base_settings(config)
    return plain


def base_settings(config: DictConfig) -> dict[str, Any]:
    """The base config's sections, resolved, without hydra's: the values a sweep's baseline runs."""
    base = {}
    for key in config:
        if key != "hydra":
            try:
                node = config[key]
                base[key] = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
            except Exception:   # an unresolvable section (an env lookup) is no setting a sweep's baseline needs
                continue
    return base


class CampaignCallback(Callback):
    def __init__(self) -> None:
        self._started: float | None = None

    def _start(self, config: DictConfig, run_dir: str) -> None:
        self._started = time.time()
        if config.get("task") == "campaign":
            runs.start_run(run_dir, str(config.get("experiment_name", "default")), self._started)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._start(config, str(config.hydra.sweep.dir))

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._start(config, str(config.hydra.run.dir))

    def _finish(self, config: DictConfig, run_dir: Path, single: bool) -> None:
        if config.get("task") != "campaign":
            return
        try:
            from hbbatch.report.multirun import collect_jobs, finish_run, load_job

            jobs = [load_job(run_dir)] if single else collect_jobs(run_dir)
            code = finish_run(run_dir, jobs, _plain(config), started=self._started, single=single)
        except Exception as exc:   # the report failing is an error of the run, never a traceback
            log.error("hbbatch: error: report of %s failed: %s", run_dir, one_line(exc))
            log.debug("traceback", exc_info=True)
            code = exit_codes.ERROR
        runs.finish_run(run_dir)
        exit_codes.record(code)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._finish(config, Path(config.hydra.sweep.dir), single=False)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        job_return = kwargs.get("job_return")
        if job_return is None or job_return.hydra_cfg is None:
            log.error("hbbatch: error: Hydra gave no job return; the run's report was not written")
            exit_codes.record(exit_codes.ERROR)
            return
        self._finish(config, Path(job_return.hydra_cfg.hydra.runtime.output_dir), single=True)
