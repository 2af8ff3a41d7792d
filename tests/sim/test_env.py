"""The environment driven from outside: `policy.act` on `env.observe`, then `env.step(key, state, action, params)`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hbbatch.sim import RolloutSpec, env, make_params, metrics, noise, observation, policy, precision, rollout

NARROW = {"mean_revert": 200, "jumpy": 300, "trend_up": 400}
RAILS = {"gas_cap_usd_per_window": 15.0, "gas_window_minutes": 240, "max_drawdown": 0.006,
         "max_actions": 40, "max_actions_episodes": 4, "max_pool_share": 0.004}
CASES = {  # gating, classifier, dtype, sections: the EV gate, floors only with the rails tripping, a manual exit
    # cheap gas: at the fitted world's 2024-01 gas ($70 a recenter) the EV gate passes nothing in a day
    "ev_gate": ("ev", "online", "float32", dict(market={"gas_usd_median": 4.7})),
    "oracle": pytest.param("ev", "oracle", "float32", {}, marks=pytest.mark.slow),
    "rails_trip": ("off", "online", "float64", dict(agent={"width": NARROW, "rules": {"cooldown_minutes": 10}, "rails": RAILS},
                                                    floors=NARROW)),
    "manual_exit": pytest.param("ev", "online", "float64",
                                dict(agent={"rails": {"override": "exit", "override_from_minute": 300}}, floors=NARROW),
                                marks=pytest.mark.slow),
}


@pytest.fixture(autouse=True)
def _simulator_precision():
    """float64 where asked, as the simulator's entry points do (no process-wide JAX setting)."""
    with precision.scope():
        yield


def _scan_env_step(spec: RolloutSpec, params, seed: int):
    """The textbook loop: reset, then per step draw the world, observe, act, step; vmap over episodes.
    `params` is an argument of the jitted function, as in the rollout: closed over, XLA would fold it
    into constants and compute with them at compile time (rounding differently)."""

    def episode(index, params):
        state = env.reset(seed_words, index, params, spec.classifier)
        key = state.episode.counter_key

        def body(state, _):
            world = env.market_move(key, state, params)
            action = policy.act(env.observe(state, world, params), state.memory, params.agent, spec.gating,
                                spec.classifier)
            return env.step(key, state, action, params)

        final, path = jax.lax.scan(body, state, None, length=spec.n_steps)
        return metrics.episode_metrics(final, params), path

    with precision.scope():
        seed_words = jnp.asarray(noise.seed_words(seed))
        batch = jax.jit(jax.vmap(episode, in_axes=(0, None)))
        return batch(jnp.arange(spec.n_episodes, dtype=jnp.uint32), params)


@pytest.mark.parametrize("gating, classifier, dtype, sections", list(CASES.values()), ids=list(CASES))
def test_env__scanning_step_with_the_policy_reproduces_the_rollout_exactly(gating, classifier, dtype, sections):
    spec = RolloutSpec(n_episodes=12, n_steps=700, gating=gating, classifier=classifier, dtype=dtype,
                       record_path=True)
    params = make_params(dtype=dtype, **sections)
    expected, expected_path = jax.device_get(rollout.run(spec, params, seed=5))
    got, got_path = jax.device_get(_scan_env_step(spec, params, seed=5))
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    for name, column in expected_path._asdict().items():
        np.testing.assert_array_equal(getattr(got_path, name), column, err_msg=name)
    assert np.asarray(expected["actions"]).sum() > 0   # the agent did act


def test_env__an_observation_built_from_plain_values_gives_the_policy_the_same_decisions():
    """Shadow mode's path: `observation.build` from price, position, cash, gas and pool liquidity must make
    the same decisions as the simulator's own observation of the same state."""
    params = make_params(dtype="float64", agent={"width": NARROW, "rules": {"cooldown_minutes": 5,
                                                                            "rebalance_after_minutes": 5,
                                                                            "enabled": ["out_of_range", "edge"]}},
                         floors=NARROW, market={"gas_usd_median": 4.7})   # gas under the rails' daily cap
    state = env.reset(jnp.uint32(3), jnp.uint32(1), params, "online")
    key, m = state.episode.counter_key, params.market
    ref_price = observation.reference_price_usd(float(m.price_start_usd), int(m.tick_spacing))
    assert ref_price == pytest.approx(float(state.episode.sqrt_price_start) ** 2, rel=1e-12)

    @jax.jit
    def both_views(state):
        world = env.market_move(key, state, params)
        inside = env.observe(state, world, params)
        outside = observation.build(price_usd=state.sqrt_price**2, reference_price_usd=ref_price,
                                    position=state.position, cash_usd=state.cash_usd,
                                    pool_liquidity=world.pool_liquidity, gas_usd=inside.gas_usd,
                                    fee_rate=m.fee_rate, tick_spacing=m.tick_spacing, step=state.t)
        views = (inside, outside)
        actions = [policy.act(view, state.memory, params.agent, "off") for view in views]
        return views, actions, env.transition(state, world, actions[0], params)[0]

    decisions = 0
    for _ in range(300):
        (inside, outside), (want, got), state = both_views(state)
        np.testing.assert_allclose(outside.log_price, inside.log_price, atol=1e-12)
        np.testing.assert_allclose(outside.equity_usd, inside.equity_usd, rtol=1e-12)
        assert int(got.kind) == int(want.kind) and int(got.rule) == int(want.rule)
        assert float(got.position.tick_lower) == float(want.position.tick_lower)
        np.testing.assert_allclose(got.position.liquidity, want.position.liquidity, rtol=1e-9)
        decisions += int(want.kind) != 0
    assert decisions >= 3


def test_env__the_policy_needs_no_batch_dimension_and_vmaps():
    params = make_params()
    state = env.reset(jnp.uint32(0), jnp.uint32(0), params, "online")
    world = env.market_move(state.episode.counter_key, state, params)
    obs = env.observe(state, world, params)
    action = jax.jit(policy.act)(obs, state.memory, params.agent)
    assert action.kind.shape == () and action.position.tick_lower.shape == ()
    batched = jax.tree.map(lambda x: jnp.stack([x, x]), (obs, state.memory))
    actions = jax.jit(jax.vmap(policy.act, in_axes=(0, 0, None)))(*batched, params.agent)
    assert actions.kind.shape == (2,)
    np.testing.assert_array_equal(actions.kind, [action.kind] * 2)


def test_env__the_world_moves_the_same_whatever_the_action():
    params = make_params(floors=NARROW, market={"gas_usd_median": 4.7})   # below the daily gas cap
    state = env.reset(jnp.uint32(9), jnp.uint32(2), params, "online")
    key = state.episode.counter_key
    world = env.market_move(key, state, params)
    hold = jax.jit(policy.act, static_argnames="gating")(env.observe(state, world, params), state.memory,
                                                          params.agent, gating="off")
    assert int(hold.kind) == 0   # nothing fires on the opening band
    pos = state.position
    shifted = policy.make_position(pos.liquidity, pos.tick_lower + 100.0, pos.tick_upper + 100.0,
                                   state.episode.sqrt_price_start)
    recenter = hold._replace(kind=jnp.asarray(1, jnp.int32), position=shifted)
    step = jax.jit(env.step)
    after_hold, _ = step(key, state, hold, params)
    after_recenter, _ = step(key, state, recenter, params)
    assert float(after_recenter.position.tick_lower) == float(pos.tick_lower) + 100.0
    assert float(after_recenter.totals.gas_usd) > float(after_hold.totals.gas_usd) == float(state.totals.gas_usd)
    np.testing.assert_array_equal(after_recenter.log_price, after_hold.log_price)
    np.testing.assert_array_equal(after_recenter.memory.var_short, after_hold.memory.var_short)
