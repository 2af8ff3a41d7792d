"""Large jobs: an estimate first, a refusal beyond the limits unless force=true, tables streamed in batches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hbbatch import tables
from hbbatch.campaign import scale

ROOT = Path(__file__).resolve().parents[2]
LIMITS = {"estimate_above_s": 10.0, "max_hours": 1.0, "max_memory_gb": 4.0}


def test_scale__estimate_is_close_to_the_runs_measured_here():
    """Against runs on this 2-core machine (bench/README.md and the figures in scale.py): 10 M x 10,080 with the
    day's warm-up took 39 min 5 s wall, idle; 1 M x 60 took 79 CPU-s (steps 60, warm-up 1,440)."""
    def job(n_episodes, n_steps, cores):
        reruns = scale.counterfactual_episodes(n_episodes, n_steps, 4, 20_000)
        return scale.estimate(n_episodes, n_steps, "float32", 1 << 18, 200_000, platform="cpu", cores=cores,
                              warmup_steps=1440, rerun_episodes=reruns)

    assert job(10_000_000, 10_080, cores=2).seconds == pytest.approx(39 * 60 + 5, rel=0.10)
    assert job(1_000_000, 60, cores=1).seconds == pytest.approx(79, rel=0.15)   # one core: CPU-seconds
    # re-runs: 552, 9,708 and 38,074 of 4 rules x 20,000 valued episodes at 60, 2,016 and 10,080 steps
    for n_steps, measured in ((60, 552), (2016, 9708), (10_080, 38_074)):
        assert 0.5 < scale.counterfactual_episodes(1_000_000, n_steps, 4, 20_000) / measured < 2.0
    # memory does not grow with the episodes: one batch and the statistics sample
    assert job(10_000_000, 10_080, 2).memory_gb == job(1_000_000, 10_080, 2).memory_gb < 4.0


def test_scale__refuses_beyond_the_limits_unless_forced(caplog):
    too_long = scale.estimate(10_000_000, 10_080, "float64", 1 << 18, 200_000, platform="cpu", cores=2)
    with pytest.raises(scale.ScaleError, match=r"longer than scale.max_hours=1.0; add force=true"):
        scale.check(too_long, LIMITS, force=False, label="B")
    scale.check(too_long, LIMITS, force=True, label="B")           # runs anyway, says so
    assert "running anyway (force=true)" in caplog.text
    huge_batch = scale.estimate(10_000, 100, "float32", 1 << 26, 200_000, platform="cpu", cores=2)
    scale.check(huge_batch, LIMITS, force=False, label="B")         # 10,000 episodes: the batch is 10,000
    with pytest.raises(scale.ScaleError, match="above scale.max_memory_gb"):
        scale.check(scale.estimate(1 << 26, 2, "float32", 1 << 26, 200_000, platform="cpu", cores=2), LIMITS,
                    force=False, label="B")


def test_scale__cli_refuses_a_ten_million_episode_week_before_writing_anything(tmp_path):
    out = tmp_path / "outputs"
    done = subprocess.run([sys.executable, "-m", "hbbatch", "n_episodes=10000000", "dtype=float64",
                           f"paths.output_dir={out}"],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("hbbatch: error: 1.01e+11 episode-steps: about ") and "force=true" in message
    assert not out.exists()


def test_tables__row_groups_do_not_depend_on_the_batches(tmp_path):
    frame = pd.DataFrame({"episode": range(1000), "regime": ["jumpy", "trend_up"] * 500, "x": [0.5] * 1000})
    one = tmp_path / "one.parquet"
    many = tmp_path / "many.parquet"
    tables.write_streamed({"t": one}, [{"t": frame}], rows_per_group=128)
    tables.write_streamed({"t": many}, [{"t": frame.iloc[i:i + 37]} for i in range(0, 1000, 37)], rows_per_group=128)
    assert one.read_bytes() == many.read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(many), frame)
    sample = tables.read_episodes(many, max_rows=100)
    assert sample["episode"].tolist() == list(range(0, 1000, 10))


def test_tables__an_interrupted_stream_leaves_no_table(tmp_path):
    def batches():
        yield {"t": pd.DataFrame({"episode": [0, 1]})}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tables.write_streamed({"t": tmp_path / "t.parquet"}, batches())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_scale__half_a_million_episodes_stream_in_bounded_memory(tmp_path):
    """RSS is set by one batch and the statistics sample, not by n_episodes (10 M: see bench/README.md)."""
    out = tmp_path / "outputs"
    code = ("import resource, runpy, sys; sys.argv = ['hbbatch', 'n_episodes=500000', 'n_steps=2', "
            f"'paths.output_dir={out}', 'report.html=false', 'world.validate=false', 'scale.batch_episodes=131072', "
            "'stats.max_episodes=50000']\n"
            "try:\n    runpy.run_module('hbbatch', run_name='__main__')\n"
            "finally:\n    print('RSS_MB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=900)
    rss = float(done.stdout.strip().splitlines()[-1].split()[1])
    (job,) = list((out / "default").iterdir())
    assert tables.row_count(job / "episodes.parquet") == 500_000
    assert tables.row_count(job / "rules.parquet") == 4_000_000
    summary = pd.read_json(job / "summary.json", typ="series")["summary"]
    assert summary["n_episodes"] == 500_000 and summary["statistics_sample"]["stride"] == 10
    assert rss < 1500, rss


def test_scale__a_sweep_on_this_machine_is_estimated_as_its_jobs_one_after_another():
    job = scale.estimate(100_000, 10_080, "float32", 1 << 18, 200_000, platform="cpu", cores=1)
    sweep = scale.sweep_estimate(job, 12)
    per_job_s = 100_000 * (10_080 + scale.EPISODE_SETUP_STEPS) / scale.CPU_RATE_PER_CORE["float32"]
    assert sweep.seconds == pytest.approx(12 * per_job_s + scale.COMPILE_S)
    assert sweep.memory_gb == job.memory_gb and sweep.describe().startswith("12 jobs one after another, 1.21e+10")
    with pytest.raises(scale.ScaleError, match=r"^12 jobs one after another, .*longer than scale.max_hours=0.1"):
        scale.check(sweep, {**LIMITS, "max_hours": 0.1}, force=False, label="the sweep")
    scale.check(job, {**LIMITS, "max_hours": 0.1}, force=False, label="each job")   # each job alone is under


@pytest.mark.parametrize("launcher, here", [
    ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, True),
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 2}, True),
    ({"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"}, True),
    ({"_target_": "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher", "ray": {"init": {"address": None}}}, True),
    ({"_target_": "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher", "ray": {"init": {"address": "auto"}}}, False),
    ({"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"}, False),
])
def test_scale__only_launchers_on_this_machine_add_their_jobs_up(launcher, here):
    assert scale.on_this_machine(launcher) is here


def test_scale__cli_refuses_a_sweep_whose_jobs_together_pass_the_limit(tmp_path):
    """12 jobs of 100,000 x 10,080 (with warm-up and rule values) on one core: about 1.3 min each, 14.5 min one
    after another (> 6 min)."""
    out = tmp_path / "outputs"
    done = subprocess.run([sys.executable, "-m", "hbbatch", "+experiment=three_way", "-m", "n_episodes=100000",
                           "scale.max_hours=0.1", f"paths.output_dir={out}"],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=300, preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "[each job] estimate: 1.01e+09 episode-steps: about 1.3 min" in done.stdout + done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("hbbatch: error: 12 jobs one after another, 1.21e+10 episode-steps: about 14.5 min")
    assert "longer than scale.max_hours=0.1; add force=true" in message
    assert not out.exists()


def test_scale__more_shards_than_episodes_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "outputs"
    done = subprocess.run([sys.executable, "-m", "hbbatch", "-m", "n_episodes=5", "shards=7", f"paths.output_dir={out}"],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == ("hbbatch: error: shards=7: more shards than n_episodes=5; "
                                                    "use shards <= n_episodes")
    assert not out.exists()
