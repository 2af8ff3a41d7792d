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

from hbbatch.campaign.calibration import apply_calibration, explicit_keys
from hbbatch import io as hbio
from hbbatch.report.manifest import build_manifest, weeks_per_episode, world_fingerprint
from hbbatch.report.summary import summarize

log = logging.getLogger(__name__)
SIM_SECTIONS = ("market", "agent", "floors", "regime_mix")
# Per-job artifacts (design.md, Artifacts)
MANIFEST, EPISODES, RULES, SUMMARY = "manifest.json", "episodes.parquet", "rules.parquet", "summary.json"


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


def simulate_tables(config: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Run the simulator on a resolved (and calibrated) job config: episodes, rules and the static spec."""
    from hbbatch.sim import RolloutSpec, make_params, simulate

    spec = RolloutSpec(n_episodes=int(config["n_episodes"]), n_steps=int(config["n_steps"]),
                       gating=str(config["gating"]["mode"]), classifier=str(config["agent"]["classifier"]),
                       dtype=str(config["dtype"]))
    _log_mix(config["regime_mix"])
    params = make_params(**{s: config[s] for s in SIM_SECTIONS}, dtype=spec.dtype)
    result = simulate(spec, params, seed=int(config["seed"]))
    episodes = pd.DataFrame(result.episodes)
    episodes.insert(0, "seed", int(config["seed"]))
    rules = pd.DataFrame(result.rules)
    return episodes, rules, asdict(spec)


def run_job(config: dict[str, Any], job: JobInfo) -> int:
    """Run one campaign and write its artifacts into job.output_dir; 0 on success, 2 on error."""
    out = Path(job.output_dir)
    started, t0 = _now(), time.perf_counter()
    label = str(config.get("campaign", "default"))
    record: dict[str, Any] = {"campaign": label, "job_num": job.num, "overrides": list(job.overrides)}
    try:
        calibration = apply_calibration(config, explicit_keys(job.overrides))
        log.info("[%s] simulating %d episodes x %d steps (gate %s, seed %s, calibration %s)", label,
                 config["n_episodes"], config["n_steps"], config["gating"]["mode"], config["seed"],
                 calibration["hash"])
        t_sim = time.perf_counter()
        episodes, rules, spec = simulate_tables(config)
        sim_s = time.perf_counter() - t_sim
        log.info("[%s] simulated in %.1f s (%.3g M episode-steps/s)", label, sim_s,
                 config["n_episodes"] * config["n_steps"] / max(sim_s, 1e-9) / 1e6)
        stats_conf = config["stats"]
        summary = summarize(episodes, rules, rails=config["agent"]["rails"], confidence=stats_conf["confidence"],
                            n_bootstrap=stats_conf["n_bootstrap"], seed=stats_conf["bootstrap_seed"], label=label)
        manifest = build_manifest(job={**record, "output_dir": str(out), "mode": job.mode}, config=config,
                                  calibration=calibration, spec=spec, seed=int(config["seed"]))
        hbio.write_parquet(out / EPISODES, episodes)
        hbio.write_parquet(out / RULES, rules)
        hbio.write_json(out / MANIFEST, manifest)
        record.update(status="success", message=f"{len(episodes)} episodes", summary=summary,
                      config_hash=manifest["config_hash"], calibration_hash=calibration["hash"],
                      simulate_s=sim_s, seed=int(config["seed"]),
                      world=str((config.get("world") or {}).get("name", "default")),
                      world_hash=world_fingerprint(config), weeks_per_episode=weeks_per_episode(config))
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
