"""Run the agent over a given price path (real bars, shadow mode) instead of a simulated one.

Same `env.advance` (policy, rails, execution) as the simulator: only the source of each step's MarketMove differs. The world's
gas is the median (no spell) since real bars carry no gas draw.

Warm-up (`warmup_steps`, static): the first `warmup_steps` bars are observed only, as a historical episode
observes the real bars before its first: each is folded into the policy's memory by `env.warm_up` (the same
`policy.remember`, no band, never out of range, no action), through `env.reset` with `observed_warmup` as the
world before the episode. They hold no band, take no action and earn nothing; the band opens after them at
`params.market.price_start_usd`, which the caller sets to the price at the last warm-up bar's close
(`hbbatch.shadow.bars.to_bars` does), and the metrics and the record cover the bars after them.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from hbbatch.sim import env, metrics, precision, price
from hbbatch.sim.price import MarketMove
from hbbatch.sim.types import SimParams, SimState, StepRecord


class Bars(NamedTuple):
    log_return: jax.Array       # (n_steps,) ln(close_t / close_{t-1}); the first bar opens at price_start_usd
    volume_usd: jax.Array       # (n_steps,)
    pool_liquidity: jax.Array   # (n_steps,) active liquidity in sqrt(ETH*USD)


def observed_move(log_return: jax.Array, volume_usd: jax.Array, pool_liquidity: jax.Array, gas_usd: jax.Array,
                  fee_rate: jax.Array) -> MarketMove:
    """One observed step as the world's move: LVR from the realised squared return, the step's range from its
    return alone (a bar's close is all the policy sees), no gas draw."""
    zero = jnp.zeros_like(log_return)
    return MarketMove(log_return=log_return, variance_per_step=log_return**2, volume_usd=volume_usd,
                      gas_noise=zero, gas_spell=jnp.zeros((), bool), pool_liquidity=pool_liquidity,
                      gas_usd=gas_usd, log_high=jnp.maximum(log_return, 0.0), log_low=jnp.minimum(log_return, 0.0),
                      lp_fee_rate=fee_rate)


def observed_warmup(log_return: jax.Array, volume_usd: jax.Array) -> env.WarmupWorld:
    """The world before an episode as moves already observed, for `env.warm_up`: step j is (log_return[j],
    volume_usd[j]), every one seen (the memory folds only the return and the pool's volume)."""
    log_return, volume_usd = jnp.asarray(log_return), jnp.asarray(volume_usd)
    zero = jnp.zeros((), log_return.dtype)

    def step(carry, draws, j):
        r, v = draws
        return carry, observed_move(r, v, zero, zero, zero), jnp.ones((), bool)

    return env.WarmupWorld(draw=lambda j: (log_return[j], volume_usd[j]), step=step, carry=())


def opening_state(params: SimParams, pool_liquidity: jax.Array, warmup_log_return: jax.Array,
                  warmup_volume_usd: jax.Array, classifier: str = "online",
                  opening_gas_usd: jax.Array | None = None) -> SimState:
    """The state at the first decision over observed moves: the policy's memory warmed up on the
    `len(warmup_log_return)` (static) observed steps before it, then the band opened as `env.reset` opens it,
    paying `opening_gas_usd` where the gas at the open was observed (None: the market's median)."""
    n_steps = int(warmup_log_return.shape[0])
    return env.reset(jnp.uint32(0), jnp.uint32(0), params, classifier, pool_liquidity=pool_liquidity,
                     warmup_steps=n_steps, warmup_world=observed_warmup(warmup_log_return, warmup_volume_usd),
                     opening_gas_usd=opening_gas_usd)


def replay(bars: Bars, params: SimParams, gating: str = "ev",
           warmup_steps: int = 0) -> tuple[dict[str, jax.Array], StepRecord]:
    """Metrics of one episode over `bars`, and its per-step record. Real bars have no true regime: the
    agent uses its online classifier, and the metrics carry no `regime`. float64 bars stay float64.
    The first `warmup_steps` bars only warm the policy's memory up (module docstring): the metrics and the
    record cover the `len(bars) - warmup_steps` after them, and the metrics carry `warmup_steps`."""
    warmup_steps, n_bars = int(warmup_steps), int(bars.log_return.shape[0])
    if not 0 <= warmup_steps < n_bars:
        raise ValueError(f"warmup_steps={warmup_steps}: the replay needs more bars than its warm-up "
                         f"({n_bars} given)")
    with precision.scope():
        episode, path = _replay(bars, params, gating, warmup_steps)
    return {**episode, "warmup_steps": jnp.asarray(warmup_steps, jnp.int32)}, path


@functools.partial(jax.jit, static_argnames=("gating", "warmup_steps"))
def _replay(bars: Bars, params: SimParams, gating: str, warmup_steps: int) -> tuple[dict[str, jax.Array], StepRecord]:
    classifier = "online"
    before = jax.tree.map(lambda a: a[:warmup_steps], bars)
    episode_bars = jax.tree.map(lambda a: a[warmup_steps:], bars)
    state = opening_state(params, episode_bars.pool_liquidity[0], before.log_return, before.volume_usd, classifier)
    zero = jnp.zeros_like(bars.volume_usd[0])
    gas_usd = price.gas_paid_usd(zero, jnp.zeros((), bool), params.market)   # the median: no gas draw on real bars

    def body(carry, bar):
        log_return, volume_usd, pool_liquidity = bar
        world = observed_move(log_return, volume_usd, pool_liquidity, gas_usd, params.market.fee_rate)
        return env.advance(carry, world, params, gating, classifier)

    final, path = jax.lax.scan(body, state, tuple(episode_bars))
    episode = metrics.episode_metrics(final, params)
    del episode["regime"]  # drawn from the mix by reset: meaningless for real bars
    return episode, path
