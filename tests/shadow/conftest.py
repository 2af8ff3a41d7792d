"""Shared helpers: the shadow command in a subprocess, the JSON-RPC stand-in process, reading a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).with_name("rpc_standin.py")
OPEN_BLOCK = 18937381       # the stand-in's block just before the day's first pool event (00:00:11 UTC)
SECRET = "SeCrEtKeY0123456789"


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO) + os.pathsep + out.get("PYTHONPATH", "")
    out.pop("HYDRA_FULL_ERROR", None)
    return out


def shadow_args(state_dir: Path, *overrides: str) -> list[str]:
    """The command, cold (agent.warmup_minutes=0: the embedded day is one default warm-up long) unless
    `overrides` set the warm-up."""
    cold = [] if any(o.startswith("agent.warmup_minutes=") for o in overrides) else ["agent.warmup_minutes=0"]
    return [sys.executable, "-m", "hbbatch", "task=shadow", f"shadow.state_dir={state_dir}",
            f"hydra.run.dir={state_dir.parent / (state_dir.name + '_hydra')}", *cold, *overrides]


def run_shadow_cli(state_dir: Path, *overrides: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(shadow_args(state_dir, *overrides), cwd=REPO, env=env(), capture_output=True, text=True,
                          timeout=timeout)


def start_shadow(state_dir: Path, *overrides: str) -> subprocess.Popen:
    return subprocess.Popen(shadow_args(state_dir, *overrides), cwd=REPO, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.kill(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def decisions(state_dir: Path) -> list[dict]:
    path = Path(state_dir) / "decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(predicate, timeout: float = 60.0, every: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


class StandIn:
    """The JSON-RPC stand-in as a process on 127.0.0.1 (see rpc_standin.py for its options)."""

    def __init__(self, tmp_path: Path, *options: str):
        self.port_file, self.log = tmp_path / "standin.port", tmp_path / "standin.log"
        self.process = subprocess.Popen([sys.executable, str(STANDIN), "--port-file", str(self.port_file),
                                         "--log", str(self.log), *options], cwd=REPO, env=env())
        wait_for(self.port_file.exists, 30, what="the stand-in's port")
        self.port = int(self.port_file.read_text())
        self.url = f"http://127.0.0.1:{self.port}"

    def methods(self) -> list[str]:
        return [line.split()[0] for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def stop(self) -> None:
        stop(self.process)


@pytest.fixture
def standin_factory(tmp_path):
    started = []

    def make(*options: str) -> StandIn:
        folder = tmp_path / f"standin{len(started)}"
        folder.mkdir()
        s = StandIn(folder, *options)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


def rpc_overrides(url: str, *extra: str) -> list[str]:
    """A URL with a key in its path and query, as providers hand them out (quoted for Hydra)."""
    return ["shadow.source=rpc", f"shadow.rpc_url='{url}/v3/{SECRET}?apikey={SECRET}'",
            f"shadow.start_block={OPEN_BLOCK}", "shadow.poll_s=0.2", "shadow.backoff_s=0.05", "shadow.timeout_s=2",
            *extra]


@pytest.fixture
def memory_dir(tmp_path):
    """A scratch folder in memory where the machine has one (/dev/shm), else tmp_path: for checks of
    decisions rather than of the disk, where the decision log's fsync per step would dominate."""
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="hbbatch-shadow-", dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
