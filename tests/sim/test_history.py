"""The historical world on device: bars read exactly, blocks of the configured length, common random
numbers, one compile per history length, sub-bar bridges that land on the real closes and lay the bar's
variance out by its within-bar profile, and the warm-up on the real bars before each episode."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from hbbatch.sim import RolloutSpec, make_params, simulate
from hbbatch.sim.history import (ACTIVITY, GAS_USD, JUMP, LOG_HIGH, LOG_LOW, LOG_RETURN, N_COLUMNS, Cursor,
                                 EpisodeLevel, HistoryParams, move)
from hbbatch.sim.rollout import compiled_batch, run


def _bars(n: int, seed: int = 0, k: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, 0.002, n)
    columns = np.zeros((n, N_COLUMNS))
    columns[:, LOG_RETURN] = r
    columns[:, LOG_HIGH] = np.maximum(r, 0.0) + rng.uniform(0, 0.001, n)
    columns[:, LOG_LOW] = np.minimum(r, 0.0) - rng.uniform(0, 0.001, n)
    columns[:, ACTIVITY] = 1.0
    columns[:, GAS_USD] = 3.0
    columns[:, JUMP] = 0.0
    return columns


def _world(columns: np.ndarray, restart_prob: float = 0.0, window_bars: int = 0, k: int = 1,
           profiles: np.ndarray | None = None) -> HistoryParams:
    f = lambda x: np.asarray(x, np.float32)  # noqa: E731
    world = HistoryParams(bars=f(columns), pool_levels=f([[1.0, 1.0]]), restart_prob=f(restart_prob),
                          window_bars=np.asarray(window_bars, np.int32), steps_per_bar=np.asarray(k, np.int32),
                          drift_per_step=f(0.0), gas_scale=f(1.0), lp_fee_share=f(1.0), trend_tstat=f(2.5),
                          jumpy_variance_share=f(0.35))
    return world if profiles is None else world._replace(within_bar_variance=f(profiles))


# two within-bar profiles: all of the bar's variance in its first half, or all in its second
HALVES = np.array([[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])


def _walk(world: HistoryParams, n_steps: int, seed: int = 1) -> tuple[np.ndarray, dict]:
    """Step the cursor alone with host uniforms: bar index and move of every step."""
    rng = np.random.default_rng(seed)
    zero = jnp.zeros((), jnp.float32)
    cursor = Cursor(bar=jnp.int32(0), substep=jnp.int32(0), within=zero, sum_return=zero, sum_sq_return=zero,
                    sum_sq_jump=zero, n=zero)
    level = EpisodeLevel(volume_multiple=jnp.float32(1.0), liquidity_multiple=jnp.float32(1.0))
    step = jax.jit(lambda u, c, w: move(u, c, level, jnp.float32(1e7), w, jnp.float32(5e-4), jnp.float32(1e5)))
    world = jax.tree.map(jnp.asarray, world)
    bars, moves = [], []
    for u in rng.uniform(1e-6, 1 - 1e-6, (n_steps, 4)).astype(np.float32):
        bars.append(int(cursor.bar))
        cursor, m = step(u, cursor, world)
        moves.append(m)
    stacked = {name: np.array([getattr(m, name) for m in moves]) for name in moves[0]._fields}
    return np.array(bars), stacked


def test_history__replay_reads_the_bars_in_order_exactly():
    columns = _bars(50)
    bars, moves = _walk(_world(columns, window_bars=50), 40)
    np.testing.assert_array_equal(bars, np.arange(40))
    np.testing.assert_allclose(moves["log_return"], columns[:40, LOG_RETURN].astype(np.float32))
    np.testing.assert_allclose(moves["log_high"], columns[:40, LOG_HIGH].astype(np.float32))
    np.testing.assert_allclose(moves["log_low"], columns[:40, LOG_LOW].astype(np.float32))
    np.testing.assert_allclose(moves["gas_usd"], 3.0)


def test_history__blocks_have_the_configured_mean_length():
    n_bars, p = 100_000, 1.0 / 20.0
    bars, _ = _walk(_world(_bars(n_bars), restart_prob=p), 6000)
    breaks = np.flatnonzero(np.diff(bars) != 1)
    lengths = np.diff(breaks)
    # geometric block lengths, mean 1/p = 20: ~300 blocks, standard error about 20/sqrt(300) = 1.2
    assert np.mean(lengths) == pytest.approx(20.0, abs=4.0)


def test_history__a_coarse_bar_lands_on_its_close_and_stays_inside_its_range():
    k = 5
    columns = _bars(30, seed=3)
    _, moves = _walk(_world(columns, window_bars=30, k=k), 30 * k)
    path = np.cumsum(moves["log_return"])
    closes = np.cumsum(columns[:, LOG_RETURN])
    np.testing.assert_allclose(path[k - 1::k], closes, atol=2e-6)          # every k-th step ends on the close
    opens = np.concatenate([[0.0], closes[:-1]])
    inside = path.reshape(30, k) - opens[:, None]
    assert np.all(inside <= columns[:, [LOG_HIGH]] + 1e-6) and np.all(inside >= columns[:, [LOG_LOW]] - 1e-6)
    assert np.std(np.diff(path)) > 0.2 * np.std(columns[:, LOG_RETURN]) / np.sqrt(k)  # not a straight line


def test_history__a_bars_profile_lays_its_variance_out_over_the_bar():
    k, n_bars = 6, 200
    columns = _bars(n_bars, seed=12)
    _, moves = _walk(_world(columns, window_bars=n_bars, k=k, profiles=HALVES), n_bars * k)
    steps = moves["log_return"].reshape(n_bars, k)
    np.testing.assert_allclose(steps.sum(axis=1), columns[:, LOG_RETURN], atol=2e-6)   # on the close
    still_first = np.all(np.abs(steps[:, :3]) < 1e-7, axis=1)     # the second-half profile: nothing before
    still_second = np.all(np.abs(steps[:, 3:]) < 1e-7, axis=1)    # the first-half profile: nothing after
    assert np.all(still_first ^ still_second)                     # every bar follows one of the two rows
    # the row is drawn per bar, evenly: 100 +- 7 of 200
    assert 70 < still_first.sum() < 130, still_first.sum()
    # and it moves inside its half (bridged, not a straight line)
    moving = np.where(still_first[:, None], steps[:, 3:], steps[:, :3])
    assert np.all(np.std(moving, axis=1) > 0)


def test_history__flat_and_profiled_bars_end_on_the_same_closes_and_paths_keep_common_random_numbers():
    spec = RolloutSpec(n_episodes=6, n_steps=240, record_path=True)
    columns = _bars(3000, seed=13)
    shape = np.cumsum(np.random.default_rng(0).dirichlet(np.full(12, 0.5), 50), axis=1)
    table = np.concatenate([np.zeros((50, 1)), shape], axis=1)
    profiled = make_params()._replace(world=_world(columns, restart_prob=1 / 20, k=60, profiles=table))
    flat = make_params()._replace(world=_world(columns, restart_prob=1 / 20, k=60))
    a = simulate(spec, profiled, seed=7)
    b = simulate(spec, flat, seed=7)
    # the same bars in the same order (the bootstrap's draws do not see the profile), on the same closes
    np.testing.assert_allclose(a.path.price_usd[:, 59::60], b.path.price_usd[:, 59::60], rtol=2e-6)
    assert not np.allclose(a.path.price_usd, b.path.price_usd, rtol=1e-4)
    other_agent = make_params(agent={"fee_gate_usd": 0.0, "gas_usd": 0.0,
                                     "width": {"mean_revert": 200, "jumpy": 200, "trend_up": 200}},
                              floors={"mean_revert": 200, "jumpy": 200, "trend_up": 200})
    c = simulate(spec, other_agent._replace(world=profiled.world), seed=7)
    np.testing.assert_array_equal(a.path.price_usd, c.path.price_usd)
    assert not np.array_equal(a.episodes["net_pnl_usd"], c.episodes["net_pnl_usd"])
    d = simulate(spec, profiled, seed=8)
    assert not np.allclose(a.path.price_usd, d.path.price_usd)


def _params(columns, **world):
    return make_params()._replace(world=_world(columns, **world))


def test_history__market_paths_do_not_depend_on_agent_settings():
    spec = RolloutSpec(n_episodes=8, n_steps=300, record_path=True)
    columns = _bars(5000, seed=4)
    world = _world(columns, restart_prob=1 / 50)
    a = simulate(spec, make_params()._replace(world=world), seed=7)
    b = simulate(spec, make_params(agent={"fee_gate_usd": 0.0, "gas_usd": 0.0,
                                          "width": {"mean_revert": 200, "jumpy": 200, "trend_up": 200}},
                                   floors={"mean_revert": 200, "jumpy": 200, "trend_up": 200})._replace(world=world),
                 seed=7)
    np.testing.assert_array_equal(a.path.price_usd, b.path.price_usd)
    assert not np.array_equal(a.episodes["net_pnl_usd"], b.episodes["net_pnl_usd"])
    c = simulate(spec, make_params()._replace(world=world), seed=8)
    assert not np.array_equal(a.path.price_usd, c.path.price_usd)


def test_history__a_new_history_of_the_same_length_does_not_recompile():
    spec = RolloutSpec(n_episodes=4, n_steps=64, warmup_steps=48)   # the warm-up's bars are traced too
    fn, _, _ = compiled_batch(spec)
    before = fn._cache_size()
    # the within-bar profiles are traced as well: another table of the same shape, no compile
    first, _ = run(spec, _params(_bars(1000, seed=5), restart_prob=0.05, k=4, profiles=HALVES), seed=1)
    second, _ = run(spec, _params(_bars(1000, seed=6), restart_prob=0.01, k=4, profiles=HALVES[::-1]), seed=1)
    assert fn._cache_size() == before + 1
    assert not np.allclose(np.asarray(first["price_end"]), np.asarray(second["price_end"]))


def test_history__replay_episode_ends_at_the_window_close_and_fees_scale_with_the_fee_switch():
    columns = _bars(400, seed=9)
    spec = RolloutSpec(n_episodes=4, n_steps=100)
    # no rules: the agent never acts, so fees are linear in the LPs' fee rate
    quiet = {"rules": {"enabled": []}}
    full = simulate(spec, make_params(agent=quiet)._replace(world=_world(columns, window_bars=100)), seed=3)
    switched_world = _world(columns, window_bars=100)._replace(lp_fee_share=np.float32(0.75))
    switched = simulate(spec, make_params(agent=quiet)._replace(world=switched_world), seed=3)
    windows = columns[:, LOG_RETURN].reshape(4, 100).sum(axis=1)
    price_start = full.episodes["price_start"]
    np.testing.assert_allclose(full.episodes["price_end"] / price_start, np.exp(windows), rtol=2e-5)
    np.testing.assert_allclose(switched.episodes["fees_usd"], 0.75 * full.episodes["fees_usd"], rtol=1e-5)
    assert (full.episodes["actions"] == 1).all()   # the opening band only


# --- warm-up on the real bars before the episode

def _regime_bars(n_per_segment: int = 1000, seed: int = 11) -> np.ndarray:
    """Calm, jumpy, trending and calm again, one-step bars with pool activity that varies."""
    rng = np.random.default_rng(seed)
    n = 4 * n_per_segment
    r = rng.normal(0.0, 0.0008, n)
    jumpy = slice(n_per_segment, 2 * n_per_segment)
    r[jumpy] += np.where(rng.uniform(size=n_per_segment) < 0.01, rng.choice([-0.02, 0.02], n_per_segment), 0.0)
    r[2 * n_per_segment: 3 * n_per_segment] += 0.0004
    columns = np.zeros((n, N_COLUMNS))
    columns[:, LOG_RETURN] = r
    columns[:, LOG_HIGH] = np.maximum(r, 0.0) + 1e-4
    columns[:, LOG_LOW] = np.minimum(r, 0.0) - 1e-4
    columns[:, ACTIVITY] = rng.lognormal(0.0, 0.5, n)
    columns[:, GAS_USD] = 3.0
    return columns


def _hand_warm_up(log_returns: np.ndarray, volumes_usd: np.ndarray, agent, market) -> dict[str, float]:
    """The policy's memory update, by hand in NumPy (policy.remember with no band and no action)."""
    g = lambda name: float(getattr(agent, name))  # noqa: E731
    weights = np.diff(np.asarray(market.regime_cdf, np.float64), prepend=0.0)
    v0 = float(np.sum(np.asarray(market.vol_annual, np.float64) * weights)) ** 2 * float(market.dt_years)
    half_pi = np.sqrt(np.pi / 2.0)
    m = {"mean_abs_return": np.sqrt(v0) / half_pi, "mean_return": 0.0, "mean_sq_return": v0, "mean_sq_jump": 0.0,
         "var_short": v0, "var_long": v0, "robust_var_short": v0, "robust_var_long": v0,
         "mean_volume_usd": float(market.volume_usd_per_step), "steps_out_of_range": 0.0,
         "steps_since_action": 1e9, "steps_vol_high": 0.0, "steps_vol_low": 0.0}
    a, a_short, a_long = g("classifier_alpha"), g("vol_short_alpha"), g("vol_long_alpha")
    for r, volume in zip(log_returns, volumes_usd):
        threshold = g("jump_sigmas") * m["mean_abs_return"] * half_pi
        capped = min(r * r, threshold**2)
        m["mean_abs_return"] += a * (min(abs(r), threshold) - m["mean_abs_return"])
        m["mean_return"] += a * (r - m["mean_return"])
        m["mean_sq_return"] += a * (r * r - m["mean_sq_return"])
        m["mean_sq_jump"] += a * ((r * r if abs(r) > threshold else 0.0) - m["mean_sq_jump"])
        m["var_short"] += a_short * (r * r - m["var_short"])
        m["var_long"] += a_long * (r * r - m["var_long"])
        m["robust_var_short"] += a_short * (capped - m["robust_var_short"])
        m["robust_var_long"] += a_long * (capped - m["robust_var_long"])
        m["mean_volume_usd"] += a_long * (volume - m["mean_volume_usd"])
        m["steps_since_action"] += 1.0
        ratio = np.sqrt(m["robust_var_short"] / max(m["robust_var_long"], 1e-30))
        m["steps_vol_high"] = m["steps_vol_high"] + 1.0 if ratio > g("vol_widen_ratio") else 0.0
        m["steps_vol_low"] = m["steps_vol_low"] + 1.0 if ratio < g("vol_narrow_ratio") else 0.0
    return m


def _hand_regime(m: dict[str, float], agent) -> str:
    """The classifier's rule on a hand-run memory."""
    alpha = float(agent.classifier_alpha)
    variance = max(m["mean_sq_return"] - m["mean_return"] ** 2, 1e-30)
    t_stat = m["mean_return"] / np.sqrt(variance) * np.sqrt((2.0 - alpha) / alpha)
    if t_stat >= float(agent.trend_tstat):
        return "trend_up"
    return "jumpy" if m["mean_sq_jump"] / max(m["mean_sq_return"], 1e-30) >= float(agent.jumpy_variance_share) \
        else "mean_revert"


WARMUP_STEPS = 1440


def test_history__warm_up_memory_equals_a_hand_run_of_the_policy_update_over_the_bars_before_the_episode():
    from hbbatch.sim import history, precision

    world = _world(_regime_bars(), restart_prob=1 / 500)._replace(pool_levels=np.asarray([[1.7, 0.9]]))
    columns = world.bars.astype(np.float64)   # the bars as the world holds them
    with precision.scope():
        params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64) if np.issubdtype(np.asarray(x).dtype, np.floating)
                              else jnp.asarray(x), make_params(dtype="float64")._replace(world=world))
        reset = jax.jit(jax.vmap(lambda e: history.reset(jnp.uint32(5), e, params, "online", WARMUP_STEPS)[:2]))
        state, cursor = reset(jnp.arange(40, dtype=jnp.uint32))
    first = np.asarray(cursor.bar)
    assert (first < WARMUP_STEPS).any() and (first >= WARMUP_STEPS).any()   # both kinds of start drawn
    volume_per_step = float(params.market.volume_usd_per_step) * 1.7
    classified = []
    for e, bar in enumerate(first):
        before = slice(max(bar - WARMUP_STEPS, 0), bar)   # near the history's start: the bars there are
        expected = _hand_warm_up(columns[before, LOG_RETURN], volume_per_step * columns[before, ACTIVITY],
                                 params.agent, params.market)
        for name, value in expected.items():
            assert float(getattr(state.memory, name)[e]) == pytest.approx(value, rel=1e-9, abs=1e-15), (e, name)
        classified.append(_hand_regime(expected, params.agent))
    assert {"jumpy", "trend_up"} <= set(classified)   # the opening decisions see the dates before them


def test_history__warm_up_sets_the_first_decisions_regime_and_leaves_the_market_path_unchanged():
    from hbbatch.sim import history
    from hbbatch.sim.types import REGIMES

    world = _world(_regime_bars(), restart_prob=1 / 500)
    params = make_params()._replace(world=world)
    spec = RolloutSpec(n_episodes=32, n_steps=64, record_path=True)
    cold = simulate(spec, params, seed=5)
    warm = simulate(RolloutSpec(n_episodes=32, n_steps=64, record_path=True, warmup_steps=WARMUP_STEPS), params, seed=5)
    np.testing.assert_array_equal(cold.path.price_usd, warm.path.price_usd)   # common random numbers
    np.testing.assert_array_equal(cold.path.volume_usd, warm.path.volume_usd)
    assert (cold.path.regime_estimate[:, 0] == REGIMES.index("mean_revert")).all()   # the prior, by construction
    first = warm.path.regime_estimate[:, 0]
    assert (first != REGIMES.index("mean_revert")).any()
    # a coarser bar: the whole bars before the first are bridged into the warm-up, the path still the same
    halves = np.array([[0.0, 0.5, 0.5, 1.0], [0.0, 0.2, 0.9, 1.0]])   # profiled: the profile draws too
    coarse = make_params()._replace(world=_world(_regime_bars(), restart_prob=1 / 50, k=60, profiles=halves))
    a = simulate(RolloutSpec(n_episodes=8, n_steps=120, record_path=True), coarse, seed=5)
    b = simulate(RolloutSpec(n_episodes=8, n_steps=120, record_path=True, warmup_steps=WARMUP_STEPS), coarse, seed=5)
    np.testing.assert_array_equal(a.path.price_usd, b.path.price_usd)
    traced = jax.tree.map(jnp.asarray, coarse)
    reset = jax.jit(jax.vmap(lambda e: history.reset(jnp.uint32(5), e, traced, "online", WARMUP_STEPS)[:2]))
    state, cursor = reset(jnp.arange(8, dtype=jnp.uint32))
    assert (np.asarray(cursor.bar) >= WARMUP_STEPS // 60).all()
    # these bars move about 1e-4 a minute against the prior's 7.6e-4: a day of them pulls the estimate down
    prior_variance = float(params.market.vol_annual[0]) ** 2 * float(params.market.dt_years)
    assert np.all(np.asarray(state.memory.var_short) < 0.1 * prior_variance)


def test_history__the_opening_band_pays_the_gas_of_the_episodes_first_bar():
    # replay windows start on known bars: each window's opening band pays that bar's gas times the world's
    # scale, not the parametric market's median (market.gas_usd_median, $70.11 by default)
    columns = _bars(400, seed=11)
    columns[:, GAS_USD] = np.arange(400) * 0.01 + 1.0
    spec = RolloutSpec(n_episodes=4, n_steps=100)
    world = _world(columns, window_bars=100)._replace(gas_scale=np.float32(2.0))
    quiet = {"rules": {"enabled": []}}   # the opening band is the only action
    result = simulate(spec, make_params(agent=quiet)._replace(world=world), seed=3)
    np.testing.assert_allclose(result.episodes["gas_usd"], 2.0 * columns[[0, 100, 200, 300], GAS_USD], rtol=1e-6)
