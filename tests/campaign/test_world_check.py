"""Every campaign validates its world first: a failing world is an error with nothing simulated, a
multirun validates each distinct world once, and `world.validate=false` runs and says so."""

import json

import numpy as np
import pytest

from hbbatch.config.world_validation import FactTolerances
from hbbatch.worlds import history
from tests.test_cli import run_cli

TINY = ["n_episodes=8", "n_steps=60", "stats.n_bootstrap=100", "world.validation.n_episodes=8",
        "world.validation.cache=false"]   # each test validates afresh (the cache across runs has its own test)
# every tolerance opened wide: the plumbing of a passing world, not a claim that the world is right
WIDE = [f"world.validation.tolerances.{group}.{'abs' if tol.abs is not None else 'factor'}=1000"
        for group, tol in vars(FactTolerances()).items()]


def _json(path):
    return json.loads(path.read_text())


def test_world_check__a_wrong_world_exits_2_with_nothing_simulated(tmp_path):
    # a calm world: volatility a tenth of ETH's (its volume and gas come from real pool days either way)
    wrong = ["market.vol_annual.mean_revert=0.05", "market.vol_annual.jumpy=0.05", "market.vol_annual.trend_up=0.05",
             "market.jumps_per_day.mean_revert=0", "market.jumps_per_day.jumpy=0", "market.jumps_per_day.trend_up=0"]
    assert run_cli(*TINY, "world=regimes", *wrong, f"hydra.run.dir={tmp_path}") == 2
    assert not (tmp_path / "episodes.parquet").exists() and not (tmp_path / "manifest.json").exists()
    record = _json(tmp_path / "summary.json")
    assert record["status"] == "error" and "nothing simulated" in record["message"]
    failed = set(record["world_validation"]["failed"])
    assert {"weekly_abs_return_q50", "band_stay_share_1200"} <= failed
    results = _json(tmp_path / "run_results.json")
    assert results["exit_code"] == 2 and results["results"][0]["world_validation"]["status"] == "fail"
    assert results["world_validation"]["status"] == "fail"
    assert [w["jobs"] for w in results["world_validation"]["worlds"]] == [["default"]]
    report = (tmp_path / "report.html").read_text()
    assert "Stylised fact" in report and "share of weeks inside a centred 1200-tick band" in report


def test_world_check__the_shipped_parametric_world_passes_at_the_default_sample(tmp_path):
    # levels from real pool days (volume, liquidity, volatility, gas) and the weekly clock: every fact passes
    code = run_cli(*TINY, "world.validation.n_episodes=64", "world=regimes", "criteria.enabled=false",
                   f"hydra.run.dir={tmp_path}")
    recorded = _json(tmp_path / "manifest.json")["world_validation"]
    assert code == 0 and recorded["status"] == "pass" and recorded["failed"] == [], recorded.get("message")


def test_world_check__validate_false_runs_and_the_manifest_records_it(tmp_path):
    assert run_cli(*TINY, "world.validate=false", f"hydra.run.dir={tmp_path}") == 0
    recorded = _json(tmp_path / "manifest.json")["world_validation"]
    assert recorded["status"] == "skipped" and recorded["validate"] is False
    assert recorded["message"].endswith("world.validate=false")
    assert _json(tmp_path / "run_results.json")["world_validation"]["status"] == "skipped"


def test_world_check__a_multirun_validates_each_distinct_world_once(tmp_path):
    # campaigns differ by settings only (one world); each seed is another world's sample
    code = run_cli(*TINY, *WIDE, "-m", "campaign=A,B", "seed=1,2", f"hydra.sweep.dir={tmp_path}",
                   "criteria.enabled=false")
    assert code == 0
    assert len(list((tmp_path / ".world_validation").glob("*.json"))) == 2
    worlds = _json(tmp_path / "run_results.json")["world_validation"]["worlds"]
    assert sorted(len(w["jobs"]) for w in worlds) == [2, 2] and all(w["status"] == "pass" for w in worlds)
    manifests = [_json(p) for p in sorted(tmp_path.glob("*/manifest.json"))]
    by_seed = {}
    for m in manifests:
        by_seed.setdefault(m["seed"], []).append(m["world_validation"])
    for seed, results in by_seed.items():
        assert sorted(r["cached"] for r in results) == [False, True]    # validated by one job, read by the other
        assert len({r["key"] for r in results}) == 1
    assert by_seed[1][0]["key"] != by_seed[2][0]["key"]


def test_world_check__a_world_checked_once_is_reused_by_the_next_run_and_another_seed_is_checked_again(tmp_path):
    cache = [f"world.validation.cache_dir={tmp_path / 'cache'}", "world.validation.cache=true"]
    for run in ("first", "second"):
        assert run_cli(*TINY, *WIDE, *cache, f"hydra.run.dir={tmp_path / run}") == 0
    first, second = (_json(tmp_path / run / "manifest.json")["world_validation"] for run in ("first", "second"))
    assert first["cached"] is False and second["cached"] is True
    assert second["stored_at"].startswith(str(tmp_path / "cache")) and second["facts"] == first["facts"]
    assert run_cli(*TINY, *WIDE, *cache, "seed=7", f"hydra.run.dir={tmp_path / 'third'}") == 0
    third = _json(tmp_path / "third" / "manifest.json")["world_validation"]
    assert third["cached"] is False and third["key"] != first["key"]
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2


def test_world_check__a_sample_too_short_for_the_weekly_facts_is_refused_before_anything_runs(tmp_path, capsys):
    assert run_cli(*TINY, "world.validation.n_weeks=1", f"hydra.run.dir={tmp_path / 'run'}") == 2
    assert "world.validation.n_weeks=1 is out of range" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_world_check__a_tolerance_with_both_abs_and_factor_is_a_one_line_error(tmp_path):
    assert run_cli(*TINY, "world.validation.tolerances.band_stay_share.factor=2", f"hydra.run.dir={tmp_path}") == 2
    assert "give exactly one of abs or factor" in _json(tmp_path / "summary.json")["message"]


def test_world_check__a_multirun_never_hands_one_worlds_result_to_another(tmp_path):
    # two worlds x two campaigns: each world validated once, each job reads its own world's result
    code = run_cli(*TINY, *WIDE, "-m", "campaign=A,B", "world=historical,stress_l2_gas", f"hydra.sweep.dir={tmp_path}",
                   "criteria.enabled=false")
    assert code == 0
    assert len(list((tmp_path / ".world_validation").glob("*.json"))) == 2
    by_world = {}
    for path in sorted(tmp_path.glob("*/manifest.json")):
        manifest = _json(path)
        recorded = manifest["world_validation"]
        assert recorded["world"] == manifest["config"]["world"]["name"]
        by_world.setdefault(recorded["world"], []).append(recorded)
    assert sorted(by_world) == ["historical", "stress_l2_gas"]
    gas = {w: {r["fact"]: r["world"] for r in results[0]["facts"]}["gas_per_action_usd_q50"] for w, results in by_world.items()}
    assert gas["stress_l2_gas"] < 0.2 and gas["historical"] > 10 * gas["stress_l2_gas"]   # never swapped
    assert {len({r["key"] for r in results}) for results in by_world.values()} == {1}
    assert by_world["historical"][0]["key"] != by_world["stress_l2_gas"][0]["key"]
    assert by_world["historical"][0]["exempt"] == [] and len(by_world["stress_l2_gas"][0]["exempt"]) == 3


def test_world_check__the_key_separates_worlds_seeds_samples_and_exemptions():
    from hbbatch.campaign.world_check import world_key
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from hbbatch.config import CONF_DIR

    def key(*overrides):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return world_key(OmegaConf.to_container(compose("config", overrides=list(overrides)), resolve=True))

    base = key("world=stress_l2_gas")
    assert base == key("world=stress_l2_gas", "campaign=B", "agent.gas_usd=3")   # settings are not the world
    others = [key("world=historical"), key("world=stress_high_gas"), key("world=stress_l2_gas", "seed=7"),
              key("world=stress_l2_gas", "world.validation.n_episodes=32"),
              key("world=stress_l2_gas", "~world.validation.exempt_facts.gas_per_action_usd_q90")]
    assert len({base, *others}) == 6


def test_world_check__a_world_at_the_deployment_gas_level_is_held_against_history_at_that_level(tmp_path):
    # the default historical world rescales the history's gas to the 2026 level ($1.62 a recenter); its
    # check reads the real days the same way, so the level is its stated assumption and the spread and
    # the link to |return| are still checked against the real days
    # the check's own sample size (a sample of 8 episodes is too small for the world to pass)
    assert run_cli("n_episodes=8", "n_steps=60", "stats.n_bootstrap=100", "world.validation.cache=false",
                   f"hydra.run.dir={tmp_path}") == 0
    recorded = _json(tmp_path / "manifest.json")
    result, world = recorded["world_validation"], recorded["world"]
    assert result["status"] == "pass"
    assert world["gas_median_usd"] == 1.62 and world["history_gas_median_usd"] > 30    # history's own: $38
    # read the way the world reads them: each day relative to its 90-day level, then scaled
    assert result["history"]["gas_scale"] == world["gas_scale"]
    assert result["history"]["gas_level_days"] == world["gas_level_days"] == 90
    facts = {f["fact"]: f for f in result["facts"]}
    assert facts["gas_per_action_usd_q50"]["real"] == pytest.approx(1.62, rel=0.02)
    assert facts["gas_abs_return_rank_corr"]["status"] == "pass"


def test_world_check__a_world_drawn_from_a_later_window_is_held_against_that_window(tmp_path):
    # 2022-08 on: the years with five-minute bars; their weekly moves are smaller than 2020-2025's
    assert run_cli(*TINY, *WIDE, "world.history_start=2022-08-01", f"hydra.run.dir={tmp_path}",
                   "criteria.enabled=false") == 0
    recorded = _json(tmp_path / "manifest.json")["world_validation"]
    assert recorded["history"]["start"] == "2022-08-01"
    rows = {row["fact"]: row for row in recorded["facts"]}
    # oracle: weekly |log return| over every 168 h window of the real hourly bars from that date
    bars = history.bars(60)
    close = np.log(bars.loc[bars["date"] >= "2022-08-01", "close"].to_numpy())
    later = np.median(np.abs(close[168:] - close[:-168]))
    whole = np.log(bars.loc[bars["date"] >= "2020-01-01", "close"].to_numpy())
    assert abs(np.median(np.abs(whole[168:] - whole[:-168])) - later) > 0.005    # the windows differ
    assert rows["weekly_abs_return_q50"]["real"] == pytest.approx(later, rel=0.15)
