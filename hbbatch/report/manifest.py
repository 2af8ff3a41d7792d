"""manifest.json: what a job ran, so its numbers can be traced and reproduced (the go-live checklist's
"calibration hash in artifacts for auditability")."""

from __future__ import annotations

import functools
import hashlib
import json
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


def content_hash(payload: Any) -> str:
    """sha256 of the canonical JSON of `payload` (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """The package version and, in a git checkout, the commit and whether the tree had local changes."""
    version: dict[str, Any] = {"hbbatch": hbbatch.__version__, "git_commit": None, "git_dirty": None}
    try:
        commit = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(REPO_DIR), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5, check=True).stdout
        version.update(git_commit=commit, git_dirty=bool(status.strip()))
    except (OSError, subprocess.SubprocessError):
        pass   # not a checkout (installed from a wheel): the package version stands alone
    return version


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
    """The manifest of one job; `config` is the resolved job config without Hydra's own section."""
    return {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "job": job,
        "seed": seed,
        "config_hash": content_hash(config),
        "calibration_hash": calibration.get("hash", "none"),
        "calibration": calibration,
        "spec": spec,
        "code_version": code_version(),
        "package_versions": package_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine(), "python": sys.version.split()[0]},
        "config": config,
    }
