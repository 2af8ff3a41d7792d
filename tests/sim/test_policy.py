"""The bot's policy: the EV gate where GAS and FEE_GATE both matter, re-entry, widens by intent, warm-up, the
opening band, and bad settings refused."""

import dataclasses

import numpy as np
import pytest

from hbbatch.config.sim import width_in_ticks
from hbbatch.sim import ParamsError, RolloutSpec, compiled_batch, make_params, simulate

SPEC = RolloutSpec(n_episodes=64, n_steps=1500, gating="ev")
BUSY = {"rules": {"cooldown_minutes": 10, "rebalance_after_minutes": 5}}
NARROW = {"mean_revert": 200, "jumpy": 200, "trend_up": 200}
NARROW_WIDTHS = {"width": {"mean_revert": 200, "jumpy": 200, "trend_up": 200}}


def _actions(gas_usd, fee_gate_usd):
    # the world's gas cheap enough that the rails' $60/day cap does not stop the busy agent (at the fitted
    # $70 median the cap, not the gate, decides how many actions pass)
    params = make_params(agent={**BUSY, **NARROW_WIDTHS, "gas_usd": gas_usd, "fee_gate_usd": fee_gate_usd},
                         floors=NARROW, market={"gas_usd_median": 4.7})
    return int(simulate(SPEC, params, 11).episodes["actions"].sum())


def test_policy__actions_fall_as_gas_rises_at_a_fixed_fee_gate():
    counts = [_actions(gas, 4.0) for gas in (0.0, 2.0, 8.0, 32.0)]
    assert all(a >= b for a, b in zip(counts, counts[1:])), counts
    assert counts[0] > counts[-1], counts
    assert _actions(0.0, 4.0) != _actions(3.99, 4.0)   # GAS below FEE_GATE still moves decisions


def test_policy__actions_fall_as_fee_gate_rises_at_a_fixed_gas():
    counts = [_actions(2.0, gate) for gate in (0.0, 4.0, 16.0, 64.0)]
    assert all(a >= b for a, b in zip(counts, counts[1:])), counts
    assert counts[0] > counts[-1], counts


def _reentry_run(reentry):
    agent = {"rules": {"enabled": ["out_of_range"], "reentry": reentry, "rebalance_after_minutes": 15,
                       "cooldown_minutes": 0}, "width": {"mean_revert": 300, "jumpy": 300, "trend_up": 300},
             "warmup_minutes": 0}
    spec = dataclasses.replace(SPEC, gating="off", dtype="float64")
    return simulate(spec, make_params(agent=agent, floors=NARROW, dtype="float64"), 5).episodes


def test_policy__single_sided_reentry_swaps_nothing_and_swap_to_ratio_pays_for_its_swap():
    single, swapped = _reentry_run("single_sided"), _reentry_run("swap_to_ratio")
    assert single["actions"].sum() > single["actions"].size   # re-entries happened (beyond the opening)
    opening_only = _reentry_run("single_sided")["swap_cost_usd"]
    # the opening swap (half ETH, half USD into the band's ratio) is the only swap a single-sided bot pays
    np.testing.assert_allclose(single["swap_cost_usd"], opening_only)
    assert np.all(single["swap_cost_usd"] < 1.0)
    assert swapped["swap_cost_usd"].mean() > 10 * single["swap_cost_usd"].mean()


def test_policy__widens_are_counted_by_intent_not_by_a_wider_band():
    # recenters move between the regimes' widths (200 / 400 / 600 here) but are not widens
    agent = {"rules": {"enabled": ["out_of_range", "trend_shift"], "cooldown_minutes": 10},
             "width": {"mean_revert": 200, "jumpy": 400, "trend_up": 600}}
    result = simulate(dataclasses.replace(SPEC, gating="off", record_path=True),
                      make_params(agent=agent, floors=NARROW), 3)
    width = result.path.tick_upper - result.path.tick_lower
    assert np.any(np.diff(width, axis=1) > 0)   # some recenter ended wider ...
    assert result.episodes["widens"].sum() == 0    # ... and none is a widen
    # with the vol rules on, widens are exactly the vol_widen rule's actions
    agent = {"rules": {"vol_widen_ratio": 1.05, "vol_narrow_ratio": 0.95, "vol_persist_minutes": 20,
                       "cooldown_minutes": 10}}
    result = simulate(dataclasses.replace(SPEC, gating="off"), make_params(agent=agent), 3)
    widen_actions = result.rules["actions"][result.rules["rule"] == "vol_widen"].sum()
    assert widen_actions > 0 and result.episodes["widens"].sum() == widen_actions


def test_policy__the_opening_band_is_an_action_paid_at_the_world_gas():
    market = {"gas_dispersion": 0.0, "gas_spells_per_day": 0.0, "gas_usd_median": 5.0}
    agent = {"rules": {"enabled": []}, "warmup_minutes": 0}
    episodes = simulate(dataclasses.replace(SPEC, gating="off"), make_params(market=market, agent=agent), 1).episodes
    assert np.all(episodes["actions"] == 1)
    np.testing.assert_allclose(episodes["gas_usd"], 5.0, rtol=1e-6)
    # half ETH, half USD into a centred band: a swap of a few dollars' worth, paid once
    assert np.all(episodes["swap_cost_usd"] > 0) and np.all(episodes["swap_cost_usd"] < 0.1)


def test_policy__warm_up_changes_the_opening_classification_not_the_market_path():
    params = make_params()
    cold = simulate(dataclasses.replace(SPEC, record_path=True), params, 8)
    warm = simulate(dataclasses.replace(SPEC, record_path=True, warmup_steps=1440), params, 8)
    np.testing.assert_array_equal(cold.path.price_usd, warm.path.price_usd)
    # cold, every episode opens at the prior (the mean_revert width, 1200 ticks); warmed up, jumpy and
    # trend episodes open at their own regime's width once the classifier sees the day before
    cold_width = cold.path.tick_upper[:, 0] - cold.path.tick_lower[:, 0]
    warm_width = warm.path.tick_upper[:, 0] - warm.path.tick_lower[:, 0]
    assert np.all(cold_width == 1200)
    assert np.any(warm_width > 1200)
    assert np.all(cold.path.regime_estimate[:, 0] == 0) and np.any(warm.path.regime_estimate[:, 0] != 0)


def test_policy__rules_are_traced_flags_one_compile_for_every_counterfactual():
    spec = dataclasses.replace(SPEC, n_episodes=8, n_steps=60)
    compiled_batch.cache_clear()
    for enabled in (["out_of_range", "vol_widen"], ["vol_widen"], []):
        simulate(spec, make_params(agent={"rules": {"enabled": enabled}}), 1)
    assert compiled_batch(spec)[0]._cache_size() == 1


def test_policy__width_in_percent_of_price():
    # a 10 % band: [0.95 P, 1.05 P] is ln(1.05 / 0.95) / ln(1.0001) = 1000.9 ticks
    assert width_in_ticks(10.0, "pct") == pytest.approx(1000.88, abs=0.01)
    params = make_params(agent={"width_unit": "pct", "width": {"mean_revert": 20.0, "jumpy": 1.0, "trend_up": 15.0}})
    # jumpy's 1 % and trend_up's 15 % (1,503 ticks) are below their floors (1,400 and 1,600): the floors hold
    np.testing.assert_allclose(params.agent.width_ticks, [width_in_ticks(20.0, "pct"), 1400.0, 1600.0], rtol=1e-6)


@pytest.mark.parametrize("agent, floors, key", [
    ({"width": {"jumpy": 5}}, None, "agent.width.jumpy"),
    ({"width_unit": "pct", "width": {"mean_revert": 12.0, "jumpy": 14.0, "trend_up": 0.05}}, None,
     "agent.width.trend_up"),
    ({"rules": {"rebalance_after_minutes": 0.5}}, None, "agent.rules.rebalance_after_minutes"),
    ({"rules": {"vol_persist_minutes": 0}}, None, "agent.rules.vol_persist_minutes"),
    ({"warmup_minutes": 0.25}, None, "agent.warmup_minutes"),
    ({}, {"jumpy": 3}, "floors.jumpy"),
    ({"rules": {"enabled": ["out_of_range", "vol_spike"]}}, None, "agent.rules.enabled"),
])
def test_policy__bad_settings_are_one_line_errors_naming_the_key(agent, floors, key):
    with pytest.raises(ParamsError) as error:
        make_params(agent=agent, floors=floors)
    assert str(error.value).startswith(key) and "\n" not in str(error.value)
