"""Cross-check: the JAX rollout against the independent NumPy port in bench/numpy_reference.py.

Both run in float64 from the same seed, so the market draws are bit-identical and every decision
(rule fired, gate passed, rail tripped) must be the same: counts are compared exactly. Money and
fractions agree to rounding; the absolute tolerance of 1e-6 covers quantities that are differences
of ~1e5 USD balances (float64 rounding there is ~1e-11 USD), far below a cent.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bench import numpy_reference as reference
from hbbatch.sim import OWNERS, RULES, RolloutSpec, make_params, noise, precision, simulate

# Sizes off the rollout's grids (devices x chunks, blocks of draws) so padding and the tail block run too.
N_EPISODES, N_STEPS, SEED = 67, 1450, 7
NARROW_FLOORS = {"mean_revert": 200, "jumpy": 300, "trend_up": 400}
# Looser triggers so that within one simulated day every rule both fires and acts.
BUSY_AGENT = {"trend_tstat": 0.5, "width": NARROW_FLOORS,
              "rules": {"cooldown_minutes": 20, "edge_fraction": 0.15, "vol_widen_ratio": 1.05, "vol_narrow_ratio": 0.95,
                        "vol_persist_minutes": 20, "enabled": list(RULES)}}
RAILS = {"gas_cap_usd_per_window": 15.0, "gas_window_minutes": 240, "max_drawdown": 0.006,
         "max_actions": 40, "max_actions_episodes": 4, "max_pool_share": 0.004}

CASES = {
    "default_ev_gate": ("ev", {}),
    "gating_off_every_rule": ("off", dict(agent=BUSY_AGENT, floors=NARROW_FLOORS)),
    "rails_trip": ("off", dict(agent={"width": NARROW_FLOORS, "rules": {"cooldown_minutes": 10}, "rails": RAILS},
                               floors=NARROW_FLOORS)),
    "swap_to_ratio_ev": ("ev", dict(agent={**BUSY_AGENT, "rules": {**BUSY_AGENT["rules"], "reentry": "swap_to_ratio"}},
                                    floors=NARROW_FLOORS)),
    "manual_exit": ("off", dict(agent={"rails": {"override": "exit", "override_from_minute": 300}},
                                floors=NARROW_FLOORS)),
}


def _both(gating, sections):
    spec = RolloutSpec(n_episodes=N_EPISODES, n_steps=N_STEPS, gating=gating, dtype="float64")
    # the fitted world (GARCH, jumps, drift draws, gas tied to vol) at the cheap gas the rails are sized for
    params = make_params(dtype="float64", market={"gas_usd_median": 4.7}, **sections)
    return simulate(spec, params, SEED), reference.simulate(spec, params, SEED)


def _assert_tables_agree(jax_table, numpy_table):
    assert jax_table.keys() == numpy_table.keys()
    for name, jax_column in jax_table.items():
        numpy_column = numpy_table[name]
        if jax_column.dtype.kind in "OibuU":
            np.testing.assert_array_equal(jax_column, numpy_column, err_msg=name)
        else:
            np.testing.assert_allclose(jax_column, numpy_column, rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.fixture(scope="module")
def results():
    return {name: _both(*case) for name, case in CASES.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_numpy_reference__agrees_with_jax_rollout_on_every_metric(results, case):
    jax_result, numpy_result = results[case]
    _assert_tables_agree(jax_result.episodes, numpy_result.episodes)
    _assert_tables_agree(jax_result.rules, numpy_result.rules)


def _actions_by_owner(result):
    return dict(zip(OWNERS, result.rules["actions"].reshape(N_EPISODES, -1).sum(axis=0)))


def test_numpy_reference__cases_exercise_rules_gate_and_rails(results):
    """The agreement above is only worth something if the cases take the branches it compares."""
    default, _ = results["default_ev_gate"]
    fires = default.rules["fires"].sum()
    assert 0 < default.episodes["actions"].sum() < fires       # the gate passes some proposals, rejects most
    busy = _actions_by_owner(results["gating_off_every_rule"][0])
    assert all(busy[rule] > 0 for rule in RULES), busy
    rails, _ = results["rails_trip"]
    assert rails.episodes["emergency_stops"].sum() > 0
    assert rails.episodes["drawdown_exit"].sum() > 0
    cap = RAILS["max_actions"] // RAILS["max_actions_episodes"]
    rebalances = rails.episodes["actions"] - rails.episodes["drawdown_exit"]
    assert rebalances.max() == cap - 1                         # the hard cap binds (one action kept for an exit)
    assert rails.episodes["actions"].max() <= cap
    manual = _actions_by_owner(results["manual_exit"][0])
    assert manual["manual_override"] == N_EPISODES


@pytest.mark.parametrize("seed", [123, 2**40 + 123])   # a seed above 2^32 uses the key's high word
def test_numpy_reference__noise_is_bit_identical_to_jax(seed):
    episodes = np.arange(1000, dtype=np.uint32)
    with precision.scope():
        jax_keys = np.asarray(jax.vmap(lambda e: noise.episode_key(seed, e))(jnp.asarray(episodes)))
        numpy_keys = reference.episode_keys(seed, episodes)
        np.testing.assert_array_equal(jax_keys.T, numpy_keys)
        for step in (0, 1, 10_079, 0xFFFFFFFF):
            jax_u = np.asarray(jax.vmap(lambda k: noise.uniforms(k, jnp.uint32(step), 6, jnp.float64))(
                jnp.asarray(jax_keys)))
            np.testing.assert_array_equal(jax_u.T, reference.uniforms(numpy_keys, step, 6, np.float64))
