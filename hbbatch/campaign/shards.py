"""shards=N: a job's episodes split into N consecutive ranges, each a job on the launcher, merged after.

    python -m hbbatch +experiment=three_way -m n_episodes=1000000 shards=8 hydra/launcher=ray

The sweep gains a `shard` axis (conf/hydra/default.yaml); shard k of N runs episodes
[k n / N, (k + 1) n / N) and writes its tables under `<run>/shards/`. Because a market path depends only
on (seed, episode index), a shard's rows are exactly those rows of the unsharded run. After the sweep,
`ShardReduceCallback` (before the run's report) merges each job's shards into the folder the unsharded
job would have had (`<num>_<overrides>`), re-cutting row groups at the same boundaries, so
episodes.parquet and rules.parquet are byte-identical to the unsharded run's; summary.json and
manifest.json are computed from the merged tables as a job computes its own. The shard folders stay
under `shards/` for audit (their shard.json says which episodes each ran).
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from hbbatch import exit_codes
from hbbatch import io as hbio
from hbbatch import tables
from hbbatch.campaign import stream
from hbbatch.campaign.calibration_spread import SPREAD
from hbbatch.config.resolvers import job_dir

log = logging.getLogger(__name__)
SHARDS_DIR, SHARD_RECORD, SUMMARY = "shards", "shard.json", "summary.json"
# a shard's folder (hbbatch.config.resolvers.sweep_subdir); anything else under shards/ (the world check's
# cache of the sweep, .world_validation/) is not a shard
SHARD_FOLDER = re.compile(r"^\d+(_.*)?_shard\d+$")


def is_shard(config: dict[str, Any], mode: str) -> bool:
    """A shard job: shards > 1 in a multirun (a single run ignores shards, with a note)."""
    return int(config.get("shards", 1)) > 1 and mode == "MULTIRUN"


def check_count(count: int, n_episodes: int) -> None:
    """A multirun's `shards` must leave every shard an episode."""
    if count > n_episodes:
        raise ValueError(f"shards={count}: more shards than n_episodes={n_episodes}; use shards <= n_episodes")


def episode_range(config: dict[str, Any], mode: str) -> tuple[int, int]:
    """[start, stop) of the episodes this job runs."""
    n = int(config["n_episodes"])
    count, index = int(config.get("shards", 1)), int(config.get("shard", 0))
    if not is_shard(config, mode):
        if count > 1:
            log.warning("shards=%d needs a multirun (-m): running all %d episodes in one job", count, n)
        return 0, n
    check_count(count, n)
    if not 0 <= index < count:
        raise ValueError(f"shard={index}: use 0 <= shard < shards={count} (the sweep sets it)")
    return index * n // count, (index + 1) * n // count


def describe(config: dict[str, Any], start: int, stop: int, mode: str) -> str:
    if not is_shard(config, mode):
        return ""
    return f", shard {int(config['shard'])} of {int(config['shards'])}: episodes {start}..{stop - 1}"


def shard_record(out: Path, config: dict[str, Any], calibration: dict[str, Any], spec: dict[str, Any],
                 start: int, stop: int) -> dict[str, Any]:
    """Write what the reduce needs beside a shard's tables; the fields of its summary.json."""
    shard = {"index": int(config["shard"]), "count": int(config["shards"]), "start": start, "stop": stop}
    hbio.write_json(out / SHARD_RECORD, {"shard": shard, "config": config, "calibration": calibration,
                                         "spec": spec})
    return {"status": "success", "message": f"shard {shard['index']} of {shard['count']}: episodes "
            f"{start}..{stop - 1}", "shard": shard}


def _without_shard(overrides: list[str]) -> list[str]:
    return [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != "shard"]


def _group(shard_dirs: list[Path]) -> list[list[tuple[Path, dict[str, Any]]]]:
    """Shard folders grouped by job (their overrides less `shard`), jobs in launch order, shards by index."""
    groups: dict[tuple[str, ...], list[tuple[Path, dict[str, Any]]]] = {}
    for folder in shard_dirs:
        summary = hbio.read_json(folder / SUMMARY) if (folder / SUMMARY).is_file() else {}
        overrides = summary.get("overrides")
        if overrides is None:   # killed before its summary: Hydra's record of the overrides
            overrides = list(OmegaConf.load(folder / ".hydra" / "overrides.yaml"))
        summary.setdefault("job_num", int(folder.name.split("_", 1)[0]))
        groups.setdefault(tuple(_without_shard(list(overrides))), []).append((folder, summary))
    ordered = sorted(groups.values(), key=lambda g: min(s["job_num"] for _, s in g))
    return [sorted(g, key=lambda item: int(_shard_of(item)["index"])) for g in ordered]


def _shard_of(item: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    folder, summary = item
    if "shard" in summary:
        return summary["shard"]
    hydra_overrides = list(OmegaConf.load(folder / ".hydra" / "overrides.yaml"))
    index = next(int(o.split("=", 1)[1]) for o in hydra_overrides if o.split("=", 1)[0].lstrip("+~") == "shard")
    return {"index": index}


def _copy_hydra(source: Path, target: Path) -> None:
    """The first shard's .hydra/ for the merged job, without the shard override."""
    (target / ".hydra").mkdir(parents=True, exist_ok=True)
    for name in ("config.yaml", "hydra.yaml"):
        if (source / ".hydra" / name).is_file():
            shutil.copyfile(source / ".hydra" / name, target / ".hydra" / name)
    overrides = _without_shard(list(OmegaConf.load(source / ".hydra" / "overrides.yaml")))
    hbio.write_text(target / ".hydra" / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(overrides)))


def _merge_logs(target: Path, shard_dirs: list[Path]) -> None:
    """The shards' job logs (`<job name>.log`), one after another, as the merged job's log."""
    for name in sorted({p.name for folder in shard_dirs for p in folder.glob("*.log")}):
        parts = [f"==> {SHARDS_DIR}/{folder.name}/{name} <==\n" + (folder / name).read_text()
                 for folder in shard_dirs if (folder / name).is_file()]
        hbio.write_text(target / name, "".join(parts))


def merge_job(num: int, shards: list[tuple[Path, dict[str, Any]]], run_dir: Path, count: int | None = None) -> Path:
    """Merge one job's shards into `<run>/<num>_<overrides>/`; returns that folder. With `count` (the run's
    `shards`), a job missing one of its shard folders (a shard the launcher never started) is an error of the
    job, never a merge of fewer episodes."""
    first_dir, first = shards[0]
    target_name = job_dir(num, OmegaConf.load(first_dir / ".hydra" / "hydra.yaml").hydra.job.override_dirname)
    target = run_dir / target_name
    _copy_hydra(first_dir, target)
    _merge_logs(target, [folder for folder, _ in shards])
    record: dict[str, Any] = {"campaign": first.get("campaign"), "job_num": num,
                              "overrides": _without_shard(list(first.get("overrides", []))),
                              "shards": [{"dir": str(folder.relative_to(run_dir)), **_shard_of((folder, s))}
                                         for folder, s in shards]}
    if first.get("world_validation") is not None:   # one world: the shards share its check
        record["world_validation"] = first["world_validation"]
    failed = [(folder, s) for folder, s in shards if s.get("status") != "success"]
    timing = [t for _, s in shards for t in s.get("timing", [])]
    record["timing"] = [{"name": "execute", "started_at": min((t["started_at"] for t in timing), default=None),
                         "completed_at": max((t["completed_at"] for t in timing), default=None)}]
    record["execution_time"] = sum(float(s.get("execution_time", 0.0)) for _, s in shards)
    record["simulate_s"] = sum(float(s.get("simulate_s", 0.0)) for _, s in shards)
    missing = sorted(set(range(count)) - {int(_shard_of(item)["index"]) for item in shards}) if count else []
    if failed:
        folder, s = failed[0]
        record.update(status="error", message=f"shard {folder.name}: {s.get('message', 'did not finish')}"
                      + (f" ({len(failed)} of {len(shards)} shards failed)" if len(failed) > 1 else ""))
    elif missing:
        record.update(status="error", message=f"shard(s) {', '.join(map(str, missing))} of {count} never ran "
                      f"(no folder under {SHARDS_DIR}/): nothing merged")
    else:
        saved = hbio.read_json(first_dir / SHARD_RECORD)
        config = {**saved["config"], "shard": 0}
        _merge_tables(target, [folder for folder, _ in shards])
        record.update(stream.finish_job(target, config, saved["calibration"], saved["spec"], record, "MULTIRUN"))
    hbio.write_json(target / SUMMARY, record)
    return target


def _merge_tables(target: Path, shard_dirs: list[Path]) -> None:
    for name in (stream.EPISODES, stream.RULES):
        frames = ({name: frame} for folder in shard_dirs for frame in tables.iter_frames(folder / name))
        tables.write_streamed({name: target / name}, frames)
    if all((folder / SPREAD).is_file() for folder in shard_dirs):
        # the calibrated world's refits (hbbatch.campaign.calibration_spread): refit by refit, episodes in order
        spread = pd.concat([pd.read_parquet(folder / SPREAD) for folder in shard_dirs], ignore_index=True)
        hbio.write_parquet(target / SPREAD, spread.sort_values("resample", kind="stable").reset_index(drop=True))


def reduce_run(run_dir: Path, count: int | None = None) -> list[Path]:
    """Merge every job's shards found under `<run_dir>/shards/` (`count` of them a job); the merged job folders."""
    shard_dirs = sorted(d for d in (run_dir / SHARDS_DIR).iterdir() if d.is_dir() and SHARD_FOLDER.match(d.name)) \
        if (run_dir / SHARDS_DIR).is_dir() else []
    merged = [merge_job(num, group, run_dir, count) for num, group in enumerate(_group(shard_dirs))]
    log.info("merged %d shard(s) into %d job(s)", len(shard_dirs), len(merged))
    return merged


class ShardReduceCallback(Callback):
    """After a sharded sweep, before the run's report (Hydra calls end hooks in reverse order)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("task") != "campaign" or int(config.get("shards", 1)) <= 1:
            return
        try:
            reduce_run(Path(config.hydra.sweep.dir), int(config.shards))
        except Exception as exc:   # an error of the run, never a traceback (Hydra would turn it into a warning)
            log.error("hbbatch: error: merging shards of %s failed: %s", config.hydra.sweep.dir, exc)
            log.debug("traceback", exc_info=True)
            exit_codes.record(exit_codes.ERROR)
