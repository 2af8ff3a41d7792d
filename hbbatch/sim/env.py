"""One episode as an environment: `reset` draws the episode's constants and opens the position;
`step(key, state, action, params)` advances one step with an action the policy chose.

Within a step: the world's move is drawn (independent of the agent: `market_move`); the bot sees
`observe(state, world)` (price, band, quoted gas and pool liquidity, never the coming move) and its
policy asks for an action (`policy.act`); the rails filter it (`rails.apply`); it executes at the
current price (`execution.execute`); the price moves and fees and LVR accrue (`execution.accrue`);
the policy's memory and the rails' counters advance; the change in (equity - hodl) is credited to
whoever set the position held (the holding-period attribution diagnostic).

    world = env.market_move(key, state, params)
    action = policy.act(env.observe(state, world, params), state.memory, params.agent)
    state, record = env.step(key, state, action, params)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hbbatch.sim import execution, noise, policy, pool, price, rails
from hbbatch.sim.types import (ACTION_KINDS, N_OWNERS, OWNERS, Action, EpisodeConstants, Observation,
                               SimParams, SimState, StepRecord, Totals)

_DRAWDOWN_OWNER, _MANUAL_OWNER = OWNERS.index("rail_drawdown"), OWNERS.index("manual_override")
ACTION_HOLD, ACTION_RECENTER, ACTION_WIDEN, ACTION_NARROW, ACTION_EXIT = (
    ACTION_KINDS.index(k) for k in ("hold", "recenter", "widen", "narrow", "exit"))


def start_tick(params: SimParams) -> jax.Array:
    """The opening price, snapped to the tick grid so relative ticks stay on it."""
    m = params.market
    tick = jnp.log(m.price_start_usd) / pool.LOG_TICK
    return jnp.round(tick / m.tick_spacing) * m.tick_spacing


def reset(seed: jax.Array, episode: jax.Array, params: SimParams, classifier: str,
          pool_liquidity: jax.Array | None = None) -> SimState:
    """The episode's constants and opening position (`pool_liquidity` given when replaying real bars)."""
    m, a = params.market, params.agent
    dtype = m.fee_rate.dtype
    counter_key = noise.episode_key(seed, episode)
    episode_draws = price.draw_episode(counter_key, dtype)
    regime = price.draw_regime(episode_draws.regime_uniform, m.regime_cdf)
    if pool_liquidity is None:
        pool_liquidity = price.draw_pool_liquidity(episode_draws.pool_normal, m)
    dynamics = price.regime_dynamics(regime, m, episode_draws.drift_normal)
    prior_vol = jnp.sum(m.vol_annual * jnp.diff(m.regime_cdf, prepend=0.0))
    step_var = prior_vol**2 * m.dt_years
    zero = jnp.zeros((), dtype)
    memory = policy.initial_memory(step_var, m.volume_usd_per_step)
    regime_estimate = regime if classifier == "oracle" else policy.classify(memory, a)
    sqrt_price = pool.sqrt_price_at_tick(start_tick(params))
    lower, upper = policy.snap_band(zero, a.floor_ticks[regime_estimate], m.tick_spacing)
    band = policy.make_position(zero, lower, upper, sqrt_price)
    unit_value = pool.value_per_liquidity(sqrt_price, band.sqrt_lower, band.sqrt_upper)
    position = band._replace(liquidity=rails.deployable_liquidity(a.capital_usd, unit_value, pool_liquidity, a))
    eth, usd = pool.amounts_for_liquidity(sqrt_price, position.sqrt_lower, position.sqrt_upper, position.liquidity)
    idle_usd = a.capital_usd - position.liquidity * unit_value
    zeros = jnp.zeros((N_OWNERS,), dtype)
    totals = Totals(fees_usd=zero, gas_usd=zero, swap_cost_usd=zero, lvr_usd=zero, widens=zero,
                    steps_in_range=zero, sum_sq_return=zero, max_drawdown=zero,
                    emergency_stops=zero, drawdown_exit=jnp.zeros((), bool), rule_fires=zeros, rule_actions=zeros,
                    rule_gas_usd=zeros, rule_pnl_usd=zeros)
    return SimState(
        t=jnp.zeros((), jnp.int32), log_price=zero, sqrt_price=sqrt_price, gas_spell=jnp.zeros((), bool),
        market=price.initial_market_state(dynamics, episode_draws.variance_normal, m),
        cash_usd=idle_usd, equity_usd=a.capital_usd, relative_usd=zero, position=position,
        owner=jnp.zeros((), jnp.int32), memory=memory, rails=rails.initial_state(a.capital_usd), totals=totals,
        episode=EpisodeConstants(counter_key=counter_key, regime=regime,
                                 dynamics=dynamics, sqrt_price_start=sqrt_price,
                                 pool_liquidity=pool_liquidity, hodl_eth=eth, hodl_usd=usd + idle_usd),
    )


def market_move(key: jax.Array, state: SimState, params: SimParams) -> price.MarketMove:
    """The world's move this step: a function of (episode key, step) and the world only, never of the agent.
    `key` is the episode's counter key (`state.episode.counter_key`)."""
    return world_move(price.draw(key, state.t, state.log_price.dtype), state, params)[0]


def world_move(draws: price.Draws, state: SimState,
               params: SimParams) -> tuple[price.MarketMove, price.MarketState]:
    """The world's move from the step's random numbers (the rollout draws them in blocks), and the
    market's own state after it."""
    ep = state.episode
    return price.move(draws, state.t, state.log_price, state.gas_spell, state.market, ep.dynamics,
                      ep.pool_liquidity, params.market)


def observe(state: SimState, world: price.MarketMove, params: SimParams) -> Observation:
    """What the bot sees before the step's move: price, its band, the quoted gas, active liquidity."""
    m = params.market
    return Observation(
        step=state.t.astype(m.fee_rate.dtype), log_price=state.log_price, sqrt_price=state.sqrt_price,
        sqrt_price_ref=state.episode.sqrt_price_start, position=state.position,
        value_usd=state.equity_usd - state.cash_usd, equity_usd=state.equity_usd,
        pool_liquidity=world.pool_liquidity, gas_usd=world.gas_usd,
        fee_rate=m.fee_rate, tick_spacing=m.tick_spacing, true_regime=state.episode.regime)


def step(key: jax.Array, state: SimState, action: Action, params: SimParams) -> tuple[SimState, StepRecord]:
    """One step of one episode with the policy's `action` (chosen on `observe(state, market_move(...))`)."""
    world, market = world_move(price.draw(key, state.t, state.log_price.dtype), state, params)
    return transition(state._replace(market=market), world, action, params)


def transition(state: SimState, world: price.MarketMove, action: Action,
               params: SimParams) -> tuple[SimState, StepRecord]:
    """`step` in a given world move: rails, execution, accrual, memory, rails' counters, attribution.
    `state.market` is already the market's state after the move (replayed worlds leave it as is)."""
    a, ep, tot = params.agent, state.episode, state.totals
    obs = observe(state, world, params)
    action, outcome = rails.apply(action, obs, state.rails, a)
    fill = execution.execute(obs, action, outcome, state.cash_usd)
    accrued = execution.accrue(fill, obs, world)
    equity = accrued.equity_usd
    relative = equity - (ep.hodl_eth * accrued.sqrt_price**2 + ep.hodl_usd)
    owner = jnp.where(outcome.manual_exit, _MANUAL_OWNER,
                      jnp.where(outcome.drawdown_exit, _DRAWDOWN_OWNER,
                                jnp.where(outcome.rebalance, action.rule + 1, state.owner))).astype(jnp.int32)
    memory = policy.remember(state.memory, world.log_return, world.volume_usd, accrued.out_of_range, outcome.acted, a)
    rail_state = rails.update(state.rails, outcome, obs.step, fill.gas_usd, equity, a)

    owners = jnp.arange(N_OWNERS)
    by_owner = (owners == owner).astype(equity.dtype)
    position, held = fill.position, state.position
    width, old_width = position.tick_upper - position.tick_lower, held.tick_upper - held.tick_lower
    widened = outcome.rebalance & (width > old_width)
    peak = rail_state.peak_equity_usd
    totals = Totals(
        fees_usd=tot.fees_usd + accrued.fees_usd, gas_usd=tot.gas_usd + fill.gas_usd,
        swap_cost_usd=tot.swap_cost_usd + fill.swap_cost_usd, lvr_usd=tot.lvr_usd + accrued.lvr_usd,
        widens=tot.widens + widened, steps_in_range=tot.steps_in_range + accrued.in_range,
        sum_sq_return=tot.sum_sq_return + world.log_return**2,
        max_drawdown=jnp.maximum(tot.max_drawdown, (peak - equity) / peak),
        emergency_stops=tot.emergency_stops + outcome.tripped,
        drawdown_exit=tot.drawdown_exit | outcome.drawdown_exit,
        rule_fires=tot.rule_fires + (owners == action.rule + 1) * outcome.considered,
        rule_actions=tot.rule_actions + by_owner * outcome.acted,
        rule_gas_usd=tot.rule_gas_usd + by_owner * fill.gas_usd,
        rule_pnl_usd=tot.rule_pnl_usd + by_owner * (relative - state.relative_usd),
    )
    kind = jnp.where(outcome.exit, ACTION_EXIT,
                     jnp.where(~outcome.rebalance, ACTION_HOLD,
                               jnp.where(widened, ACTION_WIDEN,
                                         jnp.where(width < old_width, ACTION_NARROW, ACTION_RECENTER))))
    state = state._replace(t=state.t + 1, log_price=accrued.log_price, sqrt_price=accrued.sqrt_price,
                           gas_spell=world.gas_spell, cash_usd=accrued.cash_usd, equity_usd=equity,
                           relative_usd=relative, position=position, owner=owner, memory=memory, rails=rail_state,
                           totals=totals)
    record = StepRecord(price_usd=accrued.sqrt_price**2, tick_lower=position.tick_lower,
                        tick_upper=position.tick_upper, action=kind.astype(jnp.int32), equity_usd=equity,
                        regime_estimate=action.regime_estimate, volume_usd=world.volume_usd,
                        gas_usd=world.gas_usd, pool_liquidity=world.pool_liquidity)
    return state, record


def advance(state: SimState, world: price.MarketMove, params: SimParams, gating: str = "ev",
            classifier: str = "online") -> tuple[SimState, StepRecord]:
    """The bot's whole step in a given world move: observe, `policy.act`, then `transition`. `gating` and
    `classifier` are static (see `policy.act`)."""
    action = policy.act(observe(state, world, params), state.memory, params.agent, gating, classifier)
    return transition(state, world, action, params)


def step_drawn(draws: price.Draws, state: SimState, params: SimParams, gating: str = "ev",
               classifier: str = "online") -> tuple[SimState, StepRecord]:
    """The bot's whole step with the step's random numbers already drawn (the rollout draws them in blocks)."""
    world, market = world_move(draws, state, params)
    return advance(state._replace(market=market), world, params, gating, classifier)
