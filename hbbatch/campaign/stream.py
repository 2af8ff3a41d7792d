"""A job's episodes simulated batch by batch and streamed to its tables; its summary read back from them.

Host memory stays bounded by one batch (`scale.batch_episodes`, by default sized to the device) and by the
statistics sample (`stats.max_episodes`), whatever n_episodes is: 10 M episodes run in under 4 GB.
Up to the sample size (200,000 episodes by default) the summary is computed from every episode, exactly
as before. Beyond it, means, intervals and per-regime numbers come from a stride sample of episodes
(hbbatch/tables.py: the same episode indices in every variant, so pairs stay paired), while the totals
that gate criteria (rule fires, actions, gas and attributed PnL; the hard cap's window count) are summed
over every episode. summary.json records the sample under `statistics_sample`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hbbatch import io as hbio
from hbbatch import tables
from hbbatch.campaign import rule_values
from hbbatch.campaign.progress import Progress
from hbbatch.config.sim import warmup_steps
from hbbatch.report.files import EPISODES, MANIFEST, RULES  # noqa: F401
from hbbatch.report.manifest import build_manifest, weeks_per_episode, world_fingerprint
from hbbatch.report.summary import max_actions_per_window, rule_totals, summarize
from hbbatch.worlds.build import Built, world_params

log = logging.getLogger(__name__)
SIM_SECTIONS = ("market", "agent", "floors", "regime_mix")
RULE_SUMS = ["fires", "actions", "gas_usd", "attributed_pnl_usd"]


def rollout_spec(config: dict[str, Any], n_episodes: int, checkpoint_steps: int = 0):
    """The job's static shapes. The EV gate is compiled in for every job and switched by the traced
    `AgentParams.ev_gate` (gating.mode), so campaigns A, B and C share one compiled batch."""
    from hbbatch.sim import RolloutSpec

    return RolloutSpec(n_episodes=int(n_episodes), n_steps=int(config["n_steps"]),
                       gating="ev", classifier=str(config["agent"]["classifier"]), dtype=str(config["dtype"]),
                       warmup_steps=warmup_steps(config["agent"], config.get("market") or {}),
                       checkpoint_steps=int(checkpoint_steps))


def checkpoint_steps(config: dict[str, Any], n_episodes: int, world: Built) -> int:
    """K of the job's checkpoints, from which its counterfactual re-runs resume (hbbatch/sim/resume.py): on
    when rule values are computed for every episode of the job (so the checkpoints kept are the valued
    episodes': rule_values.max_episodes bounds host memory, about 4.5 KB an episode in float32) in a world
    of real bars, for a job of at least `rule_values.resume_min_episode_steps`. 0 otherwise: the job runs the
    same program as without rule values, and any re-run starts at the open. Not in the parametric world:
    there the checkpointing program rounds the job's own LVR and realised-vol sums differently from the
    plain one (last bits, tests/sim/test_resume.py), and a job's own numbers must not depend on whether its
    rules are valued."""
    from hbbatch.sim.resume import unit_steps

    values = config.get("rule_values") or {}
    if not (values.get("enabled") and values.get("resume", True) and n_episodes <= int(values["max_episodes"])):
        return 0
    if n_episodes * int(config["n_steps"]) < int(values.get("resume_min_episode_steps", 0)):
        return 0   # too small for the re-run program's compile to pay
    if (config.get("world") or {}).get("kind", "historical") == "parametric":
        return 0
    return unit_steps(int(config["n_steps"]), int(world.params.steps_per_bar))


# A job's checkpoints from simulate_to_files to its finish_job (same process, same output folder): popped there.
_CHECKPOINTS: dict[str, Any] = {}


def build_world(config: dict[str, Any]) -> Built:
    """The job's world (historical bars and how episodes read them; None params: the parametric world)."""
    return world_params(config.get("world"), config["market"], config["agent"], int(config["n_steps"]),
                        int(config["n_episodes"]), str(config["dtype"]))


def _sim_params(config: dict[str, Any], world: Built, dtype: str):
    from hbbatch.sim import make_params

    return make_params(**{s: config[s] for s in SIM_SECTIONS}, dtype=dtype,
                       gating=str(config["gating"]["mode"]))._replace(world=world.params)


def _frames(results: Iterator[Any], seed: int, checkpoints: list | None = None
            ) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(episodes, rules) frames of the rollout's SimResults, each episode row marked with the seed; each
    result's checkpoints appended to `checkpoints` where given."""
    for result in results:
        episodes = pd.DataFrame(result.episodes)
        episodes.insert(0, "seed", seed)
        if checkpoints is not None and result.checkpoints is not None:
            checkpoints.append(result.checkpoints)
        yield episodes, pd.DataFrame(result.rules)


def simulate_frames(config: dict[str, Any], start: int, stop: int, batch_episodes: int | None,
                    world: Built | None = None, checkpoints: list | None = None
                    ) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(episodes, rules) frames of episodes start .. stop - 1, one batch at a time. With a `checkpoints` list,
    the batches save their carry every `checkpoint_steps(config, ...)` steps (where that is not 0) into it."""
    from hbbatch.sim.rollout import simulate_batches

    world = build_world(config) if world is None else world
    stop = min(stop, world.n_episodes)    # a replay runs at most the windows its history holds
    steps = checkpoint_steps(config, stop - start, world) if checkpoints is not None else 0
    spec = rollout_spec(config, stop - start, steps)
    seed = int(config["seed"])
    yield from _frames(simulate_batches(spec, _sim_params(config, world, spec.dtype), seed, start, batch_episodes),
                       seed, checkpoints)


# A warm compile of a new batch shape (tracing, lowering, the persistent cache's read: about 1 s on 2 cores)
# costs about as much as simulating this many episode-steps (20 M/s).
COMPILE_EPISODE_STEPS = 20_000_000


def counterfactual_batch(n_runs: int, job_batch: int, n_steps: int) -> int:
    """Episodes per call for n_runs counterfactual episodes of a job whose own calls hold job_batch: the
    job's own shape (its compiled batch: no compile) unless padding the last call would cost more than a
    compile; then equal calls of at most job_batch, as the job's own batches are cut."""
    from hbbatch.sim.rollout import batch_layout

    padding = -(-n_runs // job_batch) * job_batch - n_runs
    if padding * n_steps <= COMPILE_EPISODE_STEPS:
        return job_batch
    return batch_layout(n_runs, job_batch)[1]


def simulate_counterfactuals(config: dict[str, Any], episodes: np.ndarray, rule_enabled: np.ndarray,
                             job_episodes: int, world: Built | None = None, checkpoints=None) -> pd.DataFrame:
    """Episodes `episodes` of the job, each run with its own enabled rules (`rule_enabled`, one row of
    RULES flags per episode): one row per run, in the order given. With the job's `checkpoints`
    (hbbatch.sim.rollout.Checkpoints) each run resumes from the last one before a rule it switches off first
    fired, in lanes of the job's batch shape (hbbatch/sim/resume.py); without, each runs from the open, in
    calls that reuse the job's compiled batch where they fill it (see `counterfactual_batch`; `job_episodes`
    the job's episode count)."""
    from hbbatch.sim.rollout import batch_layout, simulate_episodes

    world = build_world(config) if world is None else world
    job_batch = batch_layout(min(job_episodes, world.n_episodes), config["scale"]["batch_episodes"])[1]
    if checkpoints is not None:
        from hbbatch.sim.resume import simulate_resumed

        spec = rollout_spec(config, job_batch, checkpoints.steps)
        result = simulate_resumed(spec, _sim_params(config, world, spec.dtype), int(config["seed"]), checkpoints,
                                  episodes, rule_enabled)
        return next(_frames(iter([result]), int(config["seed"])))[0]
    # calls of exactly this many episodes, the last padded: one compiled shape
    spec = rollout_spec(config, counterfactual_batch(len(episodes), job_batch, int(config["n_steps"])))
    seed = int(config["seed"])
    results = simulate_episodes(spec, _sim_params(config, world, spec.dtype), seed, episodes, rule_enabled)
    return pd.concat([e for e, _ in _frames(results, seed)], ignore_index=True)


def compile_ahead(config: dict[str, Any], start: int, stop: int, finishes: bool = True) -> None:
    """Start compiling the programs the job will run, on worker threads, while it checks its world: its
    batch, and where its rule values resume from checkpoints (`finishes`: not a shard) their re-run program,
    which has the batch's spec (hbbatch.program_cache.prepare; a cold job's two XLA compiles then overlap
    each other and the world's validation). Whatever fails here is left to the job's own steps to report."""
    from hbbatch.sim import resume, rollout

    try:
        world = build_world(config)
        stop = min(stop, world.n_episodes)
        steps = checkpoint_steps(config, stop - start, world)
        batch = rollout.batch_layout(stop - start, config["scale"]["batch_episodes"])[1]
        spec = rollout_spec(config, batch, steps)
        params, seed = _sim_params(config, world, spec.dtype), int(config["seed"])
        rollout.compile_ahead(spec, params, seed)
        if steps and finishes:
            resume.compile_ahead(spec, params, seed)
    except Exception as exc:   # bad input: the job's own steps fail on it, with their message
        log.debug("compile ahead skipped: %s", exc)


def simulate_to_files(config: dict[str, Any], out: Path, start: int, stop: int, label: str) -> tuple[dict, float]:
    """Simulate episodes start .. stop - 1 into out/episodes.parquet and out/rules.parquet; (spec, seconds)."""
    scale = config["scale"]
    t0 = time.perf_counter()
    world = build_world(config)   # before anything is written: a history file that fails its gate stops here
    stop = min(stop, world.n_episodes)
    checkpoints: list = []
    with Progress(label, stop - start, scale["progress"]) as progress:
        def batches():
            for episodes, rules in simulate_frames(config, start, stop, scale["batch_episodes"], world, checkpoints):
                progress.advance(len(episodes))
                yield {EPISODES: episodes, RULES: rules}

        tables.write_streamed({EPISODES: out / EPISODES, RULES: out / RULES}, batches())
    if checkpoints:   # for this job's rule values (finish_job)
        from hbbatch.sim.rollout import join_checkpoints

        _CHECKPOINTS.clear()   # at most one job's: a shard's, never finished here, is dropped by the next job
        _CHECKPOINTS[str(out)] = join_checkpoints(checkpoints)
    n_episodes = min(int(config["n_episodes"]), world.n_episodes)
    spec = asdict(rollout_spec(config, n_episodes, checkpoint_steps(config, stop - start, world)))
    return {**spec, "world": world.info}, time.perf_counter() - t0


def _exact_totals(out: Path, window_episodes: int) -> tuple[pd.DataFrame, int]:
    """Rule totals and the hard cap's most actions per window, over every episode (row group by row group)."""
    sums: pd.DataFrame | None = None
    for frame in tables.iter_frames(out / RULES, ["rule", *RULE_SUMS]):
        part = frame.groupby("rule", sort=False)[RULE_SUMS].sum()
        sums = part if sums is None else sums.add(part, fill_value=0)
    return sums.reset_index(), _most_actions_per_window(out / EPISODES, window_episodes)


def _most_actions_per_window(path: Path, window_episodes: int) -> int:
    """`max_actions_per_window` of the table, one row group at a time: each group is joined to the last
    window - 1 episodes before it (actions are never negative, so a shorter partial window never wins). Row
    groups out of episode order (not written by one stream) are read whole instead."""
    keep = max(int(window_episodes) - 1, 0)
    tail, best, last = None, 0, None
    for frame in tables.iter_frames(path, ["episode", "actions"]):
        if frame.empty:
            continue
        if last is not None and int(frame["episode"].min()) <= last:
            return max_actions_per_window(pd.read_parquet(path, columns=["episode", "actions"]), window_episodes)
        last = int(frame["episode"].max())
        joined = frame if tail is None else pd.concat([tail, frame], ignore_index=True)
        best = max(best, max_actions_per_window(joined, window_episodes))
        tail = joined.sort_values("episode").iloc[max(len(joined) - keep, 0):] if keep else joined.iloc[:0]
    return best


def summarize_files(out: Path, config: dict[str, Any], label: str) -> dict[str, Any]:
    """summary.json's numbers for a job's tables (see the module docstring for large jobs)."""
    stats_conf, rails = config["stats"], config["agent"]["rails"]
    n_episodes = tables.row_count(out / EPISODES)
    limit = int(stats_conf["max_episodes"])
    stride = tables.sample_stride(n_episodes, limit)
    episodes = tables.read_episodes(out / EPISODES, max_rows=limit)
    if stride == 1:
        rules = pd.read_parquet(out / RULES)
    else:   # the sample's rules only feed the part of summarize that is replaced below
        rules = pd.DataFrame({"rule": pd.Series(dtype=str), **{c: pd.Series(dtype=np.float64) for c in RULE_SUMS}})
    summary = summarize(episodes, rules, rails=rails, confidence=stats_conf["confidence"],
                        n_bootstrap=stats_conf["n_bootstrap"], seed=stats_conf["bootstrap_seed"], label=label)
    if stride > 1:
        totals, most_per_window = _exact_totals(out, int(rails["max_actions_episodes"]))
        summary["rules"] = rule_totals(totals).to_dict(orient="records")
        summary["hard_cap"]["max_actions_per_window"] = most_per_window
        summary["n_episodes"] = n_episodes
        summary["statistics_sample"] = {"episodes": int(len(episodes)), "stride": stride,
                                        "rule": "episode index divisible by stride"}
        log.info("[%s] statistics on %d of %d episodes (every %d-th); totals over all", label, len(episodes),
                 n_episodes, stride)
    return summary


def finish_job(out: Path, config: dict[str, Any], calibration: dict[str, Any], spec: dict[str, Any],
               record: dict[str, Any], mode: str) -> dict[str, Any]:
    """Summary and manifest of a job whose tables are in `out` (one job, or its shards merged): the
    record's new fields. The manifest is written here; summary.json by the caller, with timing."""
    label = str(record.get("campaign", "default"))
    summary = summarize_files(out, config, label)
    # a rule switched off changes the agent, not the world: every counterfactual runs in the job's world
    rule_values.add_to_job(out, config, summary, label,
                           functools.partial(simulate_counterfactuals, world=build_world(config),
                                             checkpoints=_CHECKPOINTS.pop(str(out), None)))
    job = {k: v for k, v in record.items() if k != "world_validation"}
    spec = dict(spec)
    world = spec.pop("world", None)
    manifest = build_manifest(job={**job, "output_dir": str(out), "mode": mode}, config=config,
                              calibration=calibration, spec=spec, seed=int(config["seed"]))
    if "world_validation" in record:    # the world's check before simulating (hbbatch.campaign.world_check)
        manifest["world_validation"] = record["world_validation"]
    if world is not None:   # name, history file and hash, bars, block length, gas and pool levels
        manifest["world"] = world
    hbio.write_json(out / MANIFEST, manifest)
    return dict(status="success", message=f"{summary['n_episodes']} episodes", summary=summary,
                config_hash=manifest["config_hash"], calibration_hash=calibration["hash"], seed=int(config["seed"]),
                world=str((config.get("world") or {}).get("name", "default")),
                world_hash=world_fingerprint(config), weeks_per_episode=weeks_per_episode(config))
