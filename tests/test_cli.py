"""The command line end to end at tiny size: every experiment writes every artifact; errors are one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra.core.global_hydra import GlobalHydra

from hbbatch.cli import main
from hbbatch.config import CONF_DIR

REPO = CONF_DIR.parent
# one shape: compiled once per gating for all tests; the world's validation has its own tests (tests/campaign)
TINY = ["n_episodes=16", "n_steps=60", "stats.n_bootstrap=200", "world.validate=false"]
JOB_FILES = ("manifest.json", "episodes.parquet", "rules.parquet", "summary.json")
RUN_FILES = ("run_results.json", "comparison.parquet", "criteria.json", "summary.json", "report.html")
ENV_VARS = ("HB_SEED", "HB_REGIME_MIX", "DUNE_CALIBRATION_JSON", "EPISODE_COUNT", "HB_CAMPAIGN")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def run_cli(*args) -> int:
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    GlobalHydra.instance().clear()
    try:
        with pytest.raises(SystemExit) as info:
            main(list(args))
    finally:
        GlobalHydra.instance().clear()
        # Hydra's job logging puts a handler on this test's captured stderr; a later test must not log into it
        root.handlers[:], root.level = handlers, level
    return info.value.code


def single_run(out: Path, *args) -> int:
    return run_cli(*TINY, f"hydra.run.dir={out}", *args)


def test_cli__default_campaign_writes_its_artifacts(tmp_path):
    assert single_run(tmp_path) == 0
    for name in JOB_FILES + ("run_results.json", "report.html"):
        assert (tmp_path / name).is_file(), name
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 42 and manifest["calibration_hash"] == "none"
    assert manifest["config_hash"].startswith("sha256:") and manifest["package_versions"]["jax"]
    episodes = pd.read_parquet(tmp_path / "episodes.parquet")
    assert len(episodes) == 16 and {"episode", "regime", "net_pnl_usd", "widens", "seed"} <= set(episodes.columns)
    results = json.loads((tmp_path / "run_results.json").read_text())["results"]
    assert [r["status"] for r in results] == ["success"]


@pytest.mark.parametrize("experiment", ["three_way", "long_run", "narrowing"])
def test_cli__every_experiment_runs_at_tiny_size_and_writes_every_artifact(tmp_path, experiment):
    one_world = ["experiment.worlds=[historical]"] if experiment == "three_way" else []
    code = run_cli(f"+experiment={experiment}", *TINY, *one_world, f"hydra.sweep.dir={tmp_path}",
                   "criteria.fail_on_violation=false")
    assert code == 0
    for name in RUN_FILES:
        assert (tmp_path / name).is_file(), name
    job_dirs = sorted(d for d in tmp_path.iterdir() if d.is_dir())
    assert len(job_dirs) == 3
    for job_dir in job_dirs:
        for name in JOB_FILES:
            assert (job_dir / name).is_file(), (job_dir.name, name)
    run_results = json.loads((tmp_path / "run_results.json").read_text())
    jobs = [r for r in run_results["results"] if r["unique_id"].startswith("job.")]
    assert [r["status"] for r in jobs] == ["success"] * 3
    assert any(r["unique_id"].startswith("criterion.") for r in run_results["results"])
    comparison = pd.read_parquet(tmp_path / "comparison.parquet")
    assert len(comparison["pair"].unique()) == 3


def test_cli__same_seed_reproduces_identical_tables_and_hb_seed_changes_them(tmp_path, monkeypatch):
    assert single_run(tmp_path / "a") == 0
    assert single_run(tmp_path / "b") == 0
    monkeypatch.setenv("HB_SEED", "7")
    assert single_run(tmp_path / "c") == 0
    a, b, c = (pd.read_parquet(tmp_path / x / "episodes.parquet") for x in "abc")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "rules.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "rules.parquet"))
    assert (c["seed"] == 7).all() and not a["price_end"].equals(c["price_end"])


def test_cli__a_job_that_raises_is_recorded_and_the_multirun_exits_2(tmp_path):
    # a history file that exists passes every check made before the sweep, but cannot be read when the job loads it
    bad = tmp_path / "history.csv"
    bad.write_text("date,open,high,low,close\nnot a date,1,1,1,1\n")
    code = run_cli(*TINY, "-m", f"hydra.sweep.dir={tmp_path / 'run'}", f"world.history=null,{bad}")   # -m anywhere
    assert code == 2
    results = [r for r in json.loads((tmp_path / "run" / "run_results.json").read_text())["results"]
               if r["unique_id"].startswith("job.")]
    assert sorted(r["status"] for r in results) == ["error", "success"], results
    assert str(bad) in next(r for r in results if r["status"] == "error")["message"]


def test_cli__a_band_below_one_tick_spacing_is_refused_before_anything_runs(tmp_path, capsys):
    assert run_cli(*TINY, "-m", f"hydra.sweep.dir={tmp_path}", "floors.mean_revert=1200,5") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hbbatch: error:") and "floors.mean_revert" in err and "tick spacing" in err
    assert not (tmp_path / "run_results.json").exists()


@pytest.mark.parametrize("args, needle", [
    (["agent.gass_usd=3"], "gass_usd"),
    (["campaign=Z"], "campaign/Z"),
    (["n_episodes=abc"], "n_episodes=abc"),
    (["+experiment=nope"], "experiment/nope"),
])
def test_cli__bad_overrides_fail_with_one_line_and_exit_2(args, needle, capsys, tmp_path):
    assert run_cli(*args, f"hydra.run.dir={tmp_path}") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hbbatch: error:") and needle in err and "\n" not in err
    assert not (tmp_path / "manifest.json").exists()


def test_cli__unknown_task_is_an_error(tmp_path):
    assert single_run(tmp_path, "task=dance") == 2


def _subprocess(args, **env):
    return subprocess.run([sys.executable, "-m", "hbbatch", *args], cwd=REPO, capture_output=True, text=True,
                          env={**{k: v for k, v in os.environ.items() if k not in ENV_VARS}, **env}, timeout=120)


@pytest.mark.parametrize("args, env, needle", [
    (["agent.gass_usd=3"], {}, "Key 'gass_usd' not in 'AgentConf'"),
    ([], {"HB_REGIME_MIX": "mean_revert:0.4,jumpy:0.3,sideways:0.3"}, "HB_REGIME_MIX="),
    ([], {"HB_SEED": "abc"}, "HB_SEED='abc': not an integer"),
    ([], {"DUNE_CALIBRATION_JSON": "/no/such/file.json"}, "DUNE_CALIBRATION_JSON="),
])
def test_cli__subprocess_bad_input_is_one_line_on_stderr_and_exit_2(args, env, needle):
    done = _subprocess(args, **env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and needle in done.stderr, done.stderr


@pytest.mark.slow
def test_cli__joblib_launcher_gives_the_same_numbers_as_the_basic_launcher(tmp_path):
    common = ["+experiment=three_way", "experiment.worlds=[historical]", *TINY, "criteria.fail_on_violation=false",
              "report.html=false"]
    assert run_cli(*common, f"hydra.sweep.dir={tmp_path / 'basic'}") == 0
    assert run_cli(*common, f"hydra.sweep.dir={tmp_path / 'joblib'}", "hydra/launcher=joblib",
                   "hydra.launcher.n_jobs=2") == 0
    basic, joblib = (sorted((tmp_path / x).glob("*/episodes.parquet")) for x in ("basic", "joblib"))
    assert [p.parent.name for p in basic] == [p.parent.name for p in joblib] and len(basic) == 3
    for a, b in zip(basic, joblib):
        pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "basic" / "comparison.parquet"),
                                  pd.read_parquet(tmp_path / "joblib" / "comparison.parquet"))


def test_cli__dune_calibration_json_calibrates_campaign_c_only(tmp_path, monkeypatch):
    import copy

    from hbbatch.calibration.report import DEFAULT_REPORT_PATH, finish_report, load_report

    data = copy.deepcopy(dict(load_report(DEFAULT_REPORT_PATH).data))
    content = {k: v for k, v in data.items() if k not in ("hash", "provenance")}
    content["constants"]["agent"].update(gas_usd=6.5, fee_gate_usd=13.0)
    report = finish_report(content, {"source": "test"})
    (tmp_path / "calibration.json").write_text(json.dumps(report))
    monkeypatch.setenv("DUNE_CALIBRATION_JSON", str(tmp_path / "calibration.json"))
    assert run_cli("-m", *TINY, f"hydra.sweep.dir={tmp_path / 'run'}", "campaign=B,C", "criteria.enabled=false") == 0
    manifests = [json.loads(p.read_text()) for p in sorted((tmp_path / "run").glob("*/manifest.json"))]
    assert [m["calibration_hash"] for m in manifests] == ["none", report["hash"]]
    assert [m["config"]["agent"]["gas_usd"] for m in manifests] == [2.0, 6.5]


@pytest.mark.parametrize("args, key", [
    (["agent.rails.max_drawdown=nan"], "agent.rails.max_drawdown=nan"),
    (["+n_episode=10"], "n_episode"),
    (["seed=-1"], "seed=-1"),
    (["experiment_name=../../../escaped"], "experiment_name"),
    (["-m", "floors.mean_revert=0,1200"], "floors.mean_revert=0"),          # one job of a sweep
    (["+experiment=three_way", "agent.gas_usd=inf"], "agent.gas_usd=inf"),  # an experiment's sweep
    (["task=calibrate", "calibration.window_days=0"], "calibration.window_days=0"),
])
def test_cli__refused_values_exit_2_with_one_line_before_any_folder_is_made(args, key, capsys, tmp_path):
    out = tmp_path / "out"
    assert run_cli(*args, *TINY, f"hydra.run.dir={out}", f"hydra.sweep.dir={out}") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hbbatch: error: {key}") and err.count("\n") == 1, err
    assert not out.exists()


def test_cli__campaign_c_refuses_a_rehashed_report_the_calibration_gates_would_refuse(tmp_path, monkeypatch, capsys):
    import copy

    from hbbatch.calibration.report import DEFAULT_REPORT_PATH, finish_report, load_report

    content = {k: v for k, v in copy.deepcopy(dict(load_report(DEFAULT_REPORT_PATH).data)).items()
               if k not in ("hash", "provenance")}
    content["constants"]["agent"].update(gas_usd=1e-300, fee_gate_usd=1e300)
    (tmp_path / "calibration.json").write_text(json.dumps(finish_report(content, {"source": "test"})))
    monkeypatch.setenv("DUNE_CALIBRATION_JSON", str(tmp_path / "calibration.json"))
    assert single_run(tmp_path / "run", "campaign=C") == 2
    err = capsys.readouterr().err
    assert "refused, the report fails the gates" in err and "agent__gas_usd" in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()   # refused before Hydra made the run folder


def test_cli__version_prints_hbbatch_s_version(capsys):
    import hbbatch

    assert run_cli("--version") == 0
    assert capsys.readouterr().out.strip() == f"hbbatch {hbbatch.__version__}"


def test_cli__help_lists_tasks_groups_main_overrides_and_the_artifact_contract(capsys):
    from hbbatch.config.schema import TASKS

    assert run_cli("--help") == 0
    text = capsys.readouterr().out
    assert all(task in text for task in TASKS)
    for group in (p for p in CONF_DIR.iterdir() if p.is_dir() and p.name != "hydra"):
        line = next(line for line in text.splitlines() if line.strip().lstrip("+").startswith(f"{group.name}="))
        assert all(option.stem in line for option in group.glob("*.yaml")), line
    assert "seed" in text and "[0, 2^63)" in text and "agent.gas_usd" in text
    assert all(name in text for name in RUN_FILES + JOB_FILES) and "exit status: 0 ok, 1" in text


def test_cli__optimise_searches_with_optuna_and_reports_in_and_out_of_sample(tmp_path):
    code = run_cli("+experiment=optimise", *TINY, f"hydra.sweep.dir={tmp_path}", "hydra.sweeper.n_trials=2",
                   "criteria.fail_on_violation=false")
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    trials = summary["search"]["trials"]
    assert len(trials) == 2 and summary["search"]["best"] in {t["trial"] for t in trials}
    assert all(t["in_sample"] and t["out_of_sample"] for t in trials)
    assert (tmp_path / "baseline" / "episodes.parquet").is_file()
    first_out = summary["search"]["first_out_of_sample_episode"]
    comparison = pd.read_parquet(tmp_path / "comparison.parquet")
    row = comparison.query("metric == 'net_pnl_usd' and regime == 'all'").iloc[0]
    assert row.baseline == "baseline" and row.variant == summary["search"]["best"]
    assert row.n_pairs == 16 - first_out                         # judged on the out-of-sample windows only
    assert "Walk-forward search" in (tmp_path / "report.html").read_text()


def test_cli__optimise_resumes_a_search_kept_in_sqlite(tmp_path):
    import optuna

    storage = f"sqlite:///{tmp_path / 'search.db'}"
    for run in ("first", "second"):
        assert run_cli("+experiment=optimise", *TINY, f"hydra.sweep.dir={tmp_path / run}", "hydra.sweeper.n_trials=2",
                       f"hydra.sweeper.storage={storage}", "report.html=false",
                       "criteria.fail_on_violation=false") == 0
    study = optuna.load_study(study_name="hbbatch_optimise", storage=storage)
    assert len(study.trials) == 4 and all(t.value is not None for t in study.trials)


def test_cli__a_campaign_sweep_aggregates_and_gates_in_one_run_folder(tmp_path):
    code = run_cli("-m", "campaign=A,B,C", "seed=1,2", *TINY, f"paths.output_dir={tmp_path}", "report.html=false",
                   "criteria.fail_on_violation=false")
    assert code == 0
    [run_dir] = [p for p in (tmp_path / "default").iterdir() if p.is_dir()]   # every job under one run folder
    run_results = json.loads((run_dir / "run_results.json").read_text())
    jobs = [r for r in run_results["results"] if r["unique_id"].startswith("job.")]
    criteria = [r for r in run_results["results"] if r["unique_id"].startswith("criterion.")]
    assert len(jobs) == 6 and {c["unique_id"].split(".")[-1] for c in criteria} == {"B", "C"}   # A: the baseline
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {(v["variant"], v["n_episodes"], v["replications"]) for v in summary["variants"]} == {
        ("A", 32, 2), ("B", 32, 2), ("C", 32, 2)}                                  # seeds pooled
    assert set(summary["paired_share"].values()) == {1.0}


def test_cli__three_way_runs_each_setting_in_each_world_and_pairs_only_inside_a_world(tmp_path):
    code = run_cli("+experiment=three_way", *TINY, "experiment.worlds=[historical,regimes]",
                   "experiment.calibration_resamples=1", f"hydra.sweep.dir={tmp_path}", "report.html=false",
                   "criteria.fail_on_violation=false")
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["worlds"] == ["historical", "regimes"] and len(summary["jobs"]) == 6
    comparison = pd.read_parquet(tmp_path / "comparison.parquet")
    assert set(zip(comparison["world"], comparison["pair"])) == {
        (w, p) for w in ("historical", "regimes") for p in ("B - A", "C - A", "C - B")}
    overall = comparison[comparison["regime"] == "all"]
    assert (overall["paired_share"] == 1.0).all()                     # 100 % by construction
    verdict = summary["verdict"]
    assert all(s["worlds"] == 2 for s in verdict["settings"])
    b = next(s for s in verdict["settings"] if s["variant"] == "B")
    assert set(b["calibration_spread"]) == {"regimes"}                 # refits only in the parametric world
    b_regimes = next(j["dir"] for j in summary["jobs"] if j["label"] == "B" and j["world"] == "regimes")
    spread = pd.read_parquet(Path(b_regimes) / "calibration_spread.parquet")
    assert sorted(spread["resample"].unique()) == [0, 1]



def test_cli__prepare_environment_runs_numpy_on_one_openblas_thread_unless_the_user_chose(monkeypatch):
    from hbbatch import cli

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setattr(cli.jax_setup, "configure", lambda: True)
    monkeypatch.setattr(cli, "_persist_compiled_functions", lambda: None)
    cli.prepare_environment()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    cli.prepare_environment()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
