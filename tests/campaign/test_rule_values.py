"""Counterfactual rule values against an independent run of the same seeds with the rule switched off."""

from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from hbbatch.campaign.rule_values import COLUMNS, classifier_confusion, mark_bad_rules, rule_values
from hbbatch.campaign.stream import build_world, simulate_frames
from hbbatch.config.sim import REGIMES, AgentConf, MarketConf, RegimeMixConf
from hbbatch.config.world import WorldConf
from hbbatch.sim import RolloutSpec, make_params, simulate

N_EPISODES, N_STEPS, SEED = 48, 1200, 3
BUSY = {"rules": {"cooldown_minutes": 10, "rebalance_after_minutes": 5, "enabled": ["out_of_range", "vol_widen"],
                  "vol_widen_ratio": 1.05, "vol_persist_minutes": 20},
        "width": {"mean_revert": 300, "jumpy": 300, "trend_up": 300}, "warmup_minutes": 0}
FLOORS = {"mean_revert": 300, "jumpy": 300, "trend_up": 300}
CHEAP_GAS = {"gas_usd_median": 4.7}   # under the rails' daily gas cap: the rules act


def _config():
    agent = asdict(AgentConf())
    agent.update({k: v for k, v in BUSY.items() if k != "rules"})
    agent["rules"].update(BUSY["rules"])
    return {"n_steps": N_STEPS, "n_episodes": N_EPISODES, "seed": SEED, "dtype": "float64", "gating": {"mode": "off"},
            "market": {**asdict(MarketConf()), **CHEAP_GAS}, "agent": agent, "floors": FLOORS, "regime_mix": asdict(RegimeMixConf()),
            "world": {**asdict(WorldConf()), "name": "regimes", "kind": "parametric"}, "scale": {"batch_episodes": None}, "rule_values": {"enabled": True, "max_episodes": 10_000},
            "stats": {"confidence": 0.95, "n_bootstrap": 400, "bootstrap_seed": 1}}


def _episodes(enabled):
    agent = {**BUSY, "rules": {**BUSY["rules"], "enabled": enabled}}
    spec = RolloutSpec(n_episodes=N_EPISODES, n_steps=N_STEPS, gating="off", dtype="float64")
    # the same world as the config's (the regimes world's per-episode level table), run straight on the simulator
    params = make_params(market=CHEAP_GAS, agent=agent, floors=FLOORS, dtype="float64")
    frame = pd.DataFrame(simulate(spec, params._replace(world=build_world(_config()).params), SEED).episodes)
    frame.insert(0, "seed", SEED)
    return frame


@pytest.fixture(scope="module")
def values():
    return rule_values(_config(), _episodes(["out_of_range", "vol_widen"]), "A", 0, N_EPISODES, simulate_frames)


def test_rule_values__columns_and_one_row_per_rule_regime_and_metric(values):
    assert list(values.columns) == COLUMNS
    assert set(values["rule"]) == {"out_of_range", "vol_widen"}
    assert set(values["metric"]) == {"net_pnl_usd", "pnl_vs_hodl_usd"}
    assert set(values["regime"]) == {"all", *REGIMES}
    assert values[values["regime"] == "all"]["n_pairs"].eq(N_EPISODES).all()


def test_rule_values__equal_the_paired_difference_with_an_independent_run_without_the_rule(values):
    with_rule, without = _episodes(["out_of_range", "vol_widen"]), _episodes(["vol_widen"])
    expected = (with_rule["net_pnl_usd"] - without["net_pnl_usd"]).mean()
    row = values[(values["rule"] == "out_of_range") & (values["regime"] == "all") & (values["metric"] == "net_pnl_usd")]
    assert float(row["value_usd"].iloc[0]) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert float(row["low"].iloc[0]) <= expected <= float(row["high"].iloc[0])
    assert not np.isclose(expected, 0.0)   # the rule changes what the episode earns


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

