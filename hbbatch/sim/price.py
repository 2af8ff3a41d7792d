"""The parametric (`regimes`) world: regime per episode, log-price step, pool volume, competing liquidity, gas.

Everything here is a function of the episode's constants, the market's own state and the step's
uniforms, never of the agent.

The log price moves by drift, an optional OU pull, a diffusive part and jumps. Their variance is a
GARCH(1,1) process fitted on hourly returns (hbbatch/calibration/world.py): the market carries h, the
conditional variance of the current hour's innovation (diffusion and jumps together, as the fit sees
returns), and the innovation accumulated since the hour began; at each hour's end
h <- omega + alpha e^2 + beta h. The regime's numbers (`vol_annual`, `jumps_per_day`, `jump_size_std`)
describe an hour at its long-run variance V = vol^2 / 8760 + jumps per hour x jump size^2; at variance h
both the diffusion's variance and the jumps' sizes are scaled by h / V (the fit's standardised residuals
are one mixture whatever h is), and omega = (1 - alpha - beta) V keeps V the long-run level.
With alpha = beta = 0, h = V: constant volatility and fixed jump sizes, the model before clustering.

Levels per episode (`LevelTable`, the `regimes` world: hbbatch/worlds/levels.py): each episode draws one
real day of the pool history and takes from it its active liquidity, the slow level of its volatility
(V times the day's variance multiple: the GARCH runs around it), the GARCH's conditional variance to
open at, the hour of the week it opens at (each hour's variance profile scales the step), and the
day's gas per action; its pool volume walks the calendar from that day (day j: the real day d + j's
volume, net of its |return|-driven activity). The volume's |return| share and the gas's volatility tie
are relative to the episode's own level. Without a table (unit tests, the planner's model)
every episode sits at the reference day's levels of MarketConf, with a lognormal liquidity and start
variance, and lognormal gas noise per action.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from hbbatch.sim import noise, once
from hbbatch.sim.types import MarketParams, MarketState, RegimeDynamics

MINUTES_PER_YEAR = 525_600.0
DAYS_PER_YEAR = 365.0
HOURS_PER_YEAR = 8760.0
N_UNIFORMS = 6  # price normal, gas normal, jump-size normal, volume normal, jump flag, spell switch
N_EPISODE_UNIFORMS = 6  # regime, pool-liquidity and drift normals (a pair), start-variance normal (a pair), level day
# Columns of LevelTable.days
VOLUME_MULTIPLE, LIQUIDITY_MULTIPLE, VARIANCE_MULTIPLE, START_VARIANCE_RATIO, GAS_USD, WEEK_HOUR = range(6)
N_LEVEL_COLUMNS = 6
HOURS_PER_WEEK = 168


class MarketMove(NamedTuple):
    log_return: jax.Array          # () total move of ln P this step
    variance_per_step: jax.Array   # () instantaneous diffusive variance of ln P this step (model's; jumps aside)
    volume_usd: jax.Array          # ()
    gas_noise: jax.Array           # () standard normal for the gas actually paid this step
    gas_spell: jax.Array           # () bool after this step's switch
    pool_liquidity: jax.Array      # () competing active liquidity during the step
    gas_usd: jax.Array             # () the world's cost of one action this step (quoted before the move)
    log_high: jax.Array            # () highest ln P in the step, relative to its start (>= max(0, log_return))
    log_low: jax.Array             # () lowest ln P in the step, relative to its start (<= min(0, log_return))
    lp_fee_rate: jax.Array         # () the fee LPs earn per unit of volume (below fee_rate under a fee switch)


def draw_regime(regime_uniform: jax.Array, regime_cdf: jax.Array) -> jax.Array:
    """Inverse CDF of the mix at one uniform: two mixes share regimes wherever their CDFs overlap."""
    return jnp.minimum(jnp.sum(regime_uniform >= regime_cdf), regime_cdf.shape[0] - 1).astype(jnp.int32)


def draw_pool_liquidity(pool_normal: jax.Array, market: MarketParams) -> jax.Array:
    """Competing active liquidity for the episode: lognormal with median `pool_liquidity`."""
    return market.pool_liquidity * jnp.exp(market.pool_liquidity_dispersion * pool_normal)


class EpisodeDraws(NamedTuple):
    """The episode's own random numbers (step -1 of the counter hash: never reused by a step)."""

    regime_uniform: jax.Array      # ()
    pool_normal: jax.Array         # ()
    drift_normal: jax.Array        # ()
    variance_normal: jax.Array     # ()
    day_uniform: jax.Array         # () which real day of the level table


def draw_episode(counter_key: jax.Array, dtype) -> EpisodeDraws:
    u = noise.uniforms(counter_key, jnp.uint32(0xFFFFFFFF), N_EPISODE_UNIFORMS, dtype)
    pool_normal, drift_normal = noise.normal_pair(u[1], u[2])
    variance_normal, _ = noise.normal_pair(u[3], u[4])
    return EpisodeDraws(regime_uniform=u[0], pool_normal=pool_normal, drift_normal=drift_normal,
                        variance_normal=variance_normal, day_uniform=u[5])


class LevelTable(NamedTuple):
    """The regimes world's real days (traced: another table of the same length never recompiles)."""

    days: jax.Array                # (n_days, N_LEVEL_COLUMNS) volume multiple, liquidity multiple, variance
                                   # multiple, start variance ratio, gas per action in USD (net of volatility),
                                   # the hour of the week the day starts at (Monday 00:00 UTC = 0)
    hour_of_week_variance: jax.Array  # (168,) variance profile over the hours of the week (mean 1)


def level_table(world) -> LevelTable | None:
    """The parametric world's table in `SimParams.world`, if it has one (static: a Python check)."""
    return world if isinstance(world, LevelTable) else None


class EpisodeLevels(NamedTuple):
    """The episode's levels: one real day of a LevelTable, or the reference day's (no table)."""

    volume_multiple: jax.Array     # () times market.volume_usd_per_day
    pool_liquidity: jax.Array      # () competing active liquidity
    variance_multiple: jax.Array   # () times the regime's long-run variance
    start_variance_ratio: jax.Array  # () the opening conditional variance over the episode's long-run one
    gas_usd: jax.Array             # () one action's gas at the episode's reference volatility
    gas_log_sd: jax.Array          # () per-action lognormal noise around it
    week_hour: jax.Array           # () hour of the week the episode opens at
    day: jax.Array                 # () the table row of its first day (the later days follow it)


def episode_levels(draws: EpisodeDraws, market: MarketParams, table: LevelTable | None) -> EpisodeLevels:
    """The episode's levels from its own draws: a real day drawn uniformly from `table`, else the reference."""
    if table is None:
        spread = market.garch_start_log_sd
        one = jnp.ones_like(market.fee_rate)
        return EpisodeLevels(volume_multiple=one, pool_liquidity=draw_pool_liquidity(draws.pool_normal, market),
                             variance_multiple=one,
                             start_variance_ratio=jnp.exp(spread * draws.variance_normal - 0.5 * spread**2),
                             gas_usd=market.gas_usd_median, gas_log_sd=market.gas_dispersion,
                             week_hour=jnp.zeros_like(one), day=jnp.zeros_like(one))
    n_days = table.days.shape[0]
    day = jnp.minimum((draws.day_uniform * n_days).astype(jnp.int32), n_days - 1)
    row = table.days[day]
    # the day's gas already carries its day-to-day spread; the data say nothing of variation within a day
    return EpisodeLevels(volume_multiple=row[VOLUME_MULTIPLE],
                         pool_liquidity=market.pool_liquidity * row[LIQUIDITY_MULTIPLE],
                         variance_multiple=row[VARIANCE_MULTIPLE], start_variance_ratio=row[START_VARIANCE_RATIO],
                         gas_usd=row[GAS_USD], gas_log_sd=jnp.zeros_like(row[GAS_USD]), week_hour=row[WEEK_HOUR],
                         day=day.astype(row.dtype))


def regime_dynamics(regime: jax.Array, market: MarketParams, drift_normal: jax.Array | float = 0.0,
                    levels: EpisodeLevels | None = None) -> RegimeDynamics:
    """Per-step numbers of the episode's regime process; the drift is drawn per episode around the
    regime's mean (`drift_dispersion_annual`), so trends go both ways where the data's do. The episode's
    variance multiple scales the regime's diffusion and jumps alike (so its long-run variance)."""
    dt = market.dt_years
    one = jnp.ones_like(market.fee_rate)
    variance_multiple = one if levels is None else levels.variance_multiple
    level_scale = jnp.sqrt(variance_multiple)
    sigma = market.vol_annual[regime] * level_scale
    jump_prob = market.jumps_per_day[regime] * DAYS_PER_YEAR * dt
    jump_std = market.jump_size_std[regime] * level_scale
    # E[P_{t+1} | P_t] = P_t e^{drift dt}, drift 0 a martingale price: the Ito term and the jumps'
    # compensation are taken with the step's conditional variance in `move`.
    drift = market.drift_annual[regime] + market.drift_dispersion_annual[regime] * drift_normal
    hours_per_step = dt * HOURS_PER_YEAR
    steps_per_hour = jnp.maximum(jnp.round(1.0 / hours_per_step), 1.0)
    # the long-run variance of an hour's innovation: diffusion plus jumps (a step's jump chance x size^2)
    variance_per_hour = sigma**2 / HOURS_PER_YEAR + jump_prob / hours_per_step * jump_std**2
    omega = (1.0 - market.garch_alpha - market.garch_beta) * variance_per_hour
    levels_given = levels is not None
    return RegimeDynamics(
        vol_annual=sigma, sigma_sqrt_dt=sigma * jnp.sqrt(dt),
        log_drift_per_step=drift * dt,
        reversion_per_step=market.mean_reversion_per_day[regime] * DAYS_PER_YEAR * dt,
        jump_prob=jump_prob, jump_size_std=jump_std,
        hours_per_step=hours_per_step, steps_per_hour=steps_per_hour, garch_omega=omega,
        variance_per_hour=variance_per_hour,
        volume_usd_per_step=market.volume_usd_per_step * (levels.volume_multiple if levels_given else one),
        # the |return|-driven volume and the gas's volatility tie, relative to the episode's own level
        volume_ref_abs_move=market.volume_ref_vol_annual * level_scale * jnp.sqrt(dt * (2.0 / jnp.pi)),
        gas_ref_vol_annual=market.gas_ref_vol_annual * level_scale,
        gas_usd=levels.gas_usd if levels_given else market.gas_usd_median,
        gas_log_sd=levels.gas_log_sd if levels_given else market.gas_dispersion,
        week_hour=levels.week_hour if levels_given else jnp.zeros_like(one),
        level_day=levels.day if levels_given else jnp.zeros_like(one))


def initial_market_state(dynamics: RegimeDynamics, start_variance_ratio: jax.Array) -> MarketState:
    """The episode opens at its conditional variance: `start_variance_ratio` times the long-run level
    (a real day's, or a lognormal draw: real weeks start in calm and in stormy hours)."""
    start = dynamics.variance_per_hour * start_variance_ratio
    return MarketState(variance_per_hour=start, hour_innovation=jnp.zeros_like(start))


class Draws(NamedTuple):
    """One step's random numbers: a function of (episode key, step) only."""

    z_price: jax.Array             # () standard normal
    z_gas: jax.Array               # ()
    z_jump: jax.Array              # ()
    z_volume: jax.Array            # ()
    u_jump: jax.Array              # () uniform
    u_spell: jax.Array             # ()


def draw(counter_key: jax.Array, t: jax.Array, dtype) -> Draws:
    u = noise.uniform_streams(counter_key, t, N_UNIFORMS, dtype)
    z_price, z_gas = noise.normal_pair(u[0], u[1])
    z_jump, z_volume = noise.normal_pair(u[2], u[3])
    return Draws(z_price=z_price, z_gas=z_gas, z_jump=z_jump, z_volume=z_volume, u_jump=u[4], u_spell=u[5])


def move(draws: Draws, t: jax.Array, log_price: jax.Array, gas_spell: jax.Array, state: MarketState,
         dynamics: RegimeDynamics, pool_liquidity: jax.Array, market: MarketParams,
         table: LevelTable | None = None) -> tuple[MarketMove, MarketState]:
    """One step of the world: GARCH diffusion, drift, OU pull, jumps; volume; gas; the market's next state.
    With a level table, the hour of the week scales the step's variance (the GARCH sees deseasoned news)."""
    long_run = dynamics.variance_per_hour
    # h / V: 1 at the long-run level (and in a world without any variance)
    scale = jnp.where(long_run > 0, state.variance_per_hour / jnp.where(long_run > 0, long_run, 1.0), 1.0)
    season, volume_per_step = None, dynamics.volume_usd_per_step
    if table is not None:   # the clock: hour of the week, and the real day whose volume it is
        hour = jnp.floor(t.astype(log_price.dtype) * dynamics.hours_per_step)
        week_hour = jnp.mod(dynamics.week_hour + hour, HOURS_PER_WEEK).astype(jnp.int32)
        season = table.hour_of_week_variance[jnp.clip(week_hour, 0, HOURS_PER_WEEK - 1)]
        scale = scale * season
        n_days = table.days.shape[0]
        day = jnp.mod(dynamics.level_day + jnp.floor(hour / 24.0), n_days).astype(jnp.int32)
        today = table.days[jnp.clip(day, 0, n_days - 1)]
        volume_per_step = market.volume_usd_per_step * today[VOLUME_MULTIPLE]
    variance_per_step = dynamics.sigma_sqrt_dt**2 * scale
    diffusive = jnp.sqrt(variance_per_step) * draws.z_price
    jump = jnp.where(draws.u_jump < dynamics.jump_prob, jnp.sqrt(scale) * dynamics.jump_size_std * draws.z_jump, 0.0)
    innovation = once.stored(diffusive + jump)   # read by the return, the volume and the GARCH update
    jump_compensation = dynamics.jump_prob * (jnp.exp(0.5 * scale * dynamics.jump_size_std**2) - 1.0)
    log_return = once.stored(dynamics.log_drift_per_step - 0.5 * variance_per_step - jump_compensation
                             - dynamics.reversion_per_step * log_price + innovation)   # read by four kernels
    # Volume: steady flow plus a part proportional to |move|, normalised to a mean of 1 at the reference vol.
    activity = (1.0 - market.volume_vol_share) + market.volume_vol_share * jnp.abs(innovation) / dynamics.volume_ref_abs_move
    volume = volume_per_step * activity * jnp.exp(0.3 * draws.z_volume - 0.045)
    switch = jnp.where(gas_spell, draws.u_spell < market.gas_spell_exit_prob, draws.u_spell < market.gas_spell_enter_prob)
    vol_annual_now = jnp.sqrt(state.variance_per_hour * HOURS_PER_YEAR)
    gas = gas_paid_usd(draws.z_gas, gas_spell, market, dynamics, vol_annual_now)
    # GARCH: the hour's innovation updates the conditional variance when the hour ends.
    hour_innovation = state.hour_innovation + innovation
    hour_ends = jnp.mod(t.astype(log_price.dtype) + 1.0, dynamics.steps_per_hour) == 0.0
    # A step longer than an hour: its innovation, scaled to one hour, drives the update every step.
    per_hour_sq = hour_innovation**2 / jnp.maximum(dynamics.steps_per_hour * dynamics.hours_per_step, 1.0)
    if season is not None:
        per_hour_sq = per_hour_sq / season
    updated = dynamics.garch_omega + market.garch_alpha * per_hour_sq + market.garch_beta * state.variance_per_hour
    next_state = MarketState(variance_per_hour=jnp.where(hour_ends, updated, state.variance_per_hour),
                             hour_innovation=jnp.where(hour_ends, 0.0, hour_innovation))
    world = MarketMove(log_return=log_return, variance_per_step=variance_per_step, volume_usd=volume,
                       gas_noise=draws.z_gas, gas_spell=jnp.logical_xor(gas_spell, switch),
                       pool_liquidity=pool_liquidity, gas_usd=gas, log_high=None, log_low=None,
                       lp_fee_rate=market.fee_rate)
    return return_bounds(world), next_state


RETURN_BOUNDS = ("log_high", "log_low")   # the fields `return_bounds` fills


def return_bounds(world: MarketMove) -> MarketMove:
    """The step's highest and lowest ln P from its return alone (the path within a step is not drawn). The
    rollout stores a block's moves without them and takes them here in the agent's loop, inside the kernels
    that read them: stored, they cost two more per-step arrays (and their buffers' copies) for a max and a min."""
    return world._replace(log_high=jnp.maximum(world.log_return, 0.0), log_low=jnp.minimum(world.log_return, 0.0))


def gas_paid_usd(gas_noise: jax.Array, gas_spell: jax.Array, market: MarketParams,
                 dynamics: RegimeDynamics | None = None, vol_annual: jax.Array | None = None) -> jax.Array:
    """The world's cost of one action: lognormal around the episode's level (no dynamics: the market's
    median), times the spell multiplier, times (vol / the episode's gas_ref_vol_annual)^gas_vol_elasticity
    (gas is dearer on volatile days)."""
    level, log_sd, reference = ((market.gas_usd_median, market.gas_dispersion, market.gas_ref_vol_annual)
                                if dynamics is None else
                                (dynamics.gas_usd, dynamics.gas_log_sd, dynamics.gas_ref_vol_annual))
    spell = jnp.where(gas_spell, market.gas_spell_multiplier, 1.0)
    base = level * jnp.exp(log_sd * gas_noise) * spell
    if vol_annual is None:
        return base
    # exp(e ln x) rather than x ** e: XLA compiles float32 `pow` to a scalar library call
    return base * jnp.exp(market.gas_vol_elasticity * jnp.log(vol_annual / reference))
