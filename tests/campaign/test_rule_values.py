"""Counterfactual rule values against independent full runs of the same seeds with the rule switched off."""

import functools
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from hbbatch.campaign.rule_values import COLUMNS, VALUE_METRICS, classifier_confusion, counterfactual_runs, \
    mark_bad_rules, rule_values
from hbbatch.campaign.stream import build_world, checkpoint_steps, counterfactual_batch, simulate_counterfactuals, \
    simulate_frames
from hbbatch.config.sim import REGIMES, AgentConf, MarketConf, RegimeMixConf, RuleValuesConf
from hbbatch.config.world import WorldConf
from hbbatch.sim import RolloutSpec, make_params, simulate
from hbbatch.sim.rollout import join_checkpoints
from hbbatch.stats import compare_pair

N_EPISODES, N_STEPS, SEED = 48, 1200, 3
RULES_ON = ["out_of_range", "vol_widen", "vol_narrow"]
BUSY = {"rules": {"cooldown_minutes": 10, "rebalance_after_minutes": 5, "enabled": RULES_ON,
                  "vol_widen_ratio": 1.05, "vol_narrow_ratio": 0.9, "vol_persist_minutes": 20},
        "width": {"mean_revert": 300, "jumpy": 300, "trend_up": 300}, "warmup_minutes": 0}
FLOORS = {"mean_revert": 300, "jumpy": 300, "trend_up": 300}
CHEAP_GAS = {"gas_usd_median": 4.7}   # under the rails' daily gas cap: the rules act


def _config(dtype="float64"):
    agent = asdict(AgentConf())
    agent.update({k: v for k, v in BUSY.items() if k != "rules"})
    agent["rules"].update(BUSY["rules"])
    return {"n_steps": N_STEPS, "n_episodes": N_EPISODES, "seed": SEED, "dtype": dtype, "gating": {"mode": "off"},
            "market": {**asdict(MarketConf()), **CHEAP_GAS}, "agent": agent, "floors": FLOORS,
            "regime_mix": asdict(RegimeMixConf()),
            "world": {**asdict(WorldConf()), "name": "regimes", "kind": "parametric"},
            "scale": {"batch_episodes": None},
            "rule_values": {"enabled": True, "max_episodes": 10_000},
            "stats": {"confidence": 0.95, "n_bootstrap": 400, "bootstrap_seed": 1}}


def _run(enabled, dtype="float64"):
    """An independent whole run of every episode with these rules: (episodes, rules) frames."""
    agent = {**BUSY, "rules": {**BUSY["rules"], "enabled": enabled}}
    spec = RolloutSpec(n_episodes=N_EPISODES, n_steps=N_STEPS, gating="off", dtype=dtype)
    # the same world as the config's (the regimes world's per-episode level table), run straight on the simulator
    params = make_params(market=CHEAP_GAS, agent=agent, floors=FLOORS, dtype=dtype)
    result = simulate(spec, params._replace(world=build_world(_config(dtype)).params), SEED)
    frame = pd.DataFrame(result.episodes)
    frame.insert(0, "seed", SEED)
    return frame, pd.DataFrame(result.rules)


@pytest.fixture(scope="module", params=["float64", "float32"])
def job(request):
    """The job's own episodes and rules, its rule values, and full runs without each rule (the oracle)."""
    dtype = request.param
    episodes, rules = _run(RULES_ON, dtype)
    values = rule_values(_config(dtype), episodes, rules, "A", 0, N_EPISODES, simulate_counterfactuals)
    without = {rule: _run([r for r in RULES_ON if r != rule], dtype)[0] for rule in RULES_ON}
    return dict(dtype=dtype, episodes=episodes, rules=rules, values=values, without=without)


def test_rule_values__columns_and_one_row_per_rule_regime_and_metric(job):
    values = job["values"]
    assert list(values.columns) == COLUMNS
    assert set(values["rule"]) == set(RULES_ON)
    assert set(values["metric"]) == {"net_pnl_usd", "pnl_vs_hodl_usd"}
    assert set(values["regime"]) == {"all", *REGIMES}
    assert values[values["regime"] == "all"]["n_pairs"].eq(N_EPISODES).all()


def test_rule_values__an_episode_where_the_rule_never_fired_is_the_same_episode_without_it(job):
    """The exactness argument, on full runs: fires == 0 leaves every dollar unchanged, to the last bit."""
    fires = job["rules"].pivot(index="episode", columns="rule", values="fires")
    for rule in RULES_ON:
        quiet = fires[rule].to_numpy() == 0
        with_rule, without = job["episodes"], job["without"][rule]
        assert 0 < quiet.sum() < N_EPISODES, rule   # both kinds of episode occur: the test can fail
        for metric in VALUE_METRICS:
            np.testing.assert_array_equal(with_rule[metric][quiet], without[metric][quiet], err_msg=rule)
        assert (with_rule["net_pnl_usd"][~quiet] != without["net_pnl_usd"][~quiet]).any(), rule


def test_rule_values__equal_the_full_reruns_values_and_intervals(job):
    """rule_values.parquet from the fired episodes alone equals the paired comparison against full runs
    without each rule: values, both intervals, means and pairs (bit for bit: the re-runs use the job's shape)."""
    config, values = _config(job["dtype"]), job["values"]
    stats = config["stats"]
    for rule in RULES_ON:
        expected = compare_pair(job["episodes"], job["without"][rule], VALUE_METRICS, variant_label="A",
                                baseline_label=f"A without {rule}", confidence=stats["confidence"],
                                n_bootstrap=stats["n_bootstrap"], seed=stats["bootstrap_seed"])
        got = values[values["rule"] == rule].reset_index(drop=True)
        assert list(got["regime"]) == list(expected["regime"]) and list(got["metric"]) == list(expected["metric"])
        for column, source in (("value_usd", "mean_diff"), ("low", "boot_low"), ("high", "boot_high"),
                               ("t_low", "t_low"), ("t_high", "t_high"), ("mean_with_usd", "mean_variant"),
                               ("mean_without_usd", "mean_baseline"), ("n_pairs", "n_pairs")):
            np.testing.assert_array_equal(got[column].to_numpy(), expected[source].to_numpy(),
                                          err_msg=f"{rule} {column}")
    overall = values[(values["regime"] == "all") & (values["metric"] == "net_pnl_usd")]
    assert not np.isclose(overall["value_usd"], 0.0).all()   # the rules change what episodes earn


def test_rule_values__re_run_only_fired_episodes_all_rules_in_one_list(job):
    rules, which, episodes, masks = counterfactual_runs(_config(job["dtype"]), job["rules"], 0, N_EPISODES)
    fires = job["rules"].pivot(index="episode", columns="rule", values="fires")
    assert rules == RULES_ON
    assert len(episodes) == int((fires[RULES_ON] > 0).to_numpy().sum()) < len(RULES_ON) * N_EPISODES
    for index, rule in enumerate(RULES_ON):
        np.testing.assert_array_equal(episodes[which == index], np.flatnonzero(fires[rule].to_numpy() > 0))
        # each run: the job's rules but this one
        assert set(np.flatnonzero(masks[which == index][0])) == {i for i, r in enumerate(
            ("out_of_range", "edge", "vol_widen", "vol_narrow", "trend_shift")) if r in RULES_ON and r != rule}


@pytest.mark.parametrize("n_runs, job_batch, n_steps, expected", [
    (2359, 1000, 10_080, 1000),        # the three-way: 3 calls of the job's shape, 641 padding episodes
    (10, 60, 600, 60),                 # a small job: padding is cheaper than a compile
    (9000, 100_000, 10_080, 9000),     # 91,000 padding episodes would cost far more than a compile
    (300_000, 262_144, 10_080, 150_000),   # equal calls, as the job's own batches
])
def test_counterfactual_batch__the_jobs_own_shape_unless_padding_costs_more_than_a_compile(n_runs, job_batch, n_steps,
                                                                                           expected):
    assert counterfactual_batch(n_runs, job_batch, n_steps) == expected


def test_rule_values__a_rule_is_bad_only_when_its_upper_bound_is_below_zero():
    values = pd.DataFrame({"rule": ["edge", "vol_widen"], "regime": "all", "metric": "net_pnl_usd",
                           "value_usd": [-5.0, -1.0], "low": [-8.0, -4.0], "high": [-2.0, 2.0]})
    rows = mark_bad_rules([{"rule": "edge", "bad": False}, {"rule": "vol_widen", "bad": True},
                           {"rule": "initial", "bad": False}], values)
    assert [r["bad"] for r in rows] == [True, False, False]
    assert [r["attributed_bad"] for r in rows] == [False, True, False]


def test_classifier_confusion__shares_of_steps_per_true_regime():
    frame = pd.DataFrame({"regime": ["jumpy", "jumpy", "trend_up"],
                          "steps_classified_mean_revert": [30, 10, 0], "steps_classified_jumpy": [10, 30, 5],
                          "steps_classified_trend_up": [0, 0, 15]})
    confusion = classifier_confusion(frame, REGIMES)
    assert confusion == {"jumpy": {"mean_revert": 0.5, "jumpy": 0.5, "trend_up": 0.0},
                         "trend_up": {"mean_revert": 0.0, "jumpy": 0.25, "trend_up": 0.75}}


def _historical_config(dtype):
    config = _config(dtype)
    config.update(n_steps=1440, n_episodes=40, world=asdict(WorldConf()))   # the default world: real hourly bars
    config["agent"]["warmup_minutes"] = 120
    config["rule_values"]["resume_min_episode_steps"] = 0   # resumed at any size (the default waits for 8 M)
    return config


@pytest.mark.parametrize("dtype", ["float32", pytest.param("float64", marks=pytest.mark.slow)])
def test_rule_values__resumed_from_the_jobs_checkpoints_equal_re_runs_from_the_open(dtype):
    """With rule_values.resume (the default), a job of the historical world saves its carry every K steps
    (stream.checkpoint_steps: here 240, six units of four hourly bars) and its re-runs resume from there: the
    job's own episodes, every re-run and every column of rule_values.parquet are bit-identical to a job that
    saves nothing and re-runs from the open."""
    config = _historical_config(dtype)
    world = build_world(config)
    assert checkpoint_steps(config, 40, world) == 240
    saved: list = []
    frames = list(simulate_frames(config, 0, 40, None, world, checkpoints=saved))
    plain = list(simulate_frames(config, 0, 40, None, world))
    episodes, rules = (pd.concat([f[i] for f in frames], ignore_index=True) for i in (0, 1))
    pd.testing.assert_frame_equal(episodes, pd.concat([f[0] for f in plain], ignore_index=True))
    checkpoints = join_checkpoints(saved)
    resumed = rule_values(config, episodes, rules, "A", 0, 40,
                          functools.partial(simulate_counterfactuals, world=world, checkpoints=checkpoints))
    whole = rule_values(config, episodes, rules, "A", 0, 40, functools.partial(simulate_counterfactuals, world=world))
    pd.testing.assert_frame_equal(resumed, whole, check_exact=True)
    _, _, runs, masks = counterfactual_runs(config, rules, 0, 40)
    again = simulate_counterfactuals(config, runs, masks, 40, world=world, checkpoints=checkpoints)
    pd.testing.assert_frame_equal(again, simulate_counterfactuals(config, runs, masks, 40, world=world),
                                  check_exact=True)
    assert len(runs) > 10 and (again["net_pnl_usd"] != episodes.set_index("episode").loc[runs, "net_pnl_usd"]
                               .to_numpy()).mean() > 0.5   # the rules fire and matter


def test_checkpoint_steps__only_where_asked_and_every_episode_is_valued_in_a_world_of_real_bars():
    config = _historical_config("float32")
    world = build_world(config)
    assert checkpoint_steps(config, 40, world) == 240
    assert checkpoint_steps({**config, "rule_values": {"enabled": False, "max_episodes": 10}}, 40, world) == 0
    assert checkpoint_steps({**config, "rule_values": {"enabled": True, "max_episodes": 10}}, 40, world) == 0
    assert checkpoint_steps({**config, "rule_values": {"enabled": True, "max_episodes": 99, "resume": False}}, 40,
                            world) == 0
    assert checkpoint_steps(_config("float32"), 40, build_world(_config("float32"))) == 0   # parametric world
    assert RuleValuesConf().resume   # on by default
    too_small = {**config, "rule_values": {**config["rule_values"], "resume_min_episode_steps": 40 * 1440 + 1}}
    assert checkpoint_steps(too_small, 40, world) == 0
    at_size = {**config, "rule_values": {**config["rule_values"], "resume_min_episode_steps": 40 * 1440}}
    assert checkpoint_steps(at_size, 40, world) == 240
