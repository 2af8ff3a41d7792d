"""The market: regime per episode, log-price step per regime, pool volume, competing liquidity, world gas.

Everything here is a function of the episode's constants and the step's uniforms, never of the agent.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from hbbatch.sim import noise
from hbbatch.sim.types import MarketParams, RegimeDynamics

MINUTES_PER_YEAR = 525_600.0
DAYS_PER_YEAR = 365.0
N_UNIFORMS = 6  # price normal, gas normal, jump-size normal, volume normal, jump flag, spell switch


class MarketMove(NamedTuple):
    log_return: jax.Array          # () total move of ln P this step
    variance_per_step: jax.Array   # () instantaneous variance of ln P this step (what LVR integrates)
    volume_usd: jax.Array          # ()
    gas_noise: jax.Array           # () standard normal for the gas actually paid this step
    gas_spell: jax.Array           # () bool after this step's switch
    pool_liquidity: jax.Array      # () competing active liquidity during the step


def draw_regime(regime_uniform: jax.Array, regime_cdf: jax.Array) -> jax.Array:
    """Inverse CDF of the mix at one uniform: two mixes share regimes wherever their CDFs overlap."""
    return jnp.minimum(jnp.sum(regime_uniform >= regime_cdf), regime_cdf.shape[0] - 1).astype(jnp.int32)


def draw_pool_liquidity(pool_normal: jax.Array, market: MarketParams) -> jax.Array:
    """Competing active liquidity for the episode: lognormal with median `pool_liquidity`."""
    return market.pool_liquidity * jnp.exp(market.pool_liquidity_dispersion * pool_normal)


def regime_dynamics(regime: jax.Array, market: MarketParams) -> RegimeDynamics:
    """Per-step numbers of the episode's regime process."""
    dt = market.dt_years
    sigma = market.vol_annual[regime]
    jump_prob = market.jumps_per_day[regime] * DAYS_PER_YEAR * dt
    jump_std = market.jump_size_std[regime]
    # Compensate drift so E[P_{t+1} | P_t] = P_t e^{drift dt}: drift 0 is a martingale price.
    jump_compensation = jump_prob * (jnp.exp(0.5 * jump_std**2) - 1.0)
    return RegimeDynamics(
        vol_annual=sigma, sigma_sqrt_dt=sigma * jnp.sqrt(dt),
        log_drift_per_step=(market.drift_annual[regime] - 0.5 * sigma**2) * dt - jump_compensation,
        reversion_per_step=market.mean_reversion_per_day[regime] * DAYS_PER_YEAR * dt,
        jump_prob=jump_prob, jump_size_std=jump_std)


class Draws(NamedTuple):
    """One step's random numbers: a function of (episode key, step) only."""

    z_price: jax.Array             # () standard normal
    z_gas: jax.Array               # ()
    z_jump: jax.Array              # ()
    z_volume: jax.Array            # ()
    u_jump: jax.Array              # () uniform
    u_spell: jax.Array             # ()


def draw(counter_key: jax.Array, t: jax.Array, dtype) -> Draws:
    u = noise.uniforms(counter_key, t, N_UNIFORMS, dtype)
    z_price, z_gas = noise.normal_pair(u[0], u[1])
    z_jump, z_volume = noise.normal_pair(u[2], u[3])
    return Draws(z_price=z_price, z_gas=z_gas, z_jump=z_jump, z_volume=z_volume, u_jump=u[4], u_spell=u[5])


def move(draws: Draws, log_price: jax.Array, gas_spell: jax.Array, dynamics: RegimeDynamics,
         pool_liquidity: jax.Array, market: MarketParams) -> MarketMove:
    """One step of the world: mean-reverting, drifting or jumping log price; volume; gas spell."""
    diffusive = dynamics.sigma_sqrt_dt * draws.z_price
    jump = jnp.where(draws.u_jump < dynamics.jump_prob, dynamics.jump_size_std * draws.z_jump, 0.0)
    log_return = dynamics.log_drift_per_step - dynamics.reversion_per_step * log_price + diffusive + jump
    # Volume: steady flow plus a part proportional to |move|, normalised to a mean of 1 at the reference vol.
    ref_abs_move = market.volume_ref_vol_annual * jnp.sqrt(market.dt_years * (2.0 / jnp.pi))
    activity = (1.0 - market.volume_vol_share) + market.volume_vol_share * jnp.abs(diffusive + jump) / ref_abs_move
    volume = market.volume_usd_per_step * activity * jnp.exp(0.3 * draws.z_volume - 0.045)
    switch = jnp.where(gas_spell, draws.u_spell < market.gas_spell_exit_prob, draws.u_spell < market.gas_spell_enter_prob)
    return MarketMove(log_return=log_return, variance_per_step=dynamics.sigma_sqrt_dt**2, volume_usd=volume,
                      gas_noise=draws.z_gas,
                      gas_spell=jnp.logical_xor(gas_spell, switch), pool_liquidity=pool_liquidity)


def gas_paid_usd(gas_noise: jax.Array, gas_spell: jax.Array, market: MarketParams) -> jax.Array:
    """The world's cost of one action: lognormal around the median, times the spell multiplier."""
    spell = jnp.where(gas_spell, market.gas_spell_multiplier, 1.0)
    return market.gas_usd_median * jnp.exp(market.gas_dispersion * gas_noise) * spell
