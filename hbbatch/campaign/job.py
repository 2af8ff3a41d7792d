"""One campaign job: resolved config -> simulator batch -> episodes.parquet, rules.parquet, manifest, summary.

Any error is caught here and recorded as the job's status (summary.json with status "error"): Hydra
skips the multirun callback when a job raises, and the multirun must still report every job.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from hbbatch.campaign import scale, shards, stream
from hbbatch.campaign.calibration import apply_calibration, explicit_keys
from hbbatch.campaign.world_check import check_world
from hbbatch import io as hbio
from hbbatch.report.files import EPISODES, MANIFEST, RULES, SUMMARY  # noqa: F401  (the artifacts a job writes)

log = logging.getLogger(__name__)


class WorldValidationError(ValueError):
    """The job's world failed its validation suite: the campaign does not simulate it."""


SIM_SECTIONS = stream.SIM_SECTIONS


@dataclass
class JobInfo:
    """Where a job writes and how Hydra launched it."""

    output_dir: str
    num: int = 0
    overrides: list[str] = field(default_factory=list)   # hydra.overrides.task
    mode: str = "RUN"                                     # RUN | MULTIRUN


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"


def _log_mix(mix: dict[str, float]) -> None:
    from hbbatch.sim import regime_weights

    weights = regime_weights(mix)   # raises ParamsError (one line) for a negative or far-off mix
    total = sum(float(v) for v in mix.values())
    if abs(total - 1.0) > 1e-9:
        renormalised = ", ".join(f"{k}:{w:.4f}" for k, w in zip(("mean_revert", "jumpy", "trend_up"), weights))
        log.info("regime_mix sums to %.4f: renormalised to %s", total, renormalised)


def simulate_tables(config: dict[str, Any], start: int = 0,
                    stop: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Run the simulator on a resolved (and calibrated) job config, in memory: episodes, rules and the spec
    (of episodes start .. stop - 1; by default all n_episodes)."""
    _log_mix(config["regime_mix"])
    stop = int(config["n_episodes"]) if stop is None else stop
    frames = list(stream.simulate_frames(config, start, stop, None))
    episodes = pd.concat([f[0] for f in frames], ignore_index=True)
    rules = pd.concat([f[1] for f in frames], ignore_index=True)
    return episodes, rules, asdict(stream.rollout_spec(config, stop - start))


def _calibration_spread(config: dict[str, Any], out: Path, start: int, stop: int) -> None:
    """In the calibrated (parametric) world, the same settings in refits of the world on resampled history
    (experiment.calibration_resamples; hbbatch.campaign.calibration_spread), for the job's episodes start ..
    stop - 1 (a shard's: merged with its tables)."""
    resamples = int((config.get("experiment") or {}).get("calibration_resamples") or 0)
    if resamples and (config.get("world") or {}).get("kind") == "parametric":
        from hbbatch.campaign.calibration_spread import SPREAD, spread_episodes

        hbio.write_parquet(out / SPREAD, spread_episodes(config, lambda c: simulate_tables(c, start, stop)[0],
                                                         resamples))


def run_job(config: dict[str, Any], job: JobInfo) -> int:
    """Run one campaign and write its artifacts into job.output_dir; 0 on success, 2 on error."""
    out = Path(job.output_dir)
    started, t0 = _now(), time.perf_counter()
    label = str(config.get("campaign", "default"))
    record: dict[str, Any] = {"campaign": label, "job_num": job.num, "overrides": list(job.overrides)}
    try:
        calibration = apply_calibration(config, explicit_keys(job.overrides))
        _log_mix(config["regime_mix"])
        start, stop = shards.episode_range(config, job.mode)
        scale.check_job(config, stop - start, label)
        stream.compile_ahead(config, start, stop, finishes=not shards.is_shard(config, job.mode))
        world_validation = check_world(config, cache_dir=out.parent if job.mode == "MULTIRUN" else None, label=label)
        record["world_validation"] = world_validation
        log.info("[%s] %s (%.1f s)", label, world_validation["message"], world_validation.get("seconds", 0.0))
        if world_validation["status"] == "fail":
            raise WorldValidationError(world_validation["message"]
                                       + "; nothing simulated (world.validate=false runs it anyway)")
        log.info("[%s] simulating %d episodes x %d steps (gate %s, seed %s, calibration %s)%s", label,
                 stop - start, config["n_steps"], config["gating"]["mode"], config["seed"], calibration["hash"],
                 shards.describe(config, start, stop, job.mode))
        spec, sim_s = stream.simulate_to_files(config, out, start, stop, label)
        log.info("[%s] simulated in %.1f s (%.3g M episode-steps/s)", label, sim_s,
                 (stop - start) * config["n_steps"] / max(sim_s, 1e-9) / 1e6)
        if shards.is_shard(config, job.mode):   # merged with its sibling shards after the sweep
            record.update(shards.shard_record(out, config, calibration, spec, start, stop))
        else:
            record.update(stream.finish_job(out, config, calibration, spec, record, job.mode))
        _calibration_spread(config, out, start, stop)
        record["simulate_s"] = sim_s
        code = 0
    except Exception as exc:   # recorded, not raised: see the module docstring
        # bad input (ValueError and its subclasses) is one line; anything else is a bug: keep its traceback
        detail = "" if isinstance(exc, ValueError) else "\n" + traceback.format_exc()
        log.error("[%s] job failed: %s%s", label, _one_line(exc), detail)
        record.update(status="error", message=_one_line(exc))
        code = 2
    record["timing"] = [{"name": "execute", "started_at": started, "completed_at": _now()}]
    record["execution_time"] = time.perf_counter() - t0
    hbio.write_json(out / SUMMARY, record)
    return code
