"""After the jobs: labels, pairs, the criteria gate and the run's artifacts, on hand-made job folders."""

import json

import pandas as pd
import pytest

import logging

from hbbatch.report import multirun
from hbbatch.report.multirun import Job, _pairs, collect_jobs, compare_variants, finish_run, label_jobs
from tests.report.conftest import episodes_frame, rules_frame


def _jobs(overrides_lists, campaigns):
    return [Job(i, None, {"overrides": o, "campaign": c}) for i, (o, c) in enumerate(zip(overrides_lists, campaigns))]


def test_label_jobs__by_the_overrides_that_differ():
    jobs = _jobs([["+experiment=three_way", "seed=1", "campaign=A"], ["+experiment=three_way", "seed=1", "campaign=B"]],
                 ["A", "B"])
    label_jobs(jobs)
    assert [j.label for j in jobs] == ["A", "B"]
    jobs = _jobs([["floors.mean_revert=1200"], ["floors.mean_revert=800"]], ["C", "C"])
    label_jobs(jobs)
    assert [j.label for j in jobs] == ["floors.mean_revert=1200", "floors.mean_revert=800"]
    jobs = _jobs([[]], ["default"])
    label_jobs(jobs)
    assert jobs[0].label == "default"


def test_pairs__later_minus_earlier_and_judged_minus_baseline():
    assert _pairs(["A", "B", "C"], "A", ["B", "C"]) == [("B", "A"), ("C", "A"), ("C", "B")]
    assert _pairs(["A", "B", "C"], "C", ["A", "B"]) == [("B", "A"), ("A", "C"), ("B", "C")]


def _three_way(tmp_path, make_job, b_widen=0.15, c_shift=60.0, b_status="success"):
    run_dir = tmp_path / "run"
    base = episodes_frame(widens_per_action=0.5, actions_mean=8.0)
    make_job(run_dir, 0, "A", ["campaign=A"], base)
    make_job(run_dir, 1, "B", ["campaign=B"], episodes_frame(shift_usd=40.0, widens_per_action=b_widen),
             status=b_status)
    make_job(run_dir, 2, "C", ["campaign=C"], episodes_frame(shift_usd=c_shift, widens_per_action=0.15))
    return run_dir


def test_finish_run__passing_criteria_exit_0_and_write_every_artifact(tmp_path, make_job, run_config, capsys):
    run_dir = _three_way(tmp_path, make_job)
    code = finish_run(run_dir, collect_jobs(run_dir), run_config())
    assert code == 0
    for name in ("comparison.parquet", "criteria.json", "run_results.json", "summary.json", "report.html"):
        assert (run_dir / name).is_file(), name
    comparison = pd.read_parquet(run_dir / "comparison.parquet")
    assert set(comparison["pair"]) == {"B - A", "C - A", "C - B"}
    row = comparison.query("pair == 'C - A' and metric == 'net_pnl_usd' and regime == 'all'").iloc[0]
    assert row.mean_diff == pytest.approx(60.0, abs=3.0) and row.boot_low > 0
    results = json.loads((run_dir / "run_results.json").read_text())["results"]
    assert [r["status"] for r in results if r["unique_id"].startswith("job.")] == ["success"] * 3
    assert {r["unique_id"] for r in results if r["status"] == "pass"} >= {
        "criterion.net_pnl_improvement.B", "criterion.widen_share.C", "criterion.gas_controlled.C",
        "criterion.no_new_bad_rule.C"}
    html = (run_dir / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.split("<body>")[1]   # offline
    out = capsys.readouterr().out
    print(out)
    assert "baseline" in out and "exit 0" in out


def test_finish_run__a_failed_criterion_exits_1_and_says_by_how_much(tmp_path, make_job, run_config):
    run_dir = _three_way(tmp_path, make_job, b_widen=0.6)
    gating = {"checks": {"widen_share": {"severity": "error"}}}
    assert finish_run(run_dir, collect_jobs(run_dir), run_config(**gating)) == 1
    criteria = json.loads((run_dir / "criteria.json").read_text())["results"]
    failed = [c for c in criteria if c["status"] == "fail"]
    assert [(c["check"], c["variant"]) for c in failed] == [("widen_share", "B")]
    assert "needs <= 0.2 (over by" in failed[0]["message"]
    assert finish_run(run_dir, collect_jobs(run_dir), run_config(fail_on_violation=False, **gating)) == 0


def test_finish_run__a_missed_warn_criterion_is_reported_and_exits_0(tmp_path, make_job, run_config):
    run_dir = _three_way(tmp_path, make_job, b_widen=0.6)
    assert run_config()["criteria"]["checks"]["widen_share"]["severity"] == "error"   # the roadmap default gates
    warns = run_config(checks={"widen_share": {"severity": "warn"}})
    assert finish_run(run_dir, collect_jobs(run_dir), warns) == 0
    results = json.loads((run_dir / "run_results.json").read_text())["results"]
    status = {r["unique_id"]: r["status"] for r in results}
    assert status["criterion.widen_share.B"] == "warn" and status["criterion.widen_share.C"] == "pass"


def test_finish_run__the_widen_criterion_gates_by_default(tmp_path, make_job, run_config):
    run_dir = _three_way(tmp_path, make_job, b_widen=0.6)
    assert finish_run(run_dir, collect_jobs(run_dir), run_config()) == 1
    criteria = json.loads((run_dir / "criteria.json").read_text())["results"]
    assert {(c["check"], c["variant"]) for c in criteria if c["status"] == "fail"} == {("widen_share", "B")}


def test_finish_run__no_improvement_fails_the_pnl_criterion(tmp_path, make_job, run_config):
    run_dir = _three_way(tmp_path, make_job, c_shift=0.0)
    assert finish_run(run_dir, collect_jobs(run_dir), run_config()) == 1
    criteria = json.loads((run_dir / "criteria.json").read_text())["results"]
    assert {(c["check"], c["variant"]) for c in criteria if c["status"] == "fail"} == {("net_pnl_improvement", "C")}


def test_finish_run__an_errored_or_killed_job_exits_2_and_skips_its_criteria(tmp_path, make_job, run_config):
    run_dir = _three_way(tmp_path, make_job, b_status="error")
    assert finish_run(run_dir, collect_jobs(run_dir), run_config()) == 2
    results = json.loads((run_dir / "run_results.json").read_text())["results"]
    status = {r["unique_id"]: r["status"] for r in results}
    assert status["job.test.B"] == "error" and status["job.test.C"] == "success"
    assert status["criterion.widen_share.B"] == "skipped" and status["criterion.widen_share.C"] == "pass"
    killed = _three_way(tmp_path / "k", make_job, b_status="killed")
    jobs = collect_jobs(killed)
    assert jobs[1].status == "error" and "did not finish" in jobs[1].record["message"]
    assert finish_run(killed, jobs, run_config()) == 2


def test_finish_run__unknown_baseline_is_an_error(tmp_path, make_job, run_config):
    run_dir = _three_way(tmp_path, make_job)
    assert finish_run(run_dir, collect_jobs(run_dir), run_config(baseline="Z")) == 2
    summary = json.loads((run_dir / "summary.json").read_text())
    assert any("criteria.baseline='Z'" in e for e in summary["errors"])


def test_finish_run__new_bad_rule_taking_most_actions_fails(tmp_path, make_job, run_config):
    run_dir = tmp_path / "run"
    a, b = episodes_frame(), episodes_frame(shift_usd=40.0)
    make_job(run_dir, 0, "A", ["campaign=A"], a)
    make_job(run_dir, 1, "B", ["campaign=B"], b, rules=rules_frame(b, edge_pnl_usd=-3.0))   # edge: ~85 % of actions
    assert finish_run(run_dir, collect_jobs(run_dir), run_config()) == 1
    criteria = json.loads((run_dir / "criteria.json").read_text())["results"]
    failed = [c for c in criteria if c["status"] == "fail"]
    assert [c["check"] for c in failed] == ["no_new_bad_rule"] and "needs < 0.25" in failed[0]["message"]


def test_finish_run__seeds_are_replications_pooled_and_pairs_compare_the_seeds_both_ran(
        tmp_path, make_job, run_config):
    run_dir = tmp_path / "run"
    for num, seed in enumerate((1, 2, 1)):
        campaign = "B" if num == 2 else "A"
        make_job(run_dir, num, campaign, [f"seed={seed}", f"campaign={campaign}"],
                 episodes_frame(shift_usd=40.0 * (num == 2), seed=seed))
    code = finish_run(run_dir, collect_jobs(run_dir), run_config())
    assert code == 0
    run_results = json.loads((run_dir / "run_results.json").read_text())
    assert run_results["exit_code"] == 0
    # the two seeds of A are one variant, never judged against each other
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [(v["variant"], v["n_episodes"], v["replications"]) for v in summary["variants"]] == [("A", 800, 2),
                                                                                               ("B", 400, 1)]
    assert [(p["variant"], p["baseline"], p["kind"]) for p in run_results["skipped_pairs"]] == [("B", "A", "seed_subset")]
    assert "compared on seeds [1] only" in run_results["skipped_pairs"][0]["reason"]
    comparison = pd.read_parquet(run_dir / "comparison.parquet")
    row = comparison.query("metric == 'net_pnl_usd' and regime == 'all'").iloc[0]
    assert (row.pair, row.n_pairs, row.n_variant, row.n_baseline) == ("B - A", 400, 400, 400)
    assert row.mean_diff == pytest.approx(40.0, abs=3.0)
    status = {r["unique_id"]: r["status"] for r in run_results["results"]}
    assert status["criterion.net_pnl_improvement.B"] == "pass"
    assert not any(uid.startswith("criterion.") and ".A" in uid for uid in status)


def test_finish_run__a_seed_only_sweep_judges_nothing_and_exits_2_with_the_reason(tmp_path, make_job, run_config):
    run_dir = tmp_path / "run"
    for num, seed in enumerate((1, 2)):
        make_job(run_dir, num, "B", [f"seed={seed}"], episodes_frame(seed=seed))
    assert finish_run(run_dir, collect_jobs(run_dir), run_config()) == 2
    errors = json.loads((run_dir / "run_results.json").read_text())["errors"]
    assert len(errors) == 1 and errors[0].startswith("nothing judged: one setting (B); seeds are replications")
    assert finish_run(run_dir, collect_jobs(run_dir), run_config(enabled=False)) == 0   # asked only to report


def test_finish_run__no_job_at_all_is_exit_2(tmp_path, run_config):
    (tmp_path / "run").mkdir()
    assert finish_run(tmp_path / "run", [], run_config()) == 2
    run_results = json.loads((tmp_path / "run" / "run_results.json").read_text())
    assert run_results["errors"] == ["nothing judged: no job ran (no job folder in the run folder)"]
    assert "PASS" not in (tmp_path / "run" / "report.html").read_text().split("id='verdict'")[1][:400]


def test_finish_run__writes_run_results_with_exit_2_when_post_processing_raises(tmp_path, make_job, run_config,
                                                                               monkeypatch):
    run_dir = _three_way(tmp_path, make_job)

    def explode(*args, **kwargs):
        raise RuntimeError("comparison blew up")

    monkeypatch.setattr(multirun, "compare_variants", explode)
    with pytest.raises(RuntimeError, match="blew up"):
        finish_run(run_dir, collect_jobs(run_dir), run_config())
    run_results = json.loads((run_dir / "run_results.json").read_text())
    assert run_results["exit_code"] == 2
    assert any("comparison blew up" in e for e in run_results["errors"])
    assert [r["status"] for r in run_results["results"]] == ["success"] * 3


def test_compare_variants__warns_when_few_episodes_pair_and_reports_the_share(tmp_path, make_job, run_config,
                                                                              caplog, capsys):
    base = episodes_frame()
    calibrated = episodes_frame(shift_usd=60.0)
    moved = calibrated.index % 2 == 0                       # half the episodes drew another regime
    calibrated.loc[moved, "regime"] = calibrated.loc[moved, "regime"].map(
        {"mean_revert": "jumpy", "jumpy": "trend_up", "trend_up": "mean_revert"})
    with caplog.at_level(logging.WARNING, logger="hbbatch.report.multirun"):
        comparison, _, skipped = compare_variants({"A": base, "C": calibrated}, "A", ["C"], run_config()["stats"])
    row = comparison.query("regime == 'all'").iloc[0]
    assert (row.n_variant, row.n_baseline, row.n_pairs) == (400, 400, 200) and row.paired_share == 0.5
    assert skipped == [] and "C - A in default: only 50 % of episodes paired (200 of min(400, 400))" in caplog.text
    run_dir = tmp_path / "run"
    make_job(run_dir, 0, "A", ["campaign=A"], base)
    make_job(run_dir, 1, "C", ["campaign=C"], calibrated)
    finish_run(run_dir, collect_jobs(run_dir), run_config())
    assert "paired share: C - A 50 %" in capsys.readouterr().out
    html = (run_dir / "report.html").read_text()
    assert "<h2>Pairing</h2>" in html and "50.0 %" in html


def test_finish_run__settings_that_change_the_world_are_refused_with_one_line_saying_make_it_a_scenario(
        tmp_path, make_job, run_config):
    run_dir = tmp_path / "run"
    world = {"market": "sha256:m", "regime_mix": "sha256:roadmap"}
    make_job(run_dir, 0, "A", ["campaign=A"], episodes_frame(), extra={"world_hash": world})
    make_job(run_dir, 1, "B", ["campaign=B"], episodes_frame(shift_usd=40.0), extra={"world_hash": world})
    make_job(run_dir, 2, "C", ["campaign=C"], episodes_frame(shift_usd=60.0),
             extra={"world_hash": {**world, "regime_mix": "sha256:calibrated"}})
    assert finish_run(run_dir, collect_jobs(run_dir), run_config()) == 2
    run_results = json.loads((run_dir / "run_results.json").read_text())
    [error] = run_results["errors"]
    assert error.startswith("C vs A in default: runs in another world than A (regime_mix differ)")
    assert "make the world a scenario" in error and "\n" not in error
    comparison = pd.read_parquet(run_dir / "comparison.parquet")
    assert set(comparison["pair"]) == {"B - A"}                   # C is compared with nothing
    status = {r["unique_id"]: r["status"] for r in run_results["results"]}
    assert status["criterion.net_pnl_improvement.B"] == "pass"
    assert {s for uid, s in status.items() if uid.startswith("criterion.") and uid.endswith(".C")} == {"skipped"}


def test_finish_run__worlds_are_a_scenario_axis_each_judged_inside_and_counted_in_the_verdict(
        tmp_path, make_job, run_config):
    run_dir = tmp_path / "run"
    num = 0
    for world, b_shift in (("historical", 40.0), ("stress", -30.0)):
        for campaign, shift in (("A", 0.0), ("B", b_shift)):
            make_job(run_dir, num, f"{campaign}_{world}", [f"campaign={campaign}", f"world={world}"],
                     episodes_frame(shift_usd=shift), extra={"world": world, "campaign": campaign,
                                                             "world_hash": {"world": world}})
            num += 1
    assert finish_run(run_dir, collect_jobs(run_dir), run_config()) == 1
    comparison = pd.read_parquet(run_dir / "comparison.parquet")
    assert set(zip(comparison["world"], comparison["pair"])) == {("historical", "B - A"), ("stress", "B - A")}
    assert (comparison["paired_share"] == 1.0).all()
    results = json.loads((run_dir / "criteria.json").read_text())["results"]
    status = {r["unique_id"]: r["status"] for r in results}
    assert status["criterion.net_pnl_improvement.B@historical"] == "pass"
    assert status["criterion.net_pnl_improvement.B@stress"] == "fail"
    verdict = json.loads((run_dir / "summary.json").read_text())["verdict"]
    b = next(s for s in verdict["settings"] if s["variant"] == "B")
    assert (b["wins"], b["worlds"], b["worst_regret_world"]) == (1, 2, "stress")
    assert b["worst_regret_usd_per_week"] == pytest.approx(30.0, abs=3.0)
    assert verdict["status"] == "not_ready" or verdict["pick"] == "A"


def test_finish_run__a_sweep_of_one_key_is_judged_against_the_base_configs_value(tmp_path, make_job, run_config):
    run_dir = tmp_path / "run"
    for num, (floor, shift) in enumerate(((800, 50.0), (1000, 30.0), (1200, 0.0))):
        make_job(run_dir, num, "C", [f"floors.mean_revert={floor}"], episodes_frame(shift_usd=shift))
    config = {**run_config(), "base": {"floors": {"mean_revert": 1200.0}, "campaign": "C"}}
    finish_run(run_dir, collect_jobs(run_dir), config)
    criteria = json.loads((run_dir / "criteria.json").read_text())
    assert criteria["baseline"] == "floors.mean_revert=1200"
    assert criteria["judged"] == ["floors.mean_revert=800", "floors.mean_revert=1000"]
    missing = {**run_config(), "base": {"floors": {"mean_revert": 1400.0}}}
    assert finish_run(run_dir, collect_jobs(run_dir), missing) == 2
    errors = json.loads((run_dir / "run_results.json").read_text())["errors"]
    assert any("no job runs the base config's settings (floors.mean_revert=1400.0)" in e for e in errors)


def test_finish_run__settings_that_change_no_episode_are_no_decision(tmp_path, make_job, run_config):
    """Variants whose episodes are the baseline's, pair for pair (a floor below the band's width), are not
    a pick at $0.00/week: the verdict says the setting changed nothing."""
    run_dir = tmp_path / "run"
    for num, floor in enumerate((800, 1000, 1200)):
        make_job(run_dir, num, "C", [f"floors.mean_revert={floor}"], episodes_frame(shift_usd=0.0))
    config = {**run_config(), "base": {"floors": {"mean_revert": 1200.0}, "campaign": "C"}}
    finish_run(run_dir, collect_jobs(run_dir), config)
    verdict = json.loads((run_dir / "summary.json").read_text())["verdict"]
    assert verdict["status"] == "undecided" and verdict["pick"] is None, verdict["headline"]
    assert "gave the same episodes as floors.mean_revert=1200" in verdict["headline"]
    assert "changed nothing" in verdict["headline"]


def test_finish_run__shows_the_calibration_spread_beside_the_monte_carlo_interval(tmp_path, make_job, run_config):
    run_dir = tmp_path / "run"
    for num, (campaign, shift) in enumerate((("A", 0.0), ("B", 40.0))):
        frame = episodes_frame(shift_usd=shift)
        job_dir = make_job(run_dir, num, campaign, [f"campaign={campaign}"], frame)
        refits = pd.concat([episodes_frame(shift_usd=shift * k).assign(resample=k) for k in (0, 1, 2)])
        refits.to_parquet(job_dir / "calibration_spread.parquet")
    finish_run(run_dir, collect_jobs(run_dir), run_config())
    verdict = json.loads((run_dir / "summary.json").read_text())["verdict"]
    b = next(s for s in verdict["settings"] if s["variant"] == "B")
    low, high = b["calibration_spread"]["default"]
    assert low == pytest.approx(0.0, abs=3.0) and high == pytest.approx(80.0, abs=3.0)
    assert "calibration [" in (run_dir / "report.html").read_text()


def _rule_values(campaign, values_usd, half_width_usd=1.5, n_pairs=400):
    """A job's rule_values.parquet as hbbatch.campaign.rule_values writes it: {rule: value} overall, in
    net PnL and PnL vs HODL, symmetric intervals."""
    rows = [{"variant": campaign, "rule": rule, "regime": regime, "metric": metric, "value_usd": value,
             "low": value - half_width_usd, "high": value + half_width_usd, "n_pairs": n_pairs,
             "t_low": value - half_width_usd, "t_high": value + half_width_usd, "mean_with_usd": 100.0 + value,
             "mean_without_usd": 100.0, "confidence": 0.95}
            for rule, value in values_usd.items() for regime in ("all", "jumpy")
            for metric in ("net_pnl_usd", "pnl_vs_hodl_usd")]
    return pd.DataFrame(rows)


def test_finish_run__the_runs_rule_values_judge_bad_rules_by_value_not_by_attribution(tmp_path, make_job, run_config):
    run_dir = tmp_path / "run"
    a, b = episodes_frame(), episodes_frame(shift_usd=40.0)
    make_job(run_dir, 0, "A", ["campaign=A"], a)
    make_job(run_dir, 1, "B", ["campaign=B"], b, rules=rules_frame(b, edge_pnl_usd=+3.0))   # attribution: good
    _rule_values("A", {"edge": 2.0, "vol_spike_widen": 1.0}).to_parquet(run_dir / "0_A" / "rule_values.parquet")
    # edge (about 85 % of B's actions) loses money in B only: switching it off would have earned $4 an episode
    _rule_values("B", {"edge": -4.0, "vol_spike_widen": 1.0}).to_parquet(run_dir / "1_B" / "rule_values.parquet")
    assert finish_run(run_dir, collect_jobs(run_dir), run_config()) == 1
    failed = [c for c in json.loads((run_dir / "criteria.json").read_text())["results"] if c["status"] == "fail"]
    assert [c["check"] for c in failed] == ["no_new_bad_rule"]
    table = pd.read_parquet(run_dir / "rule_values.parquet")
    assert {"world", "variant", "rule", "regime", "metric", "value_usd", "low", "high", "n_pairs"} <= set(table.columns)
    assert set(table["variant"]) == {"A", "B"} and table["world"].nunique() == 1 and len(table) == 16
    row = table.query("variant == 'B' and rule == 'edge' and regime == 'all' and metric == 'net_pnl_usd'").iloc[0]
    assert (row.value_usd, row.high, row.n_pairs, row.replications) == (-4.0, -2.5, 400, 1)
    assert json.loads((run_dir / "summary.json").read_text())["rule_values"] == "rule_values.parquet"
    assert "Rule dashboard" in (run_dir / "report.html").read_text()


def test_finish_run__replications_rule_values_pool_by_pairs_with_intervals_in_quadrature(tmp_path, make_job,
                                                                                        run_config):
    run_dir = tmp_path / "run"
    for num, (campaign, seed, value, half, n) in enumerate((("A", 1, 10.0, 4.0, 100), ("A", 2, 20.0, 2.0, 300),
                                                           ("B", 1, 5.0, 1.0, 400))):
        job_dir = make_job(run_dir, num, campaign, [f"seed={seed}", f"campaign={campaign}"],
                           episodes_frame(shift_usd=40.0 * (campaign == "B"), seed=seed))
        _rule_values(campaign, {"edge": value}, half, n).to_parquet(job_dir / "rule_values.parquet")
    finish_run(run_dir, collect_jobs(run_dir), run_config())
    table = pd.read_parquet(run_dir / "rule_values.parquet")
    row = table.query("variant == 'A' and regime == 'all' and metric == 'net_pnl_usd'").iloc[0]
    # by hand: (100 x 10 + 300 x 20) / 400; half-width sqrt((0.25 x 4)^2 + (0.75 x 2)^2)
    half = (1.0 + 2.25) ** 0.5
    assert (row.value_usd, row.n_pairs, row.replications) == (17.5, 400, 2)
    assert row.low == pytest.approx(17.5 - half) and row.high == pytest.approx(17.5 + half)
    assert row.mean_with_usd == pytest.approx(117.5) and row.t_high == pytest.approx(17.5 + half)
