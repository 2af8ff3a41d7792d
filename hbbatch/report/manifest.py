"""manifest.json: what a job ran, so its numbers can be traced and reproduced (the go-live checklist's
"calibration hash in artifacts for auditability")."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import hbbatch

PACKAGES = ("hbbatch", "jax", "jaxlib", "numpy", "pandas", "pyarrow", "hydra-core", "omegaconf",
            "great-expectations", "matplotlib")
REPO_DIR = Path(hbbatch.__file__).resolve().parents[1]
# The config sections that determine a job's numbers (read after calibration is applied): two jobs with the
# same hash simulate the same episodes. Where files go, the report's look and names are left out.
RESULT_SECTIONS = ("world", "market", "agent", "floors", "regime_mix", "gating", "n_episodes", "n_steps", "dtype", "seed")
# The sections that make the world a job's episodes run in (read after calibration is applied): two jobs with
# the same fingerprint and seed see the same market paths, whatever their agent settings.
WORLD_SECTIONS = ("world", "market", "regime_mix", "n_steps", "dtype")
MINUTES_PER_WEEK = 7 * 24 * 60


def content_hash(payload: Any) -> str:
    """sha256 of the canonical JSON of `payload` (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def result_config_hash(config: dict[str, Any]) -> str:
    """content_hash of the sections that determine results (RESULT_SECTIONS present in `config`)."""
    return content_hash({k: config[k] for k in RESULT_SECTIONS if k in config})


def world_fingerprint(config: dict[str, Any]) -> dict[str, str]:
    """content_hash of each world section present in `config`: equal for jobs that share a world."""
    return {k: content_hash(config[k]) for k in WORLD_SECTIONS if k in config}


def weeks_per_episode(config: dict[str, Any]) -> float:
    """An episode's length in weeks (n_steps steps of market.step_minutes), for per-week figures."""
    step_minutes = float((config.get("market") or {}).get("step_minutes", 1.0))
    return float(config["n_steps"]) * step_minutes / MINUTES_PER_WEEK


def _git(repo_dir: Path, *args: str) -> str:
    """A read-only git command: no optional locks, so a run never takes .git/index.lock (nor rewrites the
    index to refresh it) in a checkout someone may be committing in."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    return subprocess.run(["git", "--no-optional-locks", "-C", str(repo_dir), *args], capture_output=True,
                          text=True, timeout=5, check=True, env=env).stdout


def git_state(repo_dir: Path, source: Path | None = None) -> dict[str, Any]:
    """The commit checked out in repo_dir and whether the tree differs from it: a modified, staged or
    untracked (not ignored) file counts, since an untracked module can change what runs. Nones outside git,
    and when `source` (the running code) is not a file that repository tracks: a package installed from a
    wheel into a virtualenv inside some checkout is not that checkout's code."""
    try:
        if source is not None:
            _git(repo_dir, "ls-files", "--error-unmatch", "--", str(Path(source).resolve()))
        commit = _git(repo_dir, "rev-parse", "HEAD").strip()
        status = _git(repo_dir, "status", "--porcelain", "--untracked-files=normal")
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}   # not a checkout (installed from a wheel)
    return {"git_commit": commit, "git_dirty": bool(status.strip())}


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """The package version and, in a git checkout, the commit and whether the tree had local changes."""
    return {"hbbatch": hbbatch.__version__, **git_state(REPO_DIR, Path(hbbatch.__file__))}


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def build_manifest(*, job: dict[str, Any], config: dict[str, Any], calibration: dict[str, Any],
                   spec: dict[str, Any], seed: int) -> dict[str, Any]:
    """The manifest of one job; `config` is the resolved (and calibrated) job config without Hydra's own
    section, stored whole; its hash covers only the sections that determine results."""
    return {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "job": job,
        "seed": seed,
        "config_hash": result_config_hash(config),
        "calibration_hash": calibration.get("hash", "none"),
        "calibration": calibration,
        "spec": spec,
        "code_version": code_version(),
        "package_versions": package_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine(), "python": sys.version.split()[0]},
        "config": config,
    }
