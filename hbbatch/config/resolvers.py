"""OmegaConf resolvers used by conf/: `${hb.env_mix:...}`, `${hb.job_dir:...}`, `${hb.repo:...}`,
`${hb.run_dir:...}` (a run folder of its own: hbbatch.runs.reserve_dir, resolved once per run)."""

from __future__ import annotations

import re
from pathlib import Path

from omegaconf import OmegaConf

REPO_DIR = Path(__file__).resolve().parents[2]


def env_mix(regime: str, default: float) -> float:
    """The weight of `regime` in HB_REGIME_MIX when set, else `default` (conf/regime_mix/roadmap.yaml)."""
    from hbbatch.config.env_mix import regime_mix_from

    mix = regime_mix_from()
    return float(default) if mix is None else mix[regime]


def job_dir(num: int, override_dirname: str) -> str:
    """A job's folder in a sweep: its number and its overrides, made safe for a path."""
    label = re.sub(r"[^A-Za-z0-9_.,=+-]", "_", str(override_dirname))[:80]
    return f"{num}_{label}" if label else str(num)


def shard_sweep(shards: int) -> str:
    """The sweep over shard indices for `shards` (`0,1,...,shards-1`); one shard: the single value 0."""
    shards = int(shards)
    if shards < 1:
        raise ValueError(f"shards={shards}: use a whole number >= 1")
    return ",".join(str(i) for i in range(shards))


def sweep_subdir(num: int, override_dirname: str, shards: int, shard: int) -> str:
    """A job's folder: `job_dir` as always; a shard's under `shards/`, merged into the job's folder after."""
    if int(shards) <= 1:
        return job_dir(num, override_dirname)
    return f"shards/{job_dir(num, override_dirname)}_shard{int(shard)}"


def csv(values) -> str:
    """A list as a sweep's comma-separated values (`experiment.worlds` -> `world: historical,regimes`)."""
    items = [str(v) for v in values]
    if not items:
        raise ValueError("an empty list cannot be swept; give at least one value (experiment.worlds=[historical])")
    return ",".join(items)


def repo_path(relative: str) -> str:
    """A path of the project: conf/, expectations/ and queries/ wherever they are installed (resource_dir)."""
    from hbbatch.config import RESOURCES, resource_dir

    head, _, rest = str(relative).partition("/")
    if head in RESOURCES:
        return str(resource_dir(head) / rest) if rest else str(resource_dir(head))
    return str(REPO_DIR / relative)


def register_resolvers() -> None:
    from hbbatch.runs import reserve_dir

    for name, fn in (("hb.env_mix", env_mix), ("hb.job_dir", job_dir), ("hb.repo", repo_path),
                     ("hb.shard_sweep", shard_sweep), ("hb.sweep_subdir", sweep_subdir), ("hb.csv", csv)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
    # cached: Hydra copies a run's resolver cache into every job's config (as for ${now:}), so the folder is
    # created once and every job of the run sees the same name
    if not OmegaConf.has_resolver("hb.run_dir"):
        OmegaConf.register_new_resolver("hb.run_dir", reserve_dir, use_cache=True)
