"""Run folders: unique names even for runs started in the same second; incomplete runs are marked and skipped."""

import os
import signal
import subprocess
import sys
import threading
import time
import json
from pathlib import Path

import pytest

from hbbatch import runs
from hbbatch.config import CONF_DIR
from hbbatch.planner.live import latest

REPO = CONF_DIR.parent


def test_reserve_dir__runs_started_in_the_same_second_get_folders_of_their_own(tmp_path):
    stamp = tmp_path / "three_way" / "2026-12-01_10-00-17"
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(runs.reserve_dir(stamp))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 8 and str(stamp) in got and f"{stamp}_2" in got
    assert all(Path(p).is_dir() for p in got)


def test_latest__skips_runs_that_carry_the_incomplete_marker(tmp_path):
    done, cancelled = tmp_path / "a" / "run1" / "0_A", tmp_path / "a" / "run2" / "0_A"
    for folder in (done, cancelled):
        folder.mkdir(parents=True)
        (folder / "episodes.parquet").write_text("x")
        time.sleep(0.01)
    runs.mark_incomplete(cancelled.parent)
    assert runs.is_incomplete(cancelled / "episodes.parquet") and not runs.is_incomplete(done / "episodes.parquet")
    assert latest(tmp_path, "episodes.parquet") == done / "episodes.parquet"
    runs.mark_complete(cancelled.parent)
    assert latest(tmp_path, "episodes.parquet") == cancelled / "episodes.parquet"


def test_cli__a_finished_run_leaves_no_marker(tmp_path):
    done = subprocess.run([sys.executable, "-m", "hbbatch", "n_episodes=8", "n_steps=60", "report.html=false", "world.validate=false",
                           f"paths.output_dir={tmp_path}"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [run_dir] = list((tmp_path / "default").iterdir())
    assert (run_dir / "run_results.json").is_file() and not (run_dir / runs.INCOMPLETE_MARKER).exists()


def test_cli__ctrl_c_records_the_run_as_cancelled_exits_130_and_leaves_the_marker(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hbbatch", "-m", "campaign=A,B,C", "n_episodes=64", "n_steps=3000",
                             "report.html=false", "world.validate=false", f"hydra.sweep.dir={tmp_path / 'run'}"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    deadline = time.time() + 120
    for line in proc.stdout:   # interrupt once the first job is done and the second has started
        seen.append(line)
        if "[B] simulating" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(seen) + out
    assert "cancelled (Ctrl-C)" in out
    run_dir = tmp_path / "run"
    run_results = json.loads((run_dir / "run_results.json").read_text())
    assert run_results["status"] == "cancelled" and run_results["exit_code"] == 130
    statuses = {r["unique_id"]: r["status"] for r in run_results["results"]}
    assert statuses.get("job.default.A") == "success" and statuses.get("job.default.B") == "cancelled", (statuses, out)
    assert not any(uid.startswith("criterion.") for uid in statuses)
    assert (run_dir / runs.INCOMPLETE_MARKER).is_file() and runs.is_incomplete(run_dir / "0_campaign=A")


@pytest.mark.parametrize("args, key", [
    (["hydra.run.dir=../../escaped"], "hydra.run.dir"),
    (["hydra.run.dir=outputs/../../../escaped"], "hydra.run.dir"),
    (["-m", "hydra.sweep.dir=../../escaped"], "hydra.sweep.dir"),
    (["-m", "hydra.sweep.subdir=../../../escaped"], "hydra.sweep.subdir"),
    (["-m", "hydra.sweep.subdir={absolute}"], "hydra.sweep.subdir"),
])
def test_hydra_folders__that_climb_out_are_refused_before_anything_is_written(tmp_path, monkeypatch, capsys, args,
                                                                              key):
    """Hydra's own folder settings are held to paths.output_dir's rule (absolute, or relative without '..'),
    and a job's folder stays inside its sweep's: one line naming the key, exit 2, no file anywhere."""
    from tests.test_cli import TINY, run_cli

    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    code = run_cli(*TINY, *[a.format(absolute=tmp_path / "escaped") for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(f"hbbatch: error: {key}=") and "climbs out" in err[0]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
