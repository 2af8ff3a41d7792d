"""One episode: `reset` draws the episode's constants and opens the position; `step` advances one step.

Order within a step: draw the world's move (independent of the agent), the agent decides on the
state it sees, gate and rails filter, the action executes at the current price (gas from the world),
then the price moves, fees and LVR accrue, and the change in (equity - hodl) is credited to whoever
set the current position.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hbbatch.sim import agent, noise, pool, price
from hbbatch.sim.types import (ACTION_KINDS, N_OWNERS, OVERRIDES, OWNERS, EpisodeConstants, Memory, Position,
                               SimParams, SimState, StepRecord, Totals)

_DRAWDOWN_OWNER, _MANUAL_OWNER = OWNERS.index("rail_drawdown"), OWNERS.index("manual_override")
_OVERRIDE_HOLD, _OVERRIDE_EXIT = OVERRIDES.index("hold"), OVERRIDES.index("exit")
ACTION_HOLD, ACTION_RECENTER, ACTION_WIDEN, ACTION_NARROW, ACTION_EXIT = (
    ACTION_KINDS.index(k) for k in ("hold", "recenter", "widen", "narrow", "exit"))


def start_tick(params: SimParams) -> jax.Array:
    """The opening price, snapped to the tick grid so relative ticks stay on it."""
    m = params.market
    tick = jnp.log(m.price_start_usd) / pool.LOG_TICK
    return jnp.round(tick / m.tick_spacing) * m.tick_spacing


def make_position(liquidity: jax.Array, tick_lower: jax.Array, tick_upper: jax.Array,
                  sqrt_price_start: jax.Array) -> Position:
    return Position(liquidity=liquidity, tick_lower=tick_lower, tick_upper=tick_upper,
                    sqrt_lower=sqrt_price_start * pool.sqrt_price_at_tick(tick_lower),
                    sqrt_upper=sqrt_price_start * pool.sqrt_price_at_tick(tick_upper))


def position_value_usd(position: Position, sqrt_price: jax.Array) -> jax.Array:
    return position.liquidity * pool.value_per_liquidity(sqrt_price, position.sqrt_lower, position.sqrt_upper)


def deployable_liquidity(value_usd: jax.Array, value_per_liquidity: jax.Array, pool_liquidity: jax.Array,
                         params: SimParams) -> jax.Array:
    """Liquidity for a value, capped by the position size rail (capital and share of the pool)."""
    a = params.agent
    share_cap = a.max_pool_share / (1.0 - a.max_pool_share) * pool_liquidity
    capital_cap = a.max_capital_usd / value_per_liquidity
    return jnp.minimum(value_usd / value_per_liquidity, jnp.minimum(share_cap, capital_cap))


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
    memory = Memory(
        mean_abs_return=jnp.sqrt(step_var) / 1.2533141373155001, mean_return=zero,
        mean_sq_return=step_var, mean_sq_jump=zero, var_short=step_var, var_long=step_var,
        mean_volume_usd=m.volume_usd_per_step,
        steps_out_of_range=zero, steps_since_action=jnp.full((), 1e9, dtype),
        window_gas_usd=zero, stopped_until_step=zero,
        stood_down=jnp.zeros((), bool), owner=jnp.zeros((), jnp.int32),
    )
    regime_estimate = regime if classifier == "oracle" else agent.classify(memory, a)
    sqrt_price = pool.sqrt_price_at_tick(start_tick(params))
    lower, upper = agent.snap_band(zero, a.floor_ticks[regime_estimate], m.tick_spacing)
    band = make_position(zero, lower, upper, sqrt_price)
    unit_value = pool.value_per_liquidity(sqrt_price, band.sqrt_lower, band.sqrt_upper)
    position = band._replace(liquidity=deployable_liquidity(a.capital_usd, unit_value, pool_liquidity, params))
    eth, usd = pool.amounts_for_liquidity(sqrt_price, position.sqrt_lower, position.sqrt_upper, position.liquidity)
    idle_usd = a.capital_usd - position.liquidity * unit_value
    zeros = jnp.zeros((N_OWNERS,), dtype)
    totals = Totals(fees_usd=zero, gas_usd=zero, swap_cost_usd=zero, lvr_usd=zero, actions=zero, widens=zero,
                    steps_in_range=zero, sum_sq_return=zero, peak_equity_usd=a.capital_usd, max_drawdown=zero,
                    emergency_stops=zero, drawdown_exit=jnp.zeros((), bool), rule_fires=zeros, rule_actions=zeros,
                    rule_gas_usd=zeros, rule_pnl_usd=zeros)
    return SimState(
        t=jnp.zeros((), jnp.int32), log_price=zero, sqrt_price=sqrt_price, gas_spell=jnp.zeros((), bool),
        market=price.initial_market_state(dynamics, episode_draws.variance_normal, m),
        cash_usd=idle_usd, equity_usd=a.capital_usd, relative_usd=zero, position=position, memory=memory,
        totals=totals,
        episode=EpisodeConstants(counter_key=counter_key, regime=regime,
                                 dynamics=dynamics, sqrt_price_start=sqrt_price,
                                 pool_liquidity=pool_liquidity, hodl_eth=eth, hodl_usd=usd + idle_usd),
    )


def step(key: jax.Array, state: SimState, params: SimParams, gating: str = "ev",
         classifier: str = "online") -> tuple[SimState, StepRecord]:
    """One step of one episode. `key` is the episode's uint32 counter key; `gating`, `classifier` are static."""
    draws = price.draw(key, state.t, state.log_price.dtype)
    return step_drawn(draws, state, params, gating, classifier)


def step_drawn(draws: price.Draws, state: SimState, params: SimParams, gating: str = "ev",
               classifier: str = "online") -> tuple[SimState, StepRecord]:
    """`step` with the step's random numbers already drawn (the rollout draws them in blocks)."""
    ep = state.episode
    world, market = price.move(draws, state.t, state.log_price, state.gas_spell, state.market, ep.dynamics,
                               ep.pool_liquidity, params.market)
    return advance(state._replace(market=market), world, params, gating, classifier)


def advance(state: SimState, world: price.MarketMove, params: SimParams, gating: str = "ev",
            classifier: str = "online") -> tuple[SimState, StepRecord]:
    """The agent's half of a step against a given move of the world: simulated, or replayed from real bars."""
    m, a = params.market, params.agent
    ep, mem, pos, tot = state.episode, state.memory, state.position, state.totals
    t_float = state.t.astype(m.fee_rate.dtype)

    # --- what the agent sees at the start of the step
    sqrt_price = state.sqrt_price
    price_usd = sqrt_price**2
    tick = pool.tick_at_log_price(state.log_price)
    value = state.equity_usd - state.cash_usd
    regime_estimate = ep.regime if classifier == "oracle" else agent.classify(mem, a)

    # --- rules, gate, rails
    proposal = agent.propose(tick, pos, mem, regime_estimate, a, m.tick_spacing)
    proposed = make_position(pos.liquidity, proposal.tick_lower, proposal.tick_upper, ep.sqrt_price_start)
    new_unit_value = pool.value_per_liquidity(sqrt_price, proposed.sqrt_lower, proposed.sqrt_upper)
    proposed = proposed._replace(liquidity=deployable_liquidity(value, new_unit_value, world.pool_liquidity, params))
    eth_held, _ = pool.amounts_for_liquidity(sqrt_price, pos.sqrt_lower, pos.sqrt_upper, pos.liquidity)
    eth_target, _ = pool.amounts_for_liquidity(sqrt_price, proposed.sqrt_lower, proposed.sqrt_upper,
                                               proposed.liquidity)
    rebalance_swap_cost = pool.swap_cost_usd((eth_held - eth_target) * price_usd, m.fee_rate, sqrt_price,
                                             world.pool_liquidity)
    if gating == "ev":
        gain = agent.expected_gain_usd(state.log_price, sqrt_price, pos, proposed, eth_target - eth_held,
                                       regime_estimate, mem, a, m.fee_rate, world.pool_liquidity)
        net_gain = gain - rebalance_swap_cost
        passes_gate = (net_gain >= a.fee_gate_usd) & (net_gain - a.gas_usd > 0.0)
    else:
        passes_gate = jnp.ones((), bool)
    override_active = t_float >= a.override_from_step
    # The hard cap counts every gas-paying action; rebalances leave one in reserve so that a safety exit
    # (at most one: it stands the agent down) never breaks the cap.
    free = ((mem.steps_since_action >= a.cooldown_steps) & (t_float >= mem.stopped_until_step)
            & (tot.actions + 2.0 <= a.max_actions_per_episode) & ~mem.stood_down
            & ~(override_active & (a.override_mode == _OVERRIDE_HOLD)))
    considered = proposal.fired & free
    exit_allowed = ~mem.stood_down & (tot.actions + 1.0 <= a.max_actions_per_episode)
    drawdown_trip = ((state.equity_usd < (1.0 - a.max_drawdown) * tot.peak_equity_usd) & exit_allowed
                     & (pos.liquidity > 0))
    manual_exit = override_active & (a.override_mode == _OVERRIDE_EXIT) & exit_allowed
    exit_now = drawdown_trip | manual_exit
    # Emergency stop: an action whose gas (quoted before sending) would take the window over its cap is
    # refused, and every action is held until the window ends; safety exits are exempt.
    gas_quote = world.gas_usd
    wanted = considered & passes_gate & ~exit_now
    within_cap = mem.window_gas_usd + gas_quote <= a.gas_cap_usd_per_window
    rebalance = wanted & within_cap
    trip = wanted & ~within_cap
    acted = rebalance | exit_now
    owner = jnp.where(manual_exit, _MANUAL_OWNER,
                      jnp.where(drawdown_trip, _DRAWDOWN_OWNER,
                                jnp.where(rebalance, proposal.rule + 1, mem.owner))).astype(jnp.int32)

    # --- execute at the current price
    gas = jnp.where(acted, gas_quote, 0.0)
    exit_swap_cost = pool.swap_cost_usd(eth_held * price_usd, m.fee_rate, sqrt_price, world.pool_liquidity)
    swap_cost = jnp.where(exit_now, exit_swap_cost, jnp.where(rebalance, rebalance_swap_cost, 0.0))
    position = jax.tree.map(lambda new, old: jnp.where(rebalance, new, old), proposed, pos)
    position = position._replace(liquidity=jnp.where(exit_now, 0.0, position.liquidity))
    value_after = jnp.where(rebalance, proposed.liquidity * new_unit_value, jnp.where(exit_now, 0.0, value))
    cash = state.cash_usd + (value - value_after) - gas - swap_cost

    # --- the world moves; fees and LVR accrue on the band now held
    log_price = state.log_price + world.log_return
    log_lower, log_upper = position.tick_lower * pool.LOG_TICK, position.tick_upper * pool.LOG_TICK
    fraction_in = pool.in_range_fraction(state.log_price, log_price, log_lower, log_upper)
    fees = pool.fees_usd(m.fee_rate, world.volume_usd, position.liquidity, world.pool_liquidity, fraction_in)
    in_range_now = (state.log_price >= log_lower) & (state.log_price < log_upper) & (position.liquidity > 0)
    cash = cash + fees
    next_sqrt_price = ep.sqrt_price_start * jnp.exp(0.5 * log_price)  # from log_price: no float32 drift
    # LVR of the realised move (jumps included): the loss against rebalancing at the step's start
    lvr = pool.lvr_usd(sqrt_price, next_sqrt_price, position.sqrt_lower, position.sqrt_upper, position.liquidity)
    equity_next = position_value_usd(position, next_sqrt_price) + cash
    relative_next = equity_next - (ep.hodl_eth * next_sqrt_price**2 + ep.hodl_usd)

    # --- memory and rails
    out_of_range = ((log_price < log_lower) | (log_price >= log_upper)) & (position.liquidity > 0)
    window_start = (jnp.floor((t_float + 1.0) / a.gas_window_steps) * a.gas_window_steps) == t_float + 1.0
    window_gas = jnp.where(window_start, 0.0, mem.window_gas_usd + gas)
    window_end = (jnp.floor(t_float / a.gas_window_steps) + 1.0) * a.gas_window_steps
    memory = agent.update_memory(mem, world.log_return, world.volume_usd, a)._replace(
        steps_out_of_range=jnp.where(out_of_range, mem.steps_out_of_range + 1.0, 0.0),
        steps_since_action=jnp.where(acted, 1.0, mem.steps_since_action + 1.0),
        window_gas_usd=window_gas,
        stopped_until_step=jnp.where(trip, window_end, mem.stopped_until_step),
        stood_down=mem.stood_down | exit_now,
        owner=owner,
    )
    owners = jnp.arange(N_OWNERS)
    by_owner = (owners == owner).astype(cash.dtype)
    width, old_width = position.tick_upper - position.tick_lower, pos.tick_upper - pos.tick_lower
    widened = rebalance & (width > old_width)
    peak = jnp.maximum(tot.peak_equity_usd, equity_next)
    totals = Totals(
        fees_usd=tot.fees_usd + fees, gas_usd=tot.gas_usd + gas, swap_cost_usd=tot.swap_cost_usd + swap_cost,
        lvr_usd=tot.lvr_usd + lvr, actions=tot.actions + acted, widens=tot.widens + widened,
        steps_in_range=tot.steps_in_range + in_range_now, sum_sq_return=tot.sum_sq_return + world.log_return**2,
        peak_equity_usd=peak, max_drawdown=jnp.maximum(tot.max_drawdown, (peak - equity_next) / peak),
        emergency_stops=tot.emergency_stops + trip, drawdown_exit=tot.drawdown_exit | drawdown_trip,
        rule_fires=tot.rule_fires + (owners == proposal.rule + 1) * considered,
        rule_actions=tot.rule_actions + by_owner * acted,
        rule_gas_usd=tot.rule_gas_usd + by_owner * gas,
        rule_pnl_usd=tot.rule_pnl_usd + by_owner * (relative_next - state.relative_usd),
    )
    action = jnp.where(exit_now, ACTION_EXIT,
                       jnp.where(~rebalance, ACTION_HOLD,
                                 jnp.where(widened, ACTION_WIDEN,
                                           jnp.where(width < old_width, ACTION_NARROW, ACTION_RECENTER))))
    state = state._replace(t=state.t + 1, log_price=log_price, sqrt_price=next_sqrt_price, gas_spell=world.gas_spell,
                           cash_usd=cash, equity_usd=equity_next, relative_usd=relative_next, position=position,
                           memory=memory, totals=totals)
    record = StepRecord(price_usd=next_sqrt_price**2, tick_lower=position.tick_lower, tick_upper=position.tick_upper,
                        action=action.astype(jnp.int32), equity_usd=equity_next,
                        regime_estimate=jnp.asarray(regime_estimate, jnp.int32))
    return state, record
