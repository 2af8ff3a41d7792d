"""Executing an action at the current price, and accruing fees and LVR over the step's move.

`execute` pays the action's gas and swap cost and mints the new position; `accrue` moves the price
over the band now held: fees by share of active liquidity and the part of the move inside the band,
LVR while in range, and the equity at the new price.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from hbbatch.sim import pool
from hbbatch.sim.price import MarketMove
from hbbatch.sim.rails import RailOutcome
from hbbatch.sim.types import Action, Observation, Position


class Fill(NamedTuple):
    position: Position         # held after the action
    cash_usd: jax.Array        # () after gas, swap cost and the value moved in or out of the position
    gas_usd: jax.Array         # () paid
    swap_cost_usd: jax.Array   # () paid


class Accrual(NamedTuple):
    log_price: jax.Array       # () after the move
    sqrt_price: jax.Array      # ()
    fees_usd: jax.Array        # () earned over the move
    lvr_usd: jax.Array         # ()
    in_range: jax.Array        # () bool: in range when the step began (time in range)
    out_of_range: jax.Array    # () bool: the whole step out of range (the out-of-range clock)
    cash_usd: jax.Array        # () the fill's cash plus the fees
    equity_usd: jax.Array      # () position value at the new price plus cash (fees included)


def position_value_usd(position: Position, sqrt_price: jax.Array) -> jax.Array:
    return position.liquidity * pool.value_per_liquidity(sqrt_price, position.sqrt_lower, position.sqrt_upper)


def execute(observation: Observation, action: Action, outcome: RailOutcome, cash_usd: jax.Array) -> Fill:
    """The filtered action at the observed price: a rebalance burns the held position and mints the new
    one (paying the action's swap cost), an exit sells the ETH to USD; both pay the quoted gas."""
    obs = observation
    held = obs.position
    eth_held, _ = pool.amounts_for_liquidity(obs.sqrt_price, held.sqrt_lower, held.sqrt_upper, held.liquidity)
    exit_cost = pool.swap_cost_usd(eth_held * obs.sqrt_price**2, obs.fee_rate, obs.sqrt_price, obs.pool_liquidity)
    gas = jnp.where(outcome.acted, obs.gas_usd, 0.0)
    swap_cost = jnp.where(outcome.exit, exit_cost, jnp.where(outcome.rebalance, action.swap_cost_usd, 0.0))
    new = action.position
    new_value = new.liquidity * pool.value_per_liquidity(obs.sqrt_price, new.sqrt_lower, new.sqrt_upper)
    value_after = jnp.where(outcome.rebalance, new_value, jnp.where(outcome.exit, 0.0, obs.value_usd))
    cash = cash_usd + (obs.value_usd - value_after) - gas - swap_cost
    return Fill(position=new, cash_usd=cash, gas_usd=gas, swap_cost_usd=swap_cost)


def accrue(fill: Fill, observation: Observation, world: MarketMove) -> Accrual:
    """The world's move over the position now held."""
    obs, position = observation, fill.position
    log_price = obs.log_price + world.log_return
    log_lower, log_upper = position.tick_lower * pool.LOG_TICK, position.tick_upper * pool.LOG_TICK
    # the step's range [low, high] (a coarse bar's own extremes): the share of it inside the band earns fees,
    # at the rate LPs keep (below the pool's fee under a fee switch)
    fraction_in = pool.in_range_fraction(obs.log_price + world.log_low, obs.log_price + world.log_high,
                                         log_lower, log_upper)
    fees = pool.fees_usd(world.lp_fee_rate, world.volume_usd, position.liquidity, world.pool_liquidity, fraction_in)
    in_range = (obs.log_price >= log_lower) & (obs.log_price < log_upper) & (position.liquidity > 0)
    sqrt_price = obs.sqrt_price_ref * jnp.exp(0.5 * log_price)  # from log_price: no float32 drift
    cash = fill.cash_usd + fees
    # LVR of the realised move (jumps included): the loss against rebalancing at the step's start
    lvr = pool.lvr_usd(obs.sqrt_price, sqrt_price, position.sqrt_lower, position.sqrt_upper, position.liquidity)
    # Out of range for the whole step: judged on the bar's high-low range where the world gives one (a
    # coarse bar whose close is outside may have traded inside the band), else on the close.
    has_range = hasattr(world, "log_high") and hasattr(world, "log_low")
    high = obs.log_price + world.log_high if has_range else log_price
    low = obs.log_price + world.log_low if has_range else log_price
    out_of_range = ((high < log_lower) | (low >= log_upper)) & (position.liquidity > 0)
    return Accrual(log_price=log_price, sqrt_price=sqrt_price, fees_usd=fees, lvr_usd=lvr, in_range=in_range,
                   out_of_range=out_of_range,
                   cash_usd=cash, equity_usd=position_value_usd(position, sqrt_price) + cash)
