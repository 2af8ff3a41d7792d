"""The world's market alone: each episode's price, pool volume, gas and active liquidity per step, without the agent.

By common random numbers a market path depends only on (seed, episode index, world), so these are the
paths the rollout's episodes see (`rollout.simulate` with `record_path`), from the same pieces: the
episode's opening from `env.reset` (or `history.reset` in a historical world) and each step's move from
`env.world_move` (or `history.move`); only the bot's part of the step is left out, which makes a world's
sample (hbbatch.worlds.validation) about a quarter of the rollout's cost.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hbbatch.sim import env, history, noise, precision, price
from hbbatch.sim.rollout import MAX_EPISODE_INDEX, cast_params
from hbbatch.sim.types import RolloutSpec, SimParams


class MarketPath(NamedTuple):
    """Per episode and step, as `StepRecord`'s fields of the same names; the opening price per episode."""

    price_start_usd: jax.Array    # (n_episodes,)
    price_usd: jax.Array          # (n_episodes, n_steps) after each step's move
    volume_usd: jax.Array
    gas_usd: jax.Array
    pool_liquidity: jax.Array
    lp_fee_rate: jax.Array        # the fee LPs earn per unit of volume (a fee switch keeps part of it)


def _parametric_episode(seed: jax.Array, episode: jax.Array, params: SimParams, spec: RolloutSpec):
    state = env.reset(seed, episode, params, spec.classifier)
    key, ref = state.episode.counter_key, state.episode.sqrt_price_start

    def step(state, t):
        world, market = env.world_move(price.draw(key, t, state.log_price.dtype), state, params)
        log_price = state.log_price + world.log_return
        state = state._replace(t=state.t + 1, log_price=log_price, gas_spell=world.gas_spell, market=market)
        return state, ((ref * jnp.exp(0.5 * log_price)) ** 2, world.volume_usd, world.gas_usd, world.pool_liquidity,
                       world.lp_fee_rate)

    return ref**2, jax.lax.scan(step, state, jnp.arange(spec.n_steps, dtype=jnp.int32))[1]


def _historical_episode(seed: jax.Array, episode: jax.Array, params: SimParams, spec: RolloutSpec):
    state, cursor, world_step = history.reset(seed, episode, params, spec.classifier)
    key, ref = state.episode.counter_key, state.episode.sqrt_price_start

    def step(carry, t):
        cursor, log_price = carry
        cursor, move = world_step(cursor, history.draw(key, t, log_price.dtype))
        log_price = log_price + move.log_return
        return (cursor, log_price), ((ref * jnp.exp(0.5 * log_price)) ** 2, move.volume_usd, move.gas_usd,
                                     move.pool_liquidity, move.lp_fee_rate)

    return ref**2, jax.lax.scan(step, (cursor, state.log_price), jnp.arange(spec.n_steps, dtype=jnp.int32))[1]


@functools.lru_cache(maxsize=8)
def _compiled(spec: RolloutSpec, historical: bool):
    episode = _historical_episode if historical else _parametric_episode
    return jax.jit(jax.vmap(functools.partial(episode, spec=spec), in_axes=(None, 0, None)))


def market_paths(spec: RolloutSpec, params: SimParams, seed: int, episode_offset: int = 0) -> MarketPath:
    """Host arrays of episodes `episode_offset ..` of `spec.n_episodes` x `spec.n_steps` (the spec's
    sizes, dtype and world; its agent settings change nothing here)."""
    if not (0 <= episode_offset and episode_offset + spec.n_episodes <= MAX_EPISODE_INDEX):
        raise ValueError(f"episodes {episode_offset}..{episode_offset + spec.n_episodes - 1}: "
                         f"episode indices must lie in [0, 2^32)")
    spec = dataclasses.replace(spec, record_path=False, warmup_steps=0)   # neither changes the market
    with precision.scope():
        historical = isinstance(params.world, history.HistoryParams)   # else parametric: a level table or none
        fn = _compiled(spec, historical)
        episodes = jnp.asarray(np.arange(episode_offset, episode_offset + spec.n_episodes, dtype=np.uint32))
        start, steps = fn(jnp.asarray(noise.seed_words(seed)), episodes, cast_params(params, spec.dtype))
        return MarketPath(*jax.device_get((start, *steps)))
