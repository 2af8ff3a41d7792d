"""`hbbatch --help` tells the truth: the launchers it lists compose, its artifact contract is what runs
write (a single run, a multirun and its jobs, the other tasks), and a reader that stops early (`| head`)
gets no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hbbatch import help as hb_help
from hbbatch.config import CONF_DIR
from tests.test_cli import TINY, run_cli

BARS = (Path(__file__).resolve().parent / "data" / "mainnet_usdc_weth_2024-01-05"
        / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.minute.csv")


def _written(folder: Path) -> set[str]:
    """The names a run wrote into folder, without Hydra's own .hydra/ and hbbatch's dot-folders."""
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


def test_help__lists_every_launcher_and_each_one_composes(capsys):
    text = hb_help.help_text(CONF_DIR)
    assert "hydra/launcher=" + "|".join(hb_help.LAUNCHERS) in text
    for launcher in hb_help.LAUNCHERS:
        assert run_cli(f"hydra/launcher={launcher}", "--cfg", "hydra", "-p", "hydra.launcher._target_") == 0
        assert "Launcher" in capsys.readouterr().out, launcher


def test_help__the_artifacts_of_a_single_run_and_a_multirun_are_what_they_write(tmp_path):
    single = tmp_path / "single"
    assert run_cli(*TINY, f"hydra.run.dir={single}") == 0
    assert _written(single) == set(hb_help.JOB_FILES) | set(hb_help.SINGLE_RUN_FILES)

    sweep = tmp_path / "sweep"
    assert run_cli("-m", "campaign=A,B", *TINY, f"hydra.sweep.dir={sweep}") in (0, 1)   # 1: a criterion failed
    jobs = [p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(jobs) == 2 and all(_written(job) == set(hb_help.JOB_FILES) for job in jobs)
    assert _written(sweep) - {job.name for job in jobs} == set(hb_help.RUN_FILES)


@pytest.mark.parametrize("task, args", [   # task=calibrate's one file: tests/calibration/test_task.py (a fit: slow)
    ("plan", []),
    ("replay", [f"replay.bars={BARS}", "replay.hold_band=[198950,199150]"]),
])
def test_help__each_tasks_artifacts_are_what_it_writes(tmp_path, task, args):
    assert run_cli(f"task={task}", *args, f"hydra.run.dir={tmp_path}") == 0
    assert _written(tmp_path) == set(hb_help.TASK_FILES[task]) | {"hbbatch.log"}


def test_help__piped_into_a_reader_that_stops_early_ends_without_a_traceback():
    env = {**os.environ, "PYTHONPATH": str(CONF_DIR.parent)}
    child = subprocess.Popen([sys.executable, "-m", "hbbatch", "--help"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
    child.stdout.close()          # `| head -0`: gone before the help is printed
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0 and err == ""
