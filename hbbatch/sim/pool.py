"""Uniswap v3 position math in floats (JAX): amounts, value, liquidity for a value, fees, swap cost.

The same formulas as `hbbatch.uniswap` (exact integers), in human units: price P in USD per ETH,
tick t <-> P = 1.0001^t, liquidity L in sqrt(ETH*USD). Agreement to 1e-9 in float64 is tested.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

LOG_TICK = 9.999500033330834e-05  # ln(1.0001)


def sqrt_price_at_tick(tick: jax.Array) -> jax.Array:
    return jnp.exp(0.5 * LOG_TICK * tick)


def tick_at_log_price(log_price: jax.Array) -> jax.Array:
    """The (fractional) tick of a log price; floor it for the pool's current tick."""
    return log_price / LOG_TICK


def amounts_for_liquidity(sqrt_price: jax.Array, sqrt_lower: jax.Array, sqrt_upper: jax.Array,
                          liquidity: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(ETH, USD) held by `liquidity` on [lower, upper] at `sqrt_price` (getAmountsForLiquidity)."""
    s = jnp.clip(sqrt_price, sqrt_lower, sqrt_upper)
    return liquidity * (1.0 / s - 1.0 / sqrt_upper), liquidity * (s - sqrt_lower)


def value_per_liquidity(sqrt_price: jax.Array, sqrt_lower: jax.Array, sqrt_upper: jax.Array) -> jax.Array:
    """USD value of one unit of liquidity on the band at this price."""
    eth, usd = amounts_for_liquidity(sqrt_price, sqrt_lower, sqrt_upper, 1.0)
    return eth * sqrt_price**2 + usd


def liquidity_for_amounts(sqrt_price: jax.Array, sqrt_lower: jax.Array, sqrt_upper: jax.Array,
                          amount_eth: jax.Array, amount_usd: jax.Array) -> jax.Array:
    """The most liquidity the amounts can mint (getLiquidityForAmounts)."""
    l_from_eth = amount_eth / (1.0 / jnp.maximum(sqrt_price, sqrt_lower) - 1.0 / sqrt_upper)
    l_from_usd = amount_usd / (jnp.minimum(sqrt_price, sqrt_upper) - sqrt_lower)
    return jnp.where(sqrt_price <= sqrt_lower, l_from_eth,
                     jnp.where(sqrt_price >= sqrt_upper, l_from_usd, jnp.minimum(l_from_eth, l_from_usd)))


def in_range_fraction(log_price_from: jax.Array, log_price_to: jax.Array,
                      log_lower: jax.Array, log_upper: jax.Array) -> jax.Array:
    """The part of a step's move (in log price) that lies inside the band; 1 or 0 for no move."""
    lo = jnp.minimum(log_price_from, log_price_to)
    hi = jnp.maximum(log_price_from, log_price_to)
    overlap = jnp.clip(jnp.minimum(hi, log_upper) - jnp.maximum(lo, log_lower), 0.0, None)
    span = hi - lo
    inside_now = (log_price_from >= log_lower) & (log_price_from < log_upper)
    return jnp.where(span > 0.0, overlap / jnp.where(span > 0.0, span, 1.0), inside_now.astype(span.dtype))


def fees_usd(fee_rate: jax.Array, volume_usd: jax.Array, liquidity: jax.Array, pool_liquidity: jax.Array,
             fraction_in_range: jax.Array) -> jax.Array:
    """Fee income: fee_rate x volume x share of active liquidity x part of the move inside the band."""
    share = liquidity / (liquidity + pool_liquidity)
    return fee_rate * volume_usd * share * fraction_in_range


def swap_cost_usd(swap_usd: jax.Array, fee_rate: jax.Array, sqrt_price: jax.Array,
                  pool_liquidity: jax.Array) -> jax.Array:
    """Pool fee plus price impact of swapping `swap_usd` against active liquidity L (within one range:
    the price moves by d(sqrt P) = dy / L, so average slippage is dy / (L sqrt P) of the amount)."""
    swap_usd = jnp.abs(swap_usd)
    return swap_usd * (fee_rate + swap_usd / (pool_liquidity * sqrt_price))


def lvr_usd(sqrt_from: jax.Array, sqrt_to: jax.Array, sqrt_lower: jax.Array, sqrt_upper: jax.Array,
            liquidity: jax.Array) -> jax.Array:
    """Loss-versus-rebalancing of one realised move: what the position lost against holding, from the
    move's start, the ETH it held then (x(P0) (P1 - P0) - (V(P1) - V(P0))). Exact for any move, jumps
    and moves across an edge included: with a = clip(sqrt P0), c = clip(sqrt P1) to the band,
        LVR = L [(c - a)^2 / a + (1/a - 1/c) (P1 - c^2)],
    which for a small move inside the band is L sqrt(P) r^2 / 4, the sigma^2 L sqrt(P) / 4 dt of
    lp_theory.md with the realised squared return in place of sigma^2 dt. Written without differences
    of large values, so float32 keeps it."""
    a = jnp.clip(sqrt_from, sqrt_lower, sqrt_upper)
    c = jnp.clip(sqrt_to, sqrt_lower, sqrt_upper)
    step = c - a
    beyond = (sqrt_to - c) * (sqrt_to + c)           # P1 - c^2: nonzero only past an edge
    return liquidity * (step * step / a + step / (a * c) * beyond)
