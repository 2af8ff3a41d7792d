"""The run's world validations for run_results.json: each distinct world its jobs used, once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def run_world_validations(jobs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """{"status": pass | fail | skipped | none, "worlds": one entry per distinct world (by key) with the labels of
    the jobs that used it}. Jobs that stopped before validating carry none; `validated_by` names the job that
    ran the check."""
    worlds: dict[str, dict[str, Any]] = {}
    for job in jobs:
        result = job.get("world_validation")
        if not result:
            continue
        key = result.get("key") or result.get("world")
        entry = worlds.setdefault(key, {k: v for k, v in result.items() if k not in ("cached", "suite_result")}
                                  | {"jobs": []})
        entry["jobs"].append(job.get("label"))
    statuses = {w.get("status") for w in worlds.values()}
    status = ("fail" if "fail" in statuses else "skipped" if "skipped" in statuses else
              "pass" if statuses else "none")
    return {"status": status, "worlds": list(worlds.values())}


def job_world_status(job: dict[str, Any]) -> dict[str, Any] | None:
    """A job's world check in brief: the world, its key and the status (pass | fail | skipped)."""
    result = job.get("world_validation")
    if not result:
        return None
    return {"world": result.get("world"), "key": result.get("key"), "status": result.get("status"),
            "cached": result.get("cached", False)}
