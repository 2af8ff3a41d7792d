"""Observations from plain market values, for driving the policy outside the simulator.

Shadow mode and the replay of real bars build the bot's view of each bar here and then call the
same functions the simulator does:

    obs = observation.build(price_usd=2301.5, reference_price_usd=2270.0, position=held, cash_usd=1_250.0,
                            pool_liquidity=1.2e7, gas_usd=3.1, fee_rate=0.0005, tick_spacing=10, step=t)
    action = policy.act(obs, memory, params.agent)              # what the bot asks for
    action, why = rails.apply(action, obs, rail_state, params.agent)   # what goes ahead
    ... execute `action` (paper or live), then after the bar closes:
    memory = policy.remember(memory, log_return, volume_usd, out_of_range, why.acted, params.agent)
    rail_state = rails.update(rail_state, why, obs.step, gas_paid_usd, equity_usd, params.agent)

Ticks are relative to a reference price on the tick grid (the simulator uses the episode's opening
price): a band [tick_lower, tick_upper] is [P_ref 1.0001^tick_lower, P_ref 1.0001^tick_upper].
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from hbbatch.sim import pool
from hbbatch.sim.types import Observation, Position


def build(price_usd, reference_price_usd, position: Position, cash_usd, pool_liquidity, gas_usd, fee_rate,
          tick_spacing, step, true_regime=-1, dtype=None) -> Observation:
    """The bot's view of one bar: the pool price (USD per ETH) when it decides, the position held
    (`policy.make_position`, ticks relative to `reference_price_usd`), idle cash, the pool's active
    liquidity (sqrt(ETH*USD)), the quoted gas of one action (USD), the fee tier, the tick spacing and
    the bar's index (the rails' clock). `true_regime` stays -1 on real data."""
    dtype = dtype or jnp.asarray(position.liquidity).dtype
    f = lambda x: jnp.asarray(x, dtype)  # noqa: E731
    price = f(price_usd)
    sqrt_price = jnp.sqrt(price)
    value = position.liquidity * pool.value_per_liquidity(sqrt_price, position.sqrt_lower, position.sqrt_upper)
    return Observation(step=f(step), log_price=jnp.log(price / f(reference_price_usd)), sqrt_price=sqrt_price,
                       sqrt_price_ref=jnp.sqrt(f(reference_price_usd)), position=position, value_usd=value,
                       equity_usd=value + f(cash_usd), pool_liquidity=f(pool_liquidity), gas_usd=f(gas_usd),
                       fee_rate=f(fee_rate), tick_spacing=f(tick_spacing), true_regime=jnp.asarray(true_regime, jnp.int32))


def reference_price_usd(price_usd: float, tick_spacing: int) -> float:
    """A price snapped to the tick grid: the reference that relative ticks count from."""
    tick = round(math.log(price_usd) / pool.LOG_TICK / tick_spacing) * tick_spacing
    return math.exp(tick * pool.LOG_TICK)

