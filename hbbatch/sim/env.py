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

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from hbbatch.sim import execution, noise, policy, pool, price, rails
from hbbatch.sim.types import (ACTION_KINDS, N_OWNERS, N_REGIMES, N_RULES, OWNERS, Memory, Action, EpisodeConstants,
                               Observation, SimParams, SimState, StepRecord, Totals)

_DRAWDOWN_OWNER, _MANUAL_OWNER = OWNERS.index("rail_drawdown"), OWNERS.index("manual_override")
ACTION_HOLD, ACTION_RECENTER, ACTION_WIDEN, ACTION_NARROW, ACTION_EXIT = (
    ACTION_KINDS.index(k) for k in ("hold", "recenter", "widen", "narrow", "exit"))


def start_tick(params: SimParams) -> jax.Array:
    """The opening price, snapped to the tick grid so relative ticks stay on it."""
    m = params.market
    tick = jnp.log(m.price_start_usd) / pool.LOG_TICK
    return jnp.round(tick / m.tick_spacing) * m.tick_spacing


def reset(seed: jax.Array, episode: jax.Array, params: SimParams, classifier: str,
          pool_liquidity: jax.Array | None = None, warmup_steps: int = 0,
          warmup_world: WarmupWorld | None = None, opening_gas_usd: jax.Array | None = None) -> SimState:
    """The episode's constants, the policy's memory after `warmup_steps` (static) of the world before the
    open, and the opening band: the bot starts the week holding half its capital in ETH and half in USD
    (the HODL portfolio) and opens the band its policy picks like any other action, paying the world's
    median gas and the swap to the band's ratio. `pool_liquidity` is given when replaying real bars;
    `warmup_world` is the world before the episode (default: the parametric world's, `parametric_warmup`);
    `opening_gas_usd` where the world's gas at the open is known (a historical world: its first bar's day)."""
    m, a = params.market, params.agent
    dtype = m.fee_rate.dtype
    counter_key = noise.episode_key(seed, episode)
    episode_draws = price.draw_episode(counter_key, dtype)
    regime = price.draw_regime(episode_draws.regime_uniform, m.regime_cdf)
    # the regimes world's table of real days (hbbatch/worlds/levels.py); none: the reference day's levels
    levels = price.episode_levels(episode_draws, m, price.level_table(params.world))
    if pool_liquidity is None:
        pool_liquidity = levels.pool_liquidity
    dynamics = price.regime_dynamics(regime, m, episode_draws.drift_normal, levels)
    prior_vol = jnp.sum(m.vol_annual * jnp.diff(m.regime_cdf, prepend=0.0))
    zero = jnp.zeros((), dtype)
    sqrt_price = pool.sqrt_price_at_tick(start_tick(params))
    price_usd = sqrt_price**2
    hodl_eth, hodl_usd = 0.5 * a.capital_usd / price_usd, 0.5 * a.capital_usd
    empty = policy.make_position(zero, zero, zero + m.tick_spacing, sqrt_price)
    zeros = jnp.zeros((N_OWNERS,), dtype)
    totals = Totals(fees_usd=zero, gas_usd=zero, swap_cost_usd=zero, lvr_usd=zero, widens=zero,
                    steps_in_range=zero, sum_sq_return=zero, max_drawdown=zero,
                    emergency_stops=zero, drawdown_exit=jnp.zeros((), bool), rule_fires=zeros, rule_actions=zeros,
                    rule_gas_usd=zeros, rule_pnl_usd=zeros, classified_steps=jnp.zeros((N_REGIMES,), dtype))
    state = SimState(
        t=jnp.zeros((), jnp.int32), log_price=zero, sqrt_price=sqrt_price, gas_spell=jnp.zeros((), bool),
        market=price.initial_market_state(dynamics, levels.start_variance_ratio),
        cash_usd=a.capital_usd, equity_usd=a.capital_usd, relative_usd=zero, position=empty,
        owner=jnp.zeros((), jnp.int32), memory=policy.initial_memory(prior_vol**2 * m.dt_years, m.volume_usd_per_step),
        rails=rails.initial_state(a.capital_usd), totals=totals,
        episode=EpisodeConstants(counter_key=counter_key, regime=regime, dynamics=dynamics,
                                 sqrt_price_start=sqrt_price, pool_liquidity=pool_liquidity,
                                 hodl_eth=hodl_eth, hodl_usd=hodl_usd),
    )
    if warmup_world is None:
        warmup_world = parametric_warmup(state, params, warmup_steps)
    return open_band(state._replace(memory=warm_up(state.memory, warmup_world, warmup_steps, params)), params,
                     classifier, opening_gas_usd)


class WarmupWorld(NamedTuple):
    """The world before an episode, one step at a time: `draw(j)` is warm-up step j's random numbers
    (j = 0 .. n - 1, the last just before the open) and `step(carry, draws, j) -> (carry, move, seen)` its
    move; a step not `seen` (before the world's history begins) leaves the memory as it was."""

    draw: Callable[[jax.Array], Any]
    step: Callable[[Any, Any, jax.Array], tuple[Any, price.MarketMove, jax.Array]]
    carry: Any


WARMUP_DRAW_BLOCK_STEPS = 32   # warm-up draws are made this many steps at a time, as the rollout's (see there)


def warmup_counter(j: jax.Array, n_steps: int, last: int) -> jax.Array:
    """The counter of warm-up step j of n (static): last - (n - 1 - j), counters no episode step uses."""
    return jnp.uint32(last) - (n_steps - 1 - j).astype(jnp.uint32)


def warm_up(memory: Memory, world: WarmupWorld, n_steps: int, params: SimParams) -> Memory:
    """The policy's memory after the `n_steps` (static) steps of `world` that precede the episode, each folded
    in by `policy.remember`, the update of every step of the episode (with no band yet: never out of range,
    no action). Every world warms up through this function; only the source of the moves differs. Draws are
    made a block at a time before an inner scan, so XLA does not copy the hash into every use of a draw."""
    if n_steps == 0:
        return memory
    no = jnp.zeros((), bool)

    def inner(carry, drawn):
        (memory, source), (j, draws) = carry, drawn
        source, move, seen = world.step(source, draws, j)
        folded = policy.remember(memory, move.log_return, move.volume_usd, no, no, params.agent)
        return (jax.tree.map(lambda new, old: jnp.where(seen, new, old), folded, memory), source), None

    def block(carry, first, length):
        steps = first + jnp.arange(length, dtype=jnp.int32)
        return jax.lax.scan(inner, carry, (steps, jax.vmap(world.draw)(steps)))[0]

    n_blocks, remainder = divmod(n_steps, WARMUP_DRAW_BLOCK_STEPS)
    firsts = jnp.arange(n_blocks, dtype=jnp.int32) * WARMUP_DRAW_BLOCK_STEPS
    carry = jax.lax.scan(lambda c, t0: (block(c, t0, WARMUP_DRAW_BLOCK_STEPS), None), (memory, world.carry),
                         firsts)[0]
    if remainder:
        carry = block(carry, jnp.int32(n_blocks * WARMUP_DRAW_BLOCK_STEPS), remainder)
    return carry[0]


def parametric_warmup(state: SimState, params: SimParams, n_steps: int) -> WarmupWorld:
    """The parametric world before the episode: the same process and regime, drawn from counters the episode
    never uses (2^32 - 1 - n_steps .. 2^32 - 2), so the episode's own path is the same whatever the warm-up.
    The market state it ends in is discarded for the same reason."""
    key, dtype = state.episode.counter_key, state.log_price.dtype

    def draw(j):
        return price.draw(key, warmup_counter(j, n_steps, 0xFFFFFFFE), dtype)

    def step(carry, draws, j):
        log_price, gas_spell, market = carry
        before = state._replace(t=(j - n_steps).astype(jnp.int32), log_price=log_price, gas_spell=gas_spell,
                                market=market)
        move, market = world_move(draws, before, params)
        return (log_price + move.log_return, move.gas_spell, market), move, jnp.ones((), bool)

    return WarmupWorld(draw=draw, step=step, carry=(state.log_price, state.gas_spell, state.market))


def open_band(state: SimState, params: SimParams, classifier: str,
              gas_usd: jax.Array | None = None) -> SimState:
    """The opening action: the band of the classified regime's width, centred on the price, funded from
    the HODL portfolio (the swap to the band's ratio and the gas paid, credited to `initial`). `gas_usd`:
    the world's gas at the open; None: the market's median (the parametric world)."""
    m, a, ep = params.market, params.agent, state.episode
    sqrt_price, zero = state.sqrt_price, jnp.zeros_like(state.log_price)
    regime_estimate = ep.regime if classifier == "oracle" else policy.classify(state.memory, a)
    lower, upper = policy.snap_band(zero, policy.regime_width_ticks(a, regime_estimate), m.tick_spacing)
    band = policy.make_position(zero, lower, upper, ep.sqrt_price_start)
    unit_value = pool.value_per_liquidity(sqrt_price, band.sqrt_lower, band.sqrt_upper)
    gas = price.gas_paid_usd(zero, jnp.zeros((), bool), m, ep.dynamics) if gas_usd is None else gas_usd.astype(zero.dtype)

    def funded(value_usd):
        position = band._replace(liquidity=rails.deployable_liquidity(value_usd, unit_value, ep.pool_liquidity, a))
        eth, _ = pool.amounts_for_liquidity(sqrt_price, position.sqrt_lower, position.sqrt_upper, position.liquidity)
        swap_cost = pool.swap_cost_usd((ep.hodl_eth - eth) * sqrt_price**2, m.fee_rate, sqrt_price, ep.pool_liquidity)
        return position, swap_cost

    _, swap_estimate = funded(a.capital_usd)
    position, swap_cost = funded(a.capital_usd - gas - swap_estimate)   # costs come out of the capital deployed
    cash = a.capital_usd - position.liquidity * unit_value - gas - swap_cost
    equity = a.capital_usd - gas - swap_cost
    initial = (jnp.arange(N_OWNERS) == 0).astype(zero.dtype)
    tot = state.totals._replace(gas_usd=gas, swap_cost_usd=swap_cost, rule_actions=initial,
                                rule_gas_usd=initial * gas, rule_pnl_usd=initial * (equity - a.capital_usd))
    rail_state = state.rails._replace(actions=jnp.ones_like(zero), window_gas_usd=gas, peak_equity_usd=equity)
    return state._replace(cash_usd=cash, equity_usd=equity, relative_usd=equity - a.capital_usd, position=position,
                          rails=rail_state, totals=tot)


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
                      ep.pool_liquidity, params.market, price.level_table(params.world))


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


class Attribution(NamedTuple):
    """One step's contribution to the per-owner (and per-regime) totals."""

    owner: jax.Array              # () int: whose action set the position held after the step
    fired: jax.Array              # () bool: the rails considered the policy's ask (a rule "fire")
    rule: jax.Array               # () int: the rule that asked, index into RULES
    acted: jax.Array              # () bool: a gas-paying action happened
    gas_usd: jax.Array            # () gas paid
    pnl_usd: jax.Array            # () change in (equity - hodl) over the step
    regime_estimate: jax.Array    # () int: the policy's classification


_OWNER_BITS, _RULE_BITS = max(N_OWNERS - 1, 1).bit_length(), max(N_RULES - 1, 1).bit_length()
_FIRED_SHIFT, _RULE_SHIFT = _OWNER_BITS, _OWNER_BITS + 1
_ACTED_SHIFT = _RULE_SHIFT + _RULE_BITS
_REGIME_SHIFT = _ACTED_SHIFT + 1   # the regime above the rest, signed (the oracle's -1 on real data)


def pack_attribution(step: Attribution) -> Attribution:
    """`step` with its integers and flags packed into `owner` (the others None): the rollout stores a block's
    attributions, and one int32 per step is one array written (and one buffer copied per block) instead of five."""
    packed = (step.owner | (step.fired.astype(jnp.int32) << _FIRED_SHIFT) | (step.rule << _RULE_SHIFT)
              | (step.acted.astype(jnp.int32) << _ACTED_SHIFT) | (step.regime_estimate << _REGIME_SHIFT))
    return step._replace(owner=packed, fired=None, rule=None, acted=None, regime_estimate=None)


def unpack_attribution(step: Attribution) -> Attribution:
    """The attribution `pack_attribution` packed, the same values."""
    packed = step.owner
    return step._replace(owner=packed & ((1 << _OWNER_BITS) - 1), fired=(packed & (1 << _FIRED_SHIFT)) != 0,
                         rule=(packed >> _RULE_SHIFT) & ((1 << _RULE_BITS) - 1),
                         acted=(packed & (1 << _ACTED_SHIFT)) != 0, regime_estimate=packed >> _REGIME_SHIFT)


def attribute(totals: Totals, step: Attribution) -> Totals:
    """The totals with one step's attribution added (one-hot over owners and regimes)."""
    owners = jnp.arange(N_OWNERS)
    by_owner = (owners == step.owner).astype(totals.rule_pnl_usd.dtype)
    return totals._replace(
        rule_fires=totals.rule_fires + (owners == step.rule + 1) * step.fired,
        rule_actions=totals.rule_actions + by_owner * step.acted,
        rule_gas_usd=totals.rule_gas_usd + by_owner * step.gas_usd,
        rule_pnl_usd=totals.rule_pnl_usd + by_owner * step.pnl_usd,
        classified_steps=totals.classified_steps + (jnp.arange(N_REGIMES) == step.regime_estimate),
    )


def transition(state: SimState, world: price.MarketMove, action: Action,
               params: SimParams) -> tuple[SimState, StepRecord]:
    """`step` in a given world move: rails, execution, accrual, memory, rails' counters, attribution.
    `state.market` is already the market's state after the move (replayed worlds leave it as is)."""
    state, record, attribution = transition_unattributed(state, world, action, params)
    return state._replace(totals=attribute(state.totals, attribution)), record


def transition_unattributed(state: SimState, world: price.MarketMove, action: Action,
                            params: SimParams) -> tuple[SimState, StepRecord, Attribution]:
    """`transition` with the per-owner totals left as they were and the step's `Attribution` returned
    beside them: the rollout adds a block of steps' attributions at once, in the same order (per step,
    the one-hot updates of vectors recompute the owner in every lane and cost about a tenth of a step)."""
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

    position = fill.position
    widened = outcome.rebalance & (action.kind == ACTION_WIDEN)   # counted by the rule's intent
    peak = rail_state.peak_equity_usd
    totals = Totals(
        fees_usd=tot.fees_usd + accrued.fees_usd, gas_usd=tot.gas_usd + fill.gas_usd,
        swap_cost_usd=tot.swap_cost_usd + fill.swap_cost_usd, lvr_usd=tot.lvr_usd + accrued.lvr_usd,
        widens=tot.widens + widened, steps_in_range=tot.steps_in_range + accrued.in_range,
        sum_sq_return=tot.sum_sq_return + world.log_return**2,
        max_drawdown=jnp.maximum(tot.max_drawdown, (peak - equity) / peak),
        emergency_stops=tot.emergency_stops + outcome.tripped,
        drawdown_exit=tot.drawdown_exit | outcome.drawdown_exit, rule_fires=tot.rule_fires,
        rule_actions=tot.rule_actions, rule_gas_usd=tot.rule_gas_usd, rule_pnl_usd=tot.rule_pnl_usd,
        classified_steps=tot.classified_steps,
    )
    attribution = Attribution(owner=owner, fired=outcome.considered, rule=action.rule, acted=outcome.acted,
                              gas_usd=fill.gas_usd, pnl_usd=relative - state.relative_usd,
                              regime_estimate=action.regime_estimate)
    state = state._replace(t=state.t + 1, log_price=accrued.log_price, sqrt_price=accrued.sqrt_price,
                           gas_spell=world.gas_spell, cash_usd=accrued.cash_usd, equity_usd=equity,
                           relative_usd=relative, position=position, owner=owner, memory=memory, rails=rail_state,
                           totals=totals)
    record = StepRecord(price_usd=accrued.sqrt_price**2, tick_lower=position.tick_lower,
                        tick_upper=position.tick_upper, action=action.kind, owner=owner, equity_usd=equity,
                        regime_estimate=action.regime_estimate, volume_usd=world.volume_usd,
                        gas_usd=world.gas_usd, pool_liquidity=world.pool_liquidity)
    return state, record, attribution


def advance(state: SimState, world: price.MarketMove, params: SimParams, gating: str = "ev",
            classifier: str = "online") -> tuple[SimState, StepRecord]:
    """The bot's whole step in a given world move: observe, `policy.act`, then `transition`. `gating` and
    `classifier` are static (see `policy.act`)."""
    state, record, attribution = advance_unattributed(state, world, params, gating, classifier)
    return state._replace(totals=attribute(state.totals, attribution)), record


def advance_unattributed(state: SimState, world: price.MarketMove, params: SimParams, gating: str = "ev",
                         classifier: str = "online") -> tuple[SimState, StepRecord, Attribution]:
    """`advance` with the attribution returned instead of added (see `transition_unattributed`)."""
    action = policy.act(observe(state, world, params), state.memory, params.agent, gating, classifier)
    return transition_unattributed(state, world, action, params)
