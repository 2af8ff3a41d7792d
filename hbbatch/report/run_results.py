"""run_results.json in dbt's shape: metadata, then one result per job and per criterion.

Statuses follow dbt: jobs are success | error, criteria pass | fail | warn | error | skipped; `failures` counts
failed checks (0 or 1 per result), as dbt counts failing rows of a test.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import hbbatch
from hbbatch.report.world_validation import job_world_status, run_world_validations

SCHEMA = "hbbatch/run-results/v1 (after dbt's run-results/v6)"
RUN_STATUS = {0: "success", 1: "fail", 2: "error", 130: "cancelled"}


def job_result(job: dict[str, Any], experiment: str) -> dict[str, Any]:
    return {
        "unique_id": f"job.{experiment}.{job['label']}",
        "status": job["status"],
        "timing": job.get("timing", []),
        "execution_time": job.get("execution_time", 0.0),
        "message": job.get("message", ""),
        "failures": None,
        "adapter_response": {},
        "relation_name": job.get("dir"),
        "config_hash": job.get("config_hash"),
        "calibration_hash": job.get("calibration_hash", "none"),
        "world_validation": job_world_status(job),
    }


def criterion_result(result: Any) -> dict[str, Any]:
    return {
        "unique_id": result.unique_id,
        "status": result.status,
        "timing": [],
        "execution_time": result.execution_time,
        "message": result.message,
        "failures": int(result.status in ("fail", "warn")),
        "adapter_response": {},
        "depends_on": [result.variant, result.baseline],
        "suite": result.suite,
    }


def build_run_results(*, jobs: Sequence[dict[str, Any]], criteria: Sequence[Any], experiment: str,
                      elapsed_s: float, args: dict[str, Any], exit_code: int, errors: Sequence[str] = (),
                      skipped_pairs: Sequence[dict[str, str]] = (), status: str | None = None,
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """`errors`: what made the run exit 2 beyond a job's own status; `skipped_pairs`: pairs not compared, why;
    `status`: the run's (success | fail | error | cancelled; from the exit code where not given); `extra`: further
    top-level keys (the verdict, the worlds, world validation)."""
    return {
        "metadata": {
            "dbt_schema_version": SCHEMA,
            "hbbatch_version": hbbatch.__version__,
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "invocation_id": str(uuid.uuid4()),
            "experiment": experiment,
        },
        "results": [job_result(j, experiment) for j in jobs] + [criterion_result(c) for c in criteria],
        "status": status or RUN_STATUS.get(exit_code, "error"),
        "elapsed_time": elapsed_s,
        "exit_code": exit_code,
        "errors": list(errors),
        "skipped_pairs": list(skipped_pairs),
        "world_validation": run_world_validations(jobs),
        "args": args,
        **(extra or {}),
    }
