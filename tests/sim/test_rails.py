"""The go-live safety rails stop actions when tripped."""

import numpy as np

from hbbatch.sim import OWNERS, RolloutSpec, make_params, simulate

BUSY = {"rules": {"cooldown_minutes": 5}}          # an agent that acts often without its gate
NARROW = {"mean_revert": 100, "jumpy": 100, "trend_up": 100}
UNRESTRICTED = {"max_actions": 100_000, "max_actions_episodes": 1, "gas_cap_usd_per_window": 1e12, "max_drawdown": 1.0}
SPEC = RolloutSpec(n_episodes=32, n_steps=1440, gating="off", dtype="float64")


def _run(rails, market=None):
    return simulate(SPEC, make_params(market=market, agent={**BUSY, "rails": {**UNRESTRICTED, **rails}}, floors=NARROW), 3)


def _owner_actions(result, owner):
    mask = result.rules["rule"] == owner
    return result.rules["actions"][mask]


def test_rails__unrestricted_agent_acts_often():
    assert _run({}).episodes["actions"].min() >= 5 and _run({}).episodes["actions"].mean() > 20


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
    # a trip comes with the action that crossed $12: at most 3 actions ($15) per 6-hour window, 4 windows a day
    assert result.episodes["actions"].max() <= 12
    assert result.episodes["emergency_stops"].min() >= 1
    assert np.all(result.episodes["emergency_stops"] <= 4)


def test_rails__drawdown_limit_exits_and_stands_down():
    result = _run({"max_drawdown": 0.002})
    ep = result.episodes
    assert ep["drawdown_exit"].all()
    np.testing.assert_array_equal(_owner_actions(result, "rail_drawdown"), 1)


def test_rails__manual_override_hold_and_exit():
    held = _run({"override": "hold", "override_from_minute": 0})
    assert held.episodes["actions"].sum() == 0
    exited = _run({"override": "exit", "override_from_minute": 60})
    np.testing.assert_array_equal(_owner_actions(exited, "manual_override"), 1)
    # after the exit the account is all cash: no more fees, equity stays put
    assert np.all(exited.episodes["time_in_range"] <= 60 / 1440)


def test_rails__position_size_limit_caps_share_of_pool():
    market = {"pool_liquidity_dispersion": 0.0, "pool_liquidity": 1e5}
    capped = simulate(RolloutSpec(n_episodes=4, n_steps=10), make_params(
        market=market, agent={"rules": {"enabled": []}, "rails": {"max_pool_share": 0.01}}), 1)
    free = simulate(RolloutSpec(n_episodes=4, n_steps=10), make_params(
        market=market, agent={"rules": {"enabled": []}, "rails": {"max_pool_share": 0.99}}), 1)
    # fees scale with share L/(L+L_pool): at most 1 % of the pool when capped
    assert np.all(capped.episodes["fees_usd"] < 0.2 * free.episodes["fees_usd"])
    assert "rail_drawdown" in OWNERS
