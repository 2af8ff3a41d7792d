"""Before Hydra makes a folder: the inputs a job reads beyond its own config, checked by each task's own code.

The config's numbers are checked first (hbbatch.config.callback); this callback, listed after it, refuses
what only the job's inputs can show, with exit 2, one line and nothing written: a campaign's calibration
report, metrics and world, task=calibrate's source and queries (hbbatch/campaign/preflight.py), task=replay's
bars, band and positions (hbbatch/replay/task.py) and task=shadow's bars or endpoint, warm-up and hard cap
(hbbatch/shadow/task.py). Every job of a basic sweep is checked, and that its criteria name a baseline and
judged variants among its jobs; other sweepers' jobs read their inputs when they start. A sweep on a running
Ray cluster (hydra/launcher=ray_cluster) is refused where nothing answers at its head's address: Ray itself
waits minutes on one, retrying.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from hbbatch.campaign.preflight import check_inputs as check_campaign_inputs
from hbbatch.config.callback import ConfigRefused, job_configs, plain_config
from hbbatch.errors import one_line


def check_inputs(config: dict[str, Any], overrides: list[str], environ: dict[str, str] | None = None) -> None:
    """Raise ValueError (one line) for an input the job with this resolved config and these overrides would refuse."""
    check_campaign_inputs(config, overrides, environ)
    task = config.get("task", "campaign")
    if task == "replay":
        from hbbatch.replay.task import check_inputs as check_replay_inputs

        check_replay_inputs(config)
    elif task == "shadow":
        from hbbatch.shadow.task import check_inputs as check_shadow_inputs

        check_shadow_inputs(config)


def check_sweep(config: DictConfig, jobs: list[DictConfig]) -> None:
    """A judged sweep's criteria.baseline and criteria.judged name jobs it has, labelled as its report labels
    them (the report would otherwise refuse them after every job had run)."""
    primary = plain_config(config)
    criteria = primary.get("criteria") or {}
    if (primary.get("task", "campaign") != "campaign" or not criteria.get("enabled", True)
            or (primary.get("optimise") or {}).get("enabled") or len(jobs) < 2):
        return
    from hbbatch.report.callback import base_settings
    from hbbatch.report.multirun import Job, baseline_and_judged, label_jobs

    records = [Job(num=i, dir=Path(), record={"campaign": str(job.get("campaign", "default")), "seed": job.get("seed"),
                                               "overrides": list(job.hydra.overrides.task)})
               for i, job in enumerate(jobs)]
    baseline_and_judged(criteria, label_jobs(records), base_settings(config))


RAY_ADDRESS_KEY = "hydra.launcher.ray.init.address"
RAY_CONNECT_TIMEOUT_S = 3.0


def ray_head(address: Any) -> tuple[str, int] | None:
    """(host, port) of a Ray head given as HOST:PORT or ray://HOST:PORT; None for Ray's own forms (None, auto,
    local) and anything else, which Ray reads itself."""
    text = str(address or "").strip()
    text = text[len("ray://"):] if text.startswith("ray://") else text
    host, _, port = text.rpartition(":")
    return (host.strip("[]"), int(port)) if host and port.isdigit() else None


def check_launcher(config: DictConfig) -> None:
    """A Ray cluster's head answers at the sweep's address (a TCP connection within RAY_CONNECT_TIMEOUT_S)."""
    address = OmegaConf.select(config, RAY_ADDRESS_KEY, default=None)
    head = ray_head(address)
    if head is None:
        return
    try:
        socket.create_connection(head, timeout=RAY_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ValueError(f"{RAY_ADDRESS_KEY}={address}: no Ray head answers at {head[0]}:{head[1]} "
                         f"({exc.strerror or exc}); start one there (ray start --head --port={head[1]}) or set "
                         f"RAY_ADDRESS to a running head's HOST:PORT") from None


class InputCheckCallback(Callback):
    def _check(self, jobs: Callable[[], list[DictConfig]], sweep: DictConfig | None = None) -> None:
        """A sweep's launcher first (before its jobs are composed), each job's inputs (composing a job can fail
        too: inside), then a sweep's criteria against its jobs' labels; with no jobs listed (other sweepers pick
        as they run) the sweep's primary config."""
        try:
            if sweep is not None:
                check_launcher(sweep)
            found = jobs()
            for job in found or [sweep]:
                check_inputs(plain_config(job), list(job.hydra.overrides.task), dict(os.environ))
            if found and sweep is not None:
                check_sweep(sweep, found)
        except (ValueError, OSError) as exc:
            raise ConfigRefused(one_line(exc)) from None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(lambda: [config])

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(lambda: list(job_configs(config, include_primary=False)), sweep=config)
