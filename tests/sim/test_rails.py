"""The go-live safety rails stop actions when tripped."""

import jax.numpy as jnp
import numpy as np
import pytest

from hbbatch.sim import ParamsError, RolloutSpec, make_params, observation, policy, precision, rails, simulate
from hbbatch.sim.types import Action

BUSY = {"rules": {"cooldown_minutes": 5, "reentry": "swap_to_ratio",   # every rule on, edge included
                   "enabled": ["out_of_range", "edge", "vol_widen", "vol_narrow", "trend_shift"]}}          # an agent that acts often without its gate
NARROW = {"mean_revert": 100, "jumpy": 100, "trend_up": 100}
UNRESTRICTED = {"max_actions": 100_000, "max_actions_episodes": 1, "gas_cap_usd_per_window": 1e12, "max_drawdown": 1.0}
SPEC = RolloutSpec(n_episodes=32, n_steps=1440, gating="off", dtype="float64")


# The rails' defaults are sized for a few dollars of gas; the fitted world's 2024-01 gas ($70 a recenter)
# is above the default daily cap, so these tests run on the cheap gas they were written for.
CHEAP_GAS = {"gas_usd_median": 4.7, "garch_start_log_sd": 0.0}   # and no near-flat weeks: a busy agent


def _run(rails, market=None):
    return simulate(SPEC, make_params(market={**CHEAP_GAS, **(market or {})},
                                      agent={**BUSY, "width": NARROW, "rails": {**UNRESTRICTED, **rails}},
                                      floors=NARROW), 3)


def _owner_actions(result, owner):
    mask = result.rules["rule"] == owner
    return result.rules["actions"][mask]


def test_rails__unrestricted_agent_acts_often():
    # well above the caps the tests below set (3 per episode); about 20 in the fitted world (it was 20+ with
    # the old OU pull, which kept the price at the band's edge)
    actions = _run({}).episodes["actions"]
    assert actions.min() >= 5 and actions.mean() > 15


def test_rails__hard_cap_limits_actions_per_n_episodes():
    result = _run({"max_actions": 12, "max_actions_episodes": 4})   # 3 per episode
    actions = result.episodes["actions"]
    assert actions.max() == 2                # rebalances keep one action in reserve for a safety exit
    assert all(actions[i:i + 4].sum() <= 12 for i in range(len(actions) - 3))


def test_rails__hard_cap_holds_when_a_safety_exit_comes_on_top():
    # a busy agent reaches the cap, then the drawdown rail exits: the exit is the reserved action
    result = _run({"max_actions": 3, "max_actions_episodes": 1, "max_drawdown": 0.01})
    ep = result.episodes
    assert ep["actions"].max() <= 3
    exits = _owner_actions(result, "rail_drawdown")
    assert exits.sum() > 0 and np.all(ep["actions"][exits == 1] <= 3)


def test_rails__emergency_stop_halts_actions_for_the_rest_of_the_gas_window():
    market = {"gas_dispersion": 0.0, "gas_spell_multiplier": 1.0, "gas_usd_median": 5.0}
    result = _run({"gas_window_minutes": 360, "gas_cap_usd_per_window": 12.0}, market)
    # an action that would take the window past $12 is refused: at most 2 actions ($10) per 6-hour window
    assert result.episodes["actions"].max() <= 8
    assert np.all(result.episodes["gas_usd"] <= 4 * 12.0)
    assert result.episodes["emergency_stops"].min() >= 1
    assert np.all(result.episodes["emergency_stops"] <= 4)


def test_rails__gas_window_that_is_not_a_whole_number_of_steps_still_resets():
    # 7-minute steps and a 60-minute window: the window is rounded to whole steps, so it still resets
    market = {"gas_dispersion": 0.0, "gas_spell_multiplier": 1.0, "gas_usd_median": 5.0, "step_minutes": 7.0}
    spec = RolloutSpec(n_episodes=32, n_steps=206, gating="off", dtype="float64")   # 24 hours
    rails = {**UNRESTRICTED, "gas_window_minutes": 60, "gas_cap_usd_per_window": 12.0}
    result = simulate(spec, make_params(market=market, agent={"width": NARROW, "rules": {"cooldown_minutes": 7},
                                                              "rails": rails}, floors=NARROW), 3)
    assert result.episodes["actions"].mean() > 8          # more than one window's worth: windows do reset


def test_rails__hard_cap_too_small_for_a_rebalance_is_refused():
    with pytest.raises(ParamsError, match="max_actions"):
        make_params(agent={"rails": {"max_actions": 15, "max_actions_episodes": 10}})


def test_rails__drawdown_limit_exits_and_stands_down():
    result = _run({"max_drawdown": 0.002})
    ep = result.episodes
    assert ep["drawdown_exit"].all()
    np.testing.assert_array_equal(_owner_actions(result, "rail_drawdown"), 1)


def test_rails__manual_override_hold_and_exit():
    held = _run({"override": "hold", "override_from_minute": 0})
    assert np.all(held.episodes["actions"] == 1)    # the opening band (before the first step), nothing after
    exited = _run({"override": "exit", "override_from_minute": 60})
    np.testing.assert_array_equal(_owner_actions(exited, "manual_override"), 1)
    # after the exit the account is all cash: no more fees, equity stays put
    assert np.all(exited.episodes["time_in_range"] <= 60 / 1440)


def test_rails__position_size_limit_caps_share_of_pool():
    # a flat price and flat volume: fees are exactly fee_rate x volume x share, so the share is observable
    market = {"pool_liquidity_dispersion": 0.0, "pool_liquidity": 1e5, "vol_annual": {"mean_revert": 0.0},
              "volume_vol_share": 0.0}
    mix = {"mean_revert": 1.0, "jumpy": 0.0, "trend_up": 0.0}
    spec = RolloutSpec(n_episodes=256, n_steps=10, dtype="float64")
    capped = simulate(spec, make_params(market=market, regime_mix=mix,
                                        agent={"rules": {"enabled": []}, "rails": {"max_pool_share": 0.01}}), 1)
    volume = 2.47e8 / 1440 * 10                            # mean volume of 10 one-minute steps
    share = capped.episodes["fees_usd"].mean() / (0.0005 * volume)
    assert share == pytest.approx(0.01, rel=0.05)          # volume noise averages out over 256 episodes


def test_rails__apply_filters_a_hand_built_action():
    """The filter as shadow mode calls it: a recenter on a plain observation, against each rail."""
    with precision.scope():
        _check_hand_built_actions()


def _check_hand_built_actions():
    def decide(rail_settings, rail_state=None, price_usd=2270.0, gas_usd=3.0):
        params = make_params(dtype="float64", agent={"rails": rail_settings}).agent
        held = policy.make_position(jnp.float64(2e4), jnp.float64(-600.0), jnp.float64(600.0), jnp.sqrt(2270.0))
        obs = observation.build(price_usd=price_usd, reference_price_usd=2270.0, position=held, cash_usd=0.0,
                                pool_liquidity=1.2e7, gas_usd=gas_usd, fee_rate=0.0005, tick_spacing=10, step=100)
        target = policy.make_position(held.liquidity, jnp.float64(-500.0), jnp.float64(700.0), jnp.sqrt(2270.0))
        asked = Action(kind=jnp.int32(1), rule=jnp.int32(1), asked=jnp.bool_(True), position=target,
                              swap_cost_usd=jnp.float64(1.0), regime_estimate=jnp.int32(0))
        state = rail_state or rails.initial_state(obs.equity_usd)
        return rails.apply(asked, obs, state, params)

    action, why = decide({})
    assert int(action.kind) == 1 and bool(why.rebalance) and float(action.position.tick_lower) == -500.0
    action, why = decide({"override": "hold"})
    assert int(action.kind) == 0 and not bool(why.considered) and float(action.position.tick_lower) == -600.0
    action, why = decide({"override": "exit"})
    assert int(action.kind) == 4 and bool(why.manual_exit) and float(action.position.liquidity) == 0.0
    action, why = decide({"gas_cap_usd_per_window": 2.5})           # $3 quoted, $2.50 cap: refused, stop trips
    assert int(action.kind) == 0 and bool(why.tripped)
    peak = rails.initial_state(jnp.float64(1e9))                     # equity far below the peak
    action, why = decide({"max_drawdown": 0.25}, rail_state=peak)
    assert int(action.kind) == 4 and bool(why.drawdown_exit)
    spent = rails.initial_state(jnp.float64(0.0))._replace(actions=jnp.float64(11.0))  # no drawdown
    action, why = decide({"max_actions": 120, "max_actions_episodes": 10}, rail_state=spent)   # 12 each, 1 reserved
    assert int(action.kind) == 0 and not bool(why.considered)
