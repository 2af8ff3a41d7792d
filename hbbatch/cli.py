"""The command line: `python -m hbbatch [overrides] [-m]`, the one @hydra.main.

Before Hydra starts, the roadmap's environment variables are checked and mapped onto overrides
(hbbatch.env_vars). Hydra's own errors (a misspelt key, a bad value, a missing option) are turned into
one line and exit status 2; the task records its status in hbbatch.exit_codes, and the command exits
with the worst recorded (0 ok, 1 a failed criterion, 2 an error). Heavy imports (jax, pandas,
great_expectations) happen inside the tasks, so start-up stays lean.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import hydra
from omegaconf import DictConfig

from hbbatch import exit_codes, jax_setup
from hbbatch.config import CONF_DIR, register_configs
from hbbatch.config.callback import ConfigRefused, check_job_config
from hbbatch.config.compose import composed_once
from hbbatch.errors import one_line  # noqa: F401  (also hbbatch.cli.one_line)

log = logging.getLogger("hbbatch")
PROG = "hbbatch"
CACHE_MAX_BYTES = 2 << 30   # JAX's persistent compile cache: about 0.1-0.5 MB a program

# Resolvers must exist wherever a job's config is resolved: also in launcher worker processes,
# which import this module to find the task function.
register_configs()


def _run_task(cfg: DictConfig) -> int:
    jax_setup.configure()   # a worker on a remote launcher (Ray, SLURM) starts here, not in main()
    task = cfg.task
    if task == "campaign":
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import OmegaConf

        from hbbatch.campaign.job import JobInfo, run_job

        hc = HydraConfig.get()
        job = JobInfo(output_dir=hc.runtime.output_dir, num=int(hc.job.get("num", 0) or 0),
                      overrides=list(hc.overrides.task), mode=str(hc.mode.name))
        return run_job(OmegaConf.to_container(cfg, resolve=True), job)
    if task == "calibrate":
        from hbbatch.calibration.task import run
    elif task == "plan":
        from hbbatch.planner.task import run
    elif task == "plan_sim":
        from hbbatch.planner.task import run_timeline as run
    elif task == "replay":
        from hbbatch.replay.task import run
    elif task == "shadow":
        from hbbatch.shadow.task import run
    else:
        raise ValueError(f"task={task!r}: unknown task; use campaign, calibrate, plan, plan_sim, replay or shadow")
    return int(run(cfg))


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def task_function(cfg: DictConfig) -> int:
    """Run the configured task; every error is recorded as exit status 2, never raised (see module doc)."""
    try:
        check_job_config(cfg)   # again in the job: launcher workers and non-basic sweepers
        code = _run_task(cfg)
    except Exception as exc:  # a job that raises would make Hydra skip the multirun callback
        log.error("%s: error: %s", PROG, one_line(exc))
        log.debug("traceback", exc_info=True)
        code = exit_codes.ERROR
    exit_codes.record(code)
    if cfg.get("task") == "campaign" and (cfg.get("optimise") or {}).get("enabled", False):
        return _objective(cfg)   # what Optuna maximises; the exit status stays recorded above
    return code


def _objective(cfg: DictConfig) -> float | None:
    """A trial's in-sample gain over the search's baseline (hbbatch.campaign.objective); None if it failed."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from hbbatch.campaign.objective import trial_objective

    hc = HydraConfig.get()
    try:
        return trial_objective(Path(hc.runtime.output_dir), OmegaConf.to_container(cfg, resolve=True),
                               Path(hc.sweep.dir))
    except Exception as exc:
        log.error("%s: error: objective of %s: %s", PROG, hc.runtime.output_dir, one_line(exc))
        exit_codes.record(exit_codes.ERROR)
        return None


def _persist_compiled_functions() -> None:
    """Keep XLA's compiled simulator between runs (~5 s saved per spec on repeated runs: CI, sweeps).

    JAX reads these variables when it is imported, which happens later, inside the jobs (launcher
    workers inherit them). A value the user set wins; JAX_COMPILATION_CACHE_DIR= (empty) turns it off.
    The folder is hbbatch's own, one per jax version (an older version's programs are never read again), and
    bounded: JAX evicts the least recently used programs beyond CACHE_MAX_BYTES. The bound is set only
    with that folder: JAX's eviction needs the access-time files it writes when eviction is on, so a
    folder filled without them (a user's own, say) fails every write once a bound is set.
    """
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        from importlib.metadata import version

        cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        os.environ["JAX_COMPILATION_CACHE_DIR"] = str(cache_home / "hbbatch" / f"jax-{version('jax')}")
        os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(CACHE_MAX_BYTES))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")   # CPU compiles are all "fast"


def _single_threaded_blas() -> None:
    """One OpenBLAS thread for NumPy (OPENBLAS_NUM_THREADS=1, read when NumPy is imported, later).

    The statistics' matrix products are small (a bootstrap's counts, 2,000 x 1,000, times a few columns):
    OpenBLAS's extra threads only wait for a core, and on a busy machine a product waits for the slowest of
    them (the three-way's paired comparisons: 0.95 s wall / 0.46 CPU-s with two threads, 0.32 / 0.19 with
    one; bench/README.md). The simulator's float32 metrics leave each resample's float64 sum exact (or all
    but), so the order OpenBLAS sums in does not show: the three-way's tables are the same to the bit
    (tests/test_stats.py). A float64 run's bounds move in the last bits (about 1e-12 relative) and no
    longer depend on how many cores the machine has. JAX does not use OpenBLAS. A value the user set wins."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def prepare_environment() -> None:
    """What the command sets before NumPy and JAX are imported (they read it then)."""
    _persist_compiled_functions()  # first: JAX reads these when it is imported
    _single_threaded_blas()
    jax_setup.configure()


def _cancelled() -> None:
    """Ctrl-C: record the run as cancelled (run_results.json; the folder stays marked incomplete), exit 130."""
    from hbbatch.report.multirun import cancel_run

    run_dir = cancel_run()
    print(f"{PROG}: cancelled (Ctrl-C)" + (f"; incomplete run recorded in {run_dir}" if run_dir else ""),
          file=sys.stderr)
    exit_codes.exit_now(exit_codes.CANCELLED)   # at once: XLA's threads may still be running the batch


_command = {"is_process": False}   # main() runs as the process's command (not called from Python: a test)


def _exit(code: int) -> None:
    """sys.exit(code), or, while a program compiled ahead is still compiling (a job that ended before it ran
    it: cancelled, or failed its checks), the same exit at once: the worker thread cannot be stopped, and the
    interpreter would wait for it (seconds) before exiting. Logs and output are flushed first."""
    cache = sys.modules.get("hbbatch.program_cache")
    if cache is not None and cache.compiling() and _command["is_process"]:
        exit_codes.exit_now(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    from hbbatch.env_vars import EnvVarError, overrides_from

    _command["is_process"] = argv is None   # a caller's process (main([...])) is never ended with os._exit
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--version" in argv:          # Hydra's --version would print Hydra's
        from hbbatch import __version__

        print(f"{PROG} {__version__}")
        sys.exit(exit_codes.OK)
    if "--help" in argv or "-h" in argv:   # Hydra's stock help stays as --hydra-help
        from hbbatch.help import show

        show(CONF_DIR)
        sys.exit(exit_codes.OK)
    from hbbatch import interrupt

    interrupt.install()   # before the imports a Ctrl-C must not cut short
    prepare_environment()
    show_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    try:
        extra = overrides_from(argv)
    except EnvVarError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        sys.exit(exit_codes.ERROR)
    exit_codes.reset()
    # argparse takes no flag between overrides: move -m/--multirun (no value) to the front
    flags = [a for a in argv if a in ("-m", "--multirun")]
    rest = [a for a in argv if a not in ("-m", "--multirun")]
    sys.argv = [sys.argv[0] if sys.argv else PROG, *flags, *extra, *rest]
    # Hydra prints multi-line errors and exits 1 unless HYDRA_FULL_ERROR is set: then it raises, and
    # the error becomes one line here.
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        with composed_once():   # Hydra asks for each config up to three times: composed once, copied after
            task_function()
    except ConfigRefused as exc:   # a refused value: nothing was made or written
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        sys.exit(exit_codes.ERROR)
    except KeyboardInterrupt:
        _cancelled()
    except Exception as exc:
        if show_traceback:
            raise
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        _exit(exit_codes.ERROR)
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous
    _exit(exit_codes.final())
