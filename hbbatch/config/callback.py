"""The Hydra callback that checks every job's config before Hydra makes a folder or writes a file.

Hydra calls `on_run_start` / `on_multirun_start` after composing the primary config and before the
run (or sweep) folder exists. For the basic sweeper, every job of the sweep is composed here as the
sweeper will compose it, so `-m floors.mean_revert=0,1200` fails before any job runs. Other sweepers
(Optuna) choose their values as they go: each job then checks its own config when it starts
(`check_job_config` in the task function, which is also where launcher workers check).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from hbbatch.config.checks import ConfigValueError, check_config
from hbbatch.errors import one_line

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def plain_config(config: DictConfig) -> dict[str, Any]:
    """The job's settings as plain values (interpolations resolved), without Hydra's own section."""
    return {key: OmegaConf.to_container(config[key], resolve=True) if OmegaConf.is_config(config[key]) else config[key]
            for key in config if key != "hydra"}


def check_job_config(config: DictConfig) -> None:
    """Raise ConfigValueError (one line: key, problem, accepted range) for a refused value of a composed job."""
    check_config(plain_config(config))


def sweep_job_overrides(config: DictConfig) -> list[list[str]]:
    """The overrides of each job the basic sweeper launches for this primary config (its own expansion)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = [f"{key}={value}" for key, value in (config.hydra.sweeper.get("params") or {}).items()]
    params += list(config.hydra.overrides.task)
    overrides = OverridesParser.create().parse_overrides(params)
    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


# Hydra's own folders as a user may set them (`hydra.run.dir=...`): held to paths.output_dir's rule, and a
# job's folder to its sweep folder. Left unchecked when built by hbbatch's resolvers (hb.*), whose parts,
# paths.output_dir and experiment_name, the schema checks.
RUN_FOLDERS = ("hydra.run.dir", "hydra.sweep.dir")
JOB_FOLDER = "hydra.sweep.subdir"


def hydra_folder_problems(config: DictConfig, keys: tuple[str, ...]) -> list[str]:
    """One line for each of `keys` (Hydra folders) that climbs out of the working folder (or its sweep's)."""
    from hbbatch.config.bounds import Bounds

    rule, out = Bounds(output_path=True), []
    for key in keys:
        section, _, name = key.rpartition(".")
        raw = (OmegaConf.to_container(OmegaConf.select(config, section), resolve=False) or {}).get(name)
        if not isinstance(raw, str) or "${hb." in raw:
            continue
        value = OmegaConf.select(config, key, throw_on_resolution_failure=False) if "${" in raw else raw
        if not isinstance(value, str):
            continue
        if key == JOB_FOLDER and (value.startswith("/") or rule.problem(value)):
            out.append(f"{key}={value!r} climbs out of the sweep folder: use a relative path without '..', "
                       f"e.g. {key}=${{hydra.job.num}}")
        elif key != JOB_FOLDER and rule.problem(value):
            out.append(f"{key}={value!r} {rule.problem(value)}: use {rule.describe()}")
    return out


def _check_folders(config: DictConfig, keys: tuple[str, ...]) -> None:
    found = hydra_folder_problems(config, keys)
    if found:
        raise ConfigValueError(found[0])


class ConfigRefused(BaseException):
    """A refused config, raised past Hydra's callback guard (which turns an Exception into a warning
    and carries on); the CLI prints its one-line message and exits 2."""


def job_configs(config: DictConfig, include_primary: bool = True) -> Iterator[DictConfig]:
    """The primary config of a multirun, then each job's as the basic sweeper will compose it (other
    sweepers pick their values as they run: each job checks its own)."""
    if include_primary:
        yield config
    if config.hydra.sweeper.get("_target_") != BASIC_SWEEPER:
        return
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    for overrides in sweep_job_overrides(config):
        yield loader.load_sweep_config(config, overrides)


class ConfigCheckCallback(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_job_config(config)
            _check_folders(config, RUN_FOLDERS[:1])
        except ConfigValueError as exc:
            raise ConfigRefused(str(exc)) from None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_job_config(config)
            _check_folders(config, (RUN_FOLDERS[1], JOB_FOLDER))
            for job in job_configs(config, include_primary=False):
                check_job_config(job)
        except ConfigValueError as exc:
            raise ConfigRefused(str(exc)) from None
        except (HydraException, OmegaConfBaseException) as exc:   # a job that does not compose (`-m campaign=A,Z`)
            raise ConfigRefused(one_line(exc)) from None
