"""Run folders: a unique name for each run, and a marker on a run that has not finished.

A run's folder is created here, atomically (`os.mkdir`), so two runs started in the same second never
share one: the second gets the time stamp with a suffix (`..._10-00-17_2`). While a run is in progress
its folder holds INCOMPLETE_MARKER; the run's report removes it once run_results.json is written, so a
run killed by Ctrl-C (or by anything else) keeps it, and readers of earlier runs (`task=plan`'s latest
campaign) skip folders that carry it. Standard library only: every room may use it.
"""

from __future__ import annotations

import os
from pathlib import Path

INCOMPLETE_MARKER = ".incomplete"   # present from a run's start until its report is written
MAX_SUFFIX = 10_000
_current: dict[str, object] = {}    # the run in progress in this process: where it writes (for Ctrl-C)


def reserve_dir(path: str | os.PathLike[str]) -> str:
    """Create `path`, or `path_2`, `path_3`, ... if taken, and return the one created (with its parents)."""
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, MAX_SUFFIX):
        candidate = base if n == 1 else base.with_name(f"{base.name}_{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return str(candidate)
    raise FileExistsError(f"{base}: {MAX_SUFFIX} runs already use this time stamp; remove old run folders")


def mark_incomplete(run_dir: str | os.PathLike[str], note: str = "") -> Path:
    """Put the in-progress marker into run_dir (created if needed)."""
    marker = Path(run_dir) / INCOMPLETE_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(note + "\n" if note else "")
    return marker


def mark_complete(run_dir: str | os.PathLike[str]) -> None:
    (Path(run_dir) / INCOMPLETE_MARKER).unlink(missing_ok=True)


def is_incomplete(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> bool:
    """True when `path` or a folder above it (up to `root`, if given) carries the in-progress marker."""
    path = Path(path).resolve()
    stop = Path(root).resolve() if root is not None else None
    for folder in (path, *path.parents) if path.is_dir() else path.parents:
        if (folder / INCOMPLETE_MARKER).exists():
            return True
        if stop is not None and folder == stop:
            break
    return False


def start_run(run_dir: str | os.PathLike[str], experiment: str, started: float) -> None:
    """A campaign run begins: mark its folder and remember it (a Ctrl-C then knows what to record where)."""
    mark_incomplete(run_dir, f"started {started:.3f}")
    _current.clear()
    _current.update(run_dir=str(run_dir), experiment=experiment, started=started)


def finish_run(run_dir: str | os.PathLike[str]) -> None:
    """A run's report is written: the folder is complete."""
    mark_complete(run_dir)
    _current.clear()


def current_run() -> dict[str, object]:
    """{run_dir, experiment, started} of the run in progress in this process; empty when none."""
    return dict(_current)
