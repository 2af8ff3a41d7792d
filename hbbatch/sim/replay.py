"""Run the agent over a given price path (real bars, shadow mode) instead of a simulated one.

Same `env.advance` (policy, rails, execution) as the simulator: only the source of each step's MarketMove differs. The world's
gas is the median (no spell) since real bars carry no gas draw.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from hbbatch.sim import env, metrics, precision, price
from hbbatch.sim.price import MarketMove
from hbbatch.sim.types import SimParams, StepRecord


class Bars(NamedTuple):
    log_return: jax.Array       # (n_steps,) ln(close_t / close_{t-1}); the first bar opens at price_start_usd
    volume_usd: jax.Array       # (n_steps,)
    pool_liquidity: jax.Array   # (n_steps,) active liquidity in sqrt(ETH*USD)


def replay(bars: Bars, params: SimParams, gating: str = "ev") -> tuple[dict[str, jax.Array], StepRecord]:
    """Metrics of one episode over `bars`, and its per-step record. Real bars have no true regime: the
    agent uses its online classifier, and the metrics carry no `regime`. float64 bars stay float64."""
    with precision.scope():
        return _replay(bars, params, gating)


@functools.partial(jax.jit, static_argnames=("gating",))
def _replay(bars: Bars, params: SimParams, gating: str) -> tuple[dict[str, jax.Array], StepRecord]:
    classifier = "online"
    state = env.reset(jnp.uint32(0), jnp.uint32(0), params, classifier, pool_liquidity=bars.pool_liquidity[0])
    zero = jnp.zeros_like(bars.volume_usd[0])
    gas_usd = price.gas_paid_usd(zero, jnp.zeros((), bool), params.market)   # the median: no gas draw on real bars

    def body(carry, bar):
        log_return, volume_usd, pool_liquidity = bar
        world = MarketMove(log_return=log_return, variance_per_step=log_return**2, volume_usd=volume_usd,
                           gas_noise=zero, gas_spell=jnp.zeros((), bool), pool_liquidity=pool_liquidity,
                           gas_usd=gas_usd, log_high=jnp.maximum(log_return, 0.0),
                           log_low=jnp.minimum(log_return, 0.0), lp_fee_rate=params.market.fee_rate)
        return env.advance(carry, world, params, gating, classifier)

    final, path = jax.lax.scan(body, state, (bars.log_return, bars.volume_usd, bars.pool_liquidity))
    episode = metrics.episode_metrics(final, params)
    del episode["regime"]  # drawn from the mix by reset: meaningless for real bars
    return episode, path
