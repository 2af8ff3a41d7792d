"""Before a large job: how long and how much memory it will take, and whether it may run at all.

The figures are first-order models fitted on this project's measurements (bench/README.md):
time = steps / (rate per core x cores) + compile, where an episode's steps are its own, its warm-up's
(`agent.warmup_minutes`, each about as dear as a step) and a fixed set-up, and the counterfactual re-runs of
its rule values add an episode per rule that fired in it (a share that grows with n_steps); peak memory = a fixed part (interpreter, JAX,
pandas, pyarrow, the compiled batch) + a part per episode of one streamed batch + a part per episode of
the statistics sample. Beyond `scale.max_hours` or `scale.max_memory_gb` the job refuses to start unless
`force=true`; above `scale.estimate_above_s` it prints the estimate first.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from hbbatch.jax_setup import BATCH_EPISODES, usable_cores

log = logging.getLogger(__name__)
_LOGGED: dict[int, tuple["Estimate", str]] = {}   # process id -> the estimate its ScaleCheckCallback logged

# Steps per second per CPU core of the full agent, warm-up steps counted (bench/README.md: 10 M x 10,080 with
# its day's warm-up, 1.15e11 steps in 4,612 CPU-s, 25.0 M per CPU-s; float64 at the float32 ratio of the
# simulator's bench, 6 / 19). A CPU without AVX-512, or a loaded machine, is slower: the progress line then
# gives the time left.
CPU_RATE_PER_CORE = {"float32": 25e6, "float64": 7.9e6}
# Per episode, besides its steps: drawing its start, opening its band, its rows (2 cores, loaded: 1 M x 60 took
# 79 CPU-s, 20,000 x 2,016 with rule values 9 CPU-s; 400-800 steps' worth each)
EPISODE_SETUP_STEPS = 500
# The share of a valued episode's rules that fire in it, about n_steps / this (rule values re-run each:
# 552 of 4 x 20,000 at 60 steps, 9,708 at 2,016, 38,074 at 10,080; capped at every rule)
STEPS_PER_FIRING = 16_000
# An accelerator's rate is not measured here: assume one modern GPU does what 40 of these cores do.
ACCELERATOR_RATE = {"float32": 5e8, "float64": 1e8}
COMPILE_S = 5.0                    # per distinct batch shape, cold cache (warm: ~0.2 s)
FIXED_MB = 800.0                   # imports, the compiled batch, XLA's buffers (bench: 460-510 MB at 100k)
BATCH_BYTES_PER_EPISODE = 2_200.0  # one batch on the host: device output, numpy tables, DataFrames, Arrow copies
STATS_BYTES_PER_EPISODE = 1_600.0  # statistics on the sample: frames per variant, pairs, bootstrap blocks


class ScaleError(ValueError):
    """A job beyond the configured limits; names the limit and how to go past it."""


@dataclass(frozen=True)
class Estimate:
    episode_steps: float
    seconds: float
    memory_gb: float
    platform: str
    jobs: int = 1    # more: a sweep's jobs one after another on this machine

    def describe(self) -> str:
        hours, rest = divmod(self.seconds, 3600)
        when = f"{int(hours)} h {rest / 60:.0f} min" if hours else f"{self.seconds / 60:.1f} min"
        jobs = f"{self.jobs} jobs one after another, " if self.jobs > 1 else ""
        return (f"{jobs}{self.episode_steps:.3g} episode-steps: about {when} and {self.memory_gb:.1f} GB peak memory "
                f"on this {self.platform}")


def counterfactual_episodes(n_episodes: int, n_steps: int, n_rules: int, valued_episodes: int) -> float:
    """About how many episodes the rule values re-run (one per rule that fired in each valued episode)."""
    return min(n_episodes, valued_episodes) * n_rules * min(1.0, n_steps / STEPS_PER_FIRING)


def estimate(n_episodes: int, n_steps: int, dtype: str, batch_episodes: int, stats_episodes: int,
             platform: str = "cpu", cores: int | None = None, warmup_steps: int = 0,
             rerun_episodes: float = 0.0) -> Estimate:
    steps = (float(n_episodes) + rerun_episodes) * (n_steps + warmup_steps + EPISODE_SETUP_STEPS)
    if platform == "cpu":
        rate = CPU_RATE_PER_CORE.get(dtype, CPU_RATE_PER_CORE["float64"]) * (cores or usable_cores())
    else:
        rate = ACCELERATOR_RATE.get(dtype, ACCELERATOR_RATE["float64"])
    memory_mb = (FIXED_MB + min(batch_episodes, n_episodes) * BATCH_BYTES_PER_EPISODE / 1e6
                 + min(stats_episodes, n_episodes) * STATS_BYTES_PER_EPISODE / 1e6)
    return Estimate(episode_steps=float(n_episodes) * float(n_steps), seconds=steps / rate + COMPILE_S,
                    memory_gb=memory_mb / 1024.0, platform=platform)


def check(found: Estimate, scale: dict[str, Any], force: bool, label: str, quiet: bool = False) -> None:
    """Log the estimate of a large job (unless `quiet`); refuse one beyond the limits unless forced."""
    if found.seconds >= float(scale["estimate_above_s"]) and not quiet:
        log.info("[%s] estimate: %s", label, found.describe())
    over = []
    if found.seconds > float(scale["max_hours"]) * 3600.0:
        over.append(f"longer than scale.max_hours={scale['max_hours']}")
    if found.memory_gb > float(scale["max_memory_gb"]):
        over.append(f"above scale.max_memory_gb={scale['max_memory_gb']}")
    if not over:
        return
    if force:
        log.warning("[%s] %s: %s; running anyway (force=true)", label, found.describe(), " and ".join(over))
        return
    raise ScaleError(f"{found.describe()}: {' and '.join(over)}; add force=true to run it anyway, or lower "
                     "n_episodes / n_steps, or split it with shards=N on a cluster launcher")



def _job_estimate(config: dict[str, Any], n_episodes: int, platform: str) -> Estimate:
    from hbbatch.config.sim import warmup_steps

    batch = config["scale"]["batch_episodes"] or BATCH_EPISODES["cpu" if platform == "cpu" else "accelerator"]
    values, n_steps = config.get("rule_values") or {}, int(config["n_steps"])
    reruns = 0.0
    if values.get("enabled") and not int(config.get("shards", 1)) > 1:   # a sharded job's are the merge's
        reruns = counterfactual_episodes(n_episodes, n_steps, len(config["agent"]["rules"]["enabled"]),
                                         int(values["max_episodes"]))
    return estimate(n_episodes, n_steps, str(config["dtype"]), int(batch), int(config["stats"]["max_episodes"]),
                    platform=platform, warmup_steps=warmup_steps(config["agent"], config.get("market") or {}),
                    rerun_episodes=reruns)


def check_job(config: dict[str, Any], n_episodes: int, label: str) -> Estimate:
    """`check` for a job's episodes on the device it will run on (in the job: also on a remote worker)."""
    import jax

    platform = "cpu" if jax.default_backend() == "cpu" else jax.default_backend()
    found = _job_estimate(config, n_episodes, platform)
    # the process that logged the run's estimate before its jobs (ScaleCheckCallback) does not repeat it
    quiet = _LOGGED.get(os.getpid()) == (found, platform)
    check(found, config["scale"], bool(config.get("force", False)), label, quiet=quiet)
    return found


def on_this_machine(launcher: dict[str, Any]) -> bool:
    """Whether a sweep's jobs share this machine's cores (basic, joblib, submitit_local, a Ray started here), so
    they take the sum of their times; not on a cluster (submitit_slurm, a Ray cluster's address)."""
    target = str(launcher.get("_target_", ""))
    if target.endswith(".SlurmLauncher"):
        return False
    if target.endswith(".RayLauncher"):
        return not ((launcher.get("ray") or {}).get("init") or {}).get("address")
    return True


def sweep_estimate(per_job: Estimate, n_jobs: int) -> Estimate:
    """n_jobs jobs of `per_job` one after another on this machine: their sum, one compile (they share a shape)."""
    return Estimate(episode_steps=per_job.episode_steps * n_jobs,
                    seconds=(per_job.seconds - COMPILE_S) * n_jobs + COMPILE_S, memory_gb=per_job.memory_gb,
                    platform=per_job.platform, jobs=n_jobs)


def _platform_without_jax() -> str:
    """The device the jobs will see, without importing JAX here (start-up): a CUDA plugin means a GPU."""
    import importlib.util

    return "gpu" if importlib.util.find_spec("jax_cuda12_plugin") is not None else "cpu"


class ScaleCheckCallback(Callback):
    """Before Hydra makes a folder: the estimate of a large job, and the refusal of one beyond the limits
    (exit 2, one line, nothing written). A sharded job is estimated per shard."""

    def _check(self, config: DictConfig, n_jobs: int = 1) -> None:
        if config.get("task") != "campaign":
            return
        from hbbatch.config.callback import ConfigRefused

        plain = {k: OmegaConf.to_container(config[k], resolve=True) if OmegaConf.is_config(config[k]) else config[k]
                 for k in ("n_episodes", "n_steps", "dtype", "scale", "stats", "force", "shards", "agent", "market",
                           "rule_values")}
        per_job = -(-int(plain["n_episodes"]) // max(int(plain["shards"]), 1))
        found = _job_estimate(plain, per_job, _platform_without_jax())
        _LOGGED[os.getpid()] = (found, found.platform)
        try:
            check(found, plain["scale"], bool(plain["force"]), "each job" if int(plain["shards"]) <= 1 else "each shard")
            if n_jobs > 1:   # the sweep's jobs one after another on this machine's cores
                check(sweep_estimate(found, n_jobs), plain["scale"], bool(plain["force"]), "the sweep")
        except ScaleError as exc:
            raise ConfigRefused(str(exc)) from None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("task") == "campaign":   # before any shard's folder is made
            from hbbatch.campaign.shards import check_count
            from hbbatch.config.callback import ConfigRefused

            try:
                check_count(int(config.shards), int(config.n_episodes))
            except ValueError as exc:
                raise ConfigRefused(str(exc)) from None
        n_jobs = 1
        if config.get("task") == "campaign" and on_this_machine(OmegaConf.to_container(config.hydra.launcher, resolve=True)):
            from hbbatch.config.callback import BASIC_SWEEPER, sweep_job_overrides

            if config.hydra.sweeper.get("_target_") == BASIC_SWEEPER:   # other sweepers choose their jobs as they run
                n_jobs = len(sweep_job_overrides(config))
        self._check(config, n_jobs)
