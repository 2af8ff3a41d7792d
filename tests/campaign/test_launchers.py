"""Every launcher and shards=N write exactly the tables of the basic launcher's unsharded run.

The oracle is the basic launcher itself: a market path depends only on (seed, episode index), so a job's
rows cannot depend on where or in how many pieces it ran. Parquet files are compared byte for byte.
The Ray test starts a real head on 127.0.0.1 (`ray start --head --block`, its own process group) and
stops it by its process group id.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ["+experiment=three_way", "-m", "experiment.worlds=[historical]", "n_episodes=24", "n_steps=64", "report.html=false", "report.table=false",
        "world.validate=false"]   # the world check has its own tests (tests/campaign/test_world_check.py)


RAY_TOKEN = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}   # this test's cluster only


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax-cache"),
            **RAY_TOKEN}


def run_cli(tmp_path: Path, name: str, *overrides: str) -> Path:
    """Run the three-way campaign into tmp_path/name; its run folder."""
    out = tmp_path / name
    done = subprocess.run([sys.executable, "-m", "hbbatch", *TINY, f"paths.output_dir={out}", *overrides],
                          cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    # exit 1: a roadmap criterion fails at this tiny size (a finding of the run, not of the launcher)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    (run_dir,) = list((out / "three_way").iterdir())
    return run_dir


def table_digests(run_dir: Path) -> dict[str, str]:
    """sha256 of every table the run wrote outside shards/ (per job and the multirun's comparison)."""
    files = sorted(p for p in run_dir.rglob("*.parquet") if "shards" not in p.relative_to(run_dir).parts)
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def basic(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    tmp_path = tmp_path_factory.mktemp("basic")
    run_dir = run_cli(tmp_path, "basic")
    digests = table_digests(run_dir)
    assert {"0_campaign=A,world=historical/episodes.parquet", "1_campaign=B,world=historical/rules.parquet", "comparison.parquet"} <= set(digests)
    return run_dir, digests


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> Path:
    # 5 shards do not divide 24 episodes; the world check on, as a user runs it: its cache of the sweep
    # (shards/.world_validation/) is no shard to merge
    return run_cli(tmp_path_factory.mktemp("sharded"), "sharded", "shards=5", "world.validate=true")


def test_shards__merge_into_the_unsharded_run_byte_for_byte(basic, sharded):
    run_dir, digests = basic
    assert (sharded / "shards" / ".world_validation").is_dir()
    assert table_digests(sharded) == digests
    # each shard ran its own episode range, and the merged jobs say which
    job = sharded / "0_campaign=A,world=historical"
    summary = pd.read_json(job / "summary.json", typ="series")
    assert summary["status"] == "success"
    assert [(s["start"], s["stop"]) for s in summary["shards"]] == [(0, 4), (4, 9), (9, 14), (14, 19), (19, 24)]
    assert summary["summary"]["n_episodes"] == 24
    episodes = pd.read_parquet(sharded / "shards" / "7_campaign=B,world=historical_shard2" / "episodes.parquet")
    assert episodes["episode"].tolist() == list(range(9, 14))
    # the job's log is its shards' logs, in order
    log = (job / "hbbatch.log").read_text()
    heads = [log.index(f"==> shards/{3 * k}_campaign=A,world=historical_shard{k}/hbbatch.log <==") for k in range(5)]
    assert heads == sorted(heads) and "shard 4 of 5: episodes 19..23" in log


def test_shards__a_shard_that_never_ran_fails_its_job_instead_of_merging_fewer_episodes(sharded, tmp_path):
    from hbbatch.campaign.shards import reduce_run

    run_dir = tmp_path / "run"
    shutil.copytree(sharded, run_dir)
    shutil.rmtree(run_dir / "shards" / "3_campaign=A,world=historical_shard1")
    reduce_run(run_dir, count=5)
    summary = pd.read_json(run_dir / "0_campaign=A,world=historical" / "summary.json", typ="series")
    assert summary["status"] == "error"
    assert summary["message"] == "shard(s) 1 of 5 never ran (no folder under shards/): nothing merged"
    assert pd.read_json(run_dir / "1_campaign=B,world=historical" / "summary.json", typ="series")["status"] == "success"


@pytest.mark.slow
def test_shards__the_calibrated_worlds_refits_merge_into_the_unsharded_runs(tmp_path):
    """In the parametric world each job also runs its settings in refits of the world (calibration_spread.parquet,
    the verdict's calibration spread): each shard runs its own episodes' refits, merged refit by refit."""
    regimes = ["experiment.worlds=[regimes]", "experiment.calibration_resamples=1", "n_episodes=12"]
    basic_dir = run_cli(tmp_path, "basic", *regimes)
    sharded_dir = run_cli(tmp_path, "sharded", *regimes, "shards=5")
    digests, merged = table_digests(basic_dir), table_digests(sharded_dir)
    spreads = [name for name in digests if name.endswith("/calibration_spread.parquet")]
    assert len(spreads) == 3 and set(merged) == set(digests)
    assert {k: v for k, v in merged.items() if k not in spreads} == {k: v for k, v in digests.items() if k not in spreads}
    # In this world a refit's float32 realized_vol can differ in its last bit with the batch's layout (here
    # episode 8 of refit 1 at 12 lanes against 2): the spread is compared by value, every other table by bytes.
    for name in spreads:
        pd.testing.assert_frame_equal(pd.read_parquet(sharded_dir / name), pd.read_parquet(basic_dir / name),
                                      check_exact=False, rtol=1e-6)


@pytest.mark.slow
def test_launchers__submitit_local_and_joblib_match_basic(basic, tmp_path):
    _, digests = basic
    assert table_digests(run_cli(tmp_path, "submitit", "hydra/launcher=submitit_local", "shards=2")) == digests
    assert table_digests(run_cli(tmp_path, "joblib", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")) == digests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head(tmp_path):
    """A Ray head on 127.0.0.1 in its own process group; yields its address."""
    ray = Path(sys.executable).with_name("ray")
    port = _free_port()
    temp_dir = Path("/tmp") / f"hbray{os.getpid()}"   # Ray's socket paths must stay short
    head = subprocess.Popen([str(ray), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                             f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                             f"--temp-dir={temp_dir}", "--disable-usage-stats"],
                            env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert head.poll() is None, "ray start exited"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the Ray head did not listen within 60 s")
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=10)
        try:   # raylet and GCS share the head's group: make sure none is left
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
def test_launchers__ray_cluster_on_localhost_matches_basic(basic, tmp_path, ray_head):
    _, digests = basic
    run_dir = run_cli(tmp_path, "ray", "hydra/launcher=ray_cluster", f"hydra.launcher.ray.init.address={ray_head}")
    assert table_digests(run_dir) == digests
