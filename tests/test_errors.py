"""Errors as one line: a launcher job killed mid-run (submitit's own error, from a real local job)."""

from __future__ import annotations

import os
import signal
import sys

import pytest
import submitit

from hbbatch.errors import one_line


def _killed_after_an_error_line() -> None:
    print("MemoryError: the shard's tables did not fit", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def test_errors__a_killed_launcher_job_is_one_line_with_its_last_error_and_its_logs(tmp_path):
    job = submitit.LocalExecutor(folder=tmp_path).submit(_killed_after_an_error_line)
    with pytest.raises(submitit.core.utils.UncompletedJobError) as raised:
        job.result()
    error = raised.value
    assert str(error).count("\n") >= 3          # submitit's: the job, its state, a rule and the log
    line = one_line(error)
    assert "\n" not in line
    assert line.startswith(f"launcher job {job.job_id} (task 0) ended without a result (state: ")
    assert "its last error line: MemoryError: the shard's tables did not fit" in line
    assert f"its logs: {tmp_path}/{job.job_id}_0_log.out and {tmp_path}/{job.job_id}_0_log.err" in line
    assert (tmp_path / f"{job.job_id}_0_log.err").exists()
