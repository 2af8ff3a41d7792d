"""The LP bot's policy: online regime classifier, widths and floors, named rules, the EV gate.

`act(observation, memory, params) -> Action` is pure and has no batch dimension: the simulator, the
replay of real bars and shadow mode call the same function. `remember` folds what the step showed
into the memory. The safety rails are not here: they filter the action afterwards (`rails.apply`).
No Python `if` on traced values.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from hbbatch.sim import once, pool, rails
from hbbatch.sim.types import ACTION_KINDS, REGIMES, RULES, Action, AgentParams, Memory, Observation, Position

_SQRT_HALF_PI = 1.2533141373155001  # E|z| = sqrt(2/pi) for a normal, so sigma ~ E|r| * sqrt(pi/2)
_MEAN_REVERT, _JUMPY, _TREND = (REGIMES.index(r) for r in ("mean_revert", "jumpy", "trend_up"))
_OUT_OF_RANGE, _WIDEN, _NARROW, _TREND_RULE = (RULES.index(r) for r in ("out_of_range", "vol_widen", "vol_narrow",
                                                                         "trend_shift"))
_HOLD, _RECENTER, _WIDEN_KIND, _NARROW_KIND = (ACTION_KINDS.index(k) for k in ("hold", "recenter", "widen", "narrow"))


class Proposal(NamedTuple):
    fired: jax.Array        # () bool: some enabled rule fired
    rule: jax.Array         # () int: the first firing rule, index into RULES
    tick_lower: jax.Array   # () proposed band
    tick_upper: jax.Array   # ()


def classify(memory: Memory, params: AgentParams) -> jax.Array:
    """Online version of hbbatch.calibration's window rule: trend_up on a drift t-statistic, else
    jumpy when jumps carry enough of the variance, else mean_revert (REGIMES indices 2, 1, 0)."""
    alpha = params.classifier_alpha
    n_effective = (2.0 - alpha) / alpha
    variance = jnp.maximum(memory.mean_sq_return - memory.mean_return**2, 1e-30)
    t_stat = memory.mean_return / jnp.sqrt(variance) * jnp.sqrt(n_effective)
    jump_share = memory.mean_sq_jump / jnp.maximum(memory.mean_sq_return, 1e-30)
    # stored: by selects left to XLA, the choice was recomputed in each of the ~8 kernels that read the regime
    regime = jnp.where(t_stat >= params.trend_tstat, _TREND,
                       jnp.where(jump_share >= params.jumpy_variance_share, _JUMPY, _MEAN_REVERT))
    return once.stored(regime.astype(jnp.int32))


def initial_memory(variance_per_step: jax.Array, volume_usd_per_step: jax.Array) -> Memory:
    """A memory whose estimates start at a prior: this variance of ln P per step and this pool volume."""
    zero = jnp.zeros_like(variance_per_step)
    return Memory(mean_abs_return=jnp.sqrt(variance_per_step) / _SQRT_HALF_PI, mean_return=zero,
                  mean_sq_return=variance_per_step, mean_sq_jump=zero, var_short=variance_per_step,
                  var_long=variance_per_step, robust_var_short=variance_per_step, robust_var_long=variance_per_step,
                  mean_volume_usd=volume_usd_per_step + zero, steps_out_of_range=zero,
                  steps_since_action=jnp.full_like(variance_per_step, 1e9), steps_vol_high=zero, steps_vol_low=zero)


def update_estimates(memory: Memory, log_return: jax.Array, volume_usd: jax.Array, params: AgentParams) -> Memory:
    """Fold one observed return and the pool's volume into the EWMA estimates."""
    alpha = params.classifier_alpha
    robust_sigma = memory.mean_abs_return * _SQRT_HALF_PI
    threshold = params.jump_sigmas * robust_sigma
    is_jump = jnp.abs(log_return) > threshold
    r_sq = log_return**2
    ewma = lambda old, new, a: old + a * (new - old)  # noqa: E731
    return memory._replace(
        # winsorised so jumps do not inflate the scale they are measured against
        mean_abs_return=ewma(memory.mean_abs_return, jnp.minimum(jnp.abs(log_return), threshold), alpha),
        mean_return=ewma(memory.mean_return, log_return, alpha),
        mean_sq_return=ewma(memory.mean_sq_return, r_sq, alpha),
        mean_sq_jump=ewma(memory.mean_sq_jump, jnp.where(is_jump, r_sq, 0.0), alpha),
        var_short=ewma(memory.var_short, r_sq, params.vol_short_alpha),
        var_long=ewma(memory.var_long, r_sq, params.vol_long_alpha),
        robust_var_short=ewma(memory.robust_var_short, jnp.minimum(r_sq, threshold**2), params.vol_short_alpha),
        robust_var_long=ewma(memory.robust_var_long, jnp.minimum(r_sq, threshold**2), params.vol_long_alpha),
        mean_volume_usd=ewma(memory.mean_volume_usd, volume_usd, params.vol_long_alpha),
    )


def snap_band(center_tick: jax.Array, width_ticks: jax.Array, tick_spacing: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A band on the pool's tick grid, at least one spacing wide."""
    lower = jnp.round((center_tick - 0.5 * width_ticks) / tick_spacing) * tick_spacing
    # round the width up: snapping must never take a band below its floor
    width = jnp.maximum(jnp.ceil(width_ticks / tick_spacing - 1e-6), 1.0) * tick_spacing
    return lower, lower + width


def regime_width_ticks(params: AgentParams, regime: jax.Array) -> jax.Array:
    """`params.width_ticks[regime]` by selects: a gather in the step is a scalar loop on a CPU. A negative
    index counts from the end, as in indexing (the oracle's regime -1 on real data)."""
    widths = params.width_ticks
    regime = jnp.where(regime < 0, regime + widths.shape[0], regime)
    return functools.reduce(lambda picked, i: jnp.where(regime == i, widths[i], picked),
                            range(1, widths.shape[0]), widths[0])


def robust_vol_ratio(memory: Memory) -> jax.Array:
    """Short- over long-window volatility of jump-winsorised returns: one jump does not move it much."""
    return jnp.sqrt(memory.robust_var_short / jnp.maximum(memory.robust_var_long, 1e-30))


def propose(tick: jax.Array, position: Position, memory: Memory, regime_estimate: jax.Array,
            params: AgentParams, tick_spacing: jax.Array) -> Proposal:
    """The first enabled rule, in priority order, whose trigger holds, and the band it asks for."""
    lower, upper = position.tick_lower, position.tick_upper
    width = upper - lower
    centre = 0.5 * (lower + upper)
    base = regime_width_ticks(params, regime_estimate)   # the regime's width, never below its floor
    in_range = (tick >= lower) & (tick < upper)
    triggers = (
        (memory.steps_out_of_range >= params.rebalance_after_steps) & ~in_range,           # out_of_range
        in_range & (jnp.minimum(tick - lower, upper - tick) < params.edge_fraction * width),  # edge
        (memory.steps_vol_high >= params.vol_persist_steps) & (width < params.max_width_ticks),  # vol_widen
        (memory.steps_vol_low >= params.vol_persist_steps) & (width > 1.01 * base),           # vol_narrow
        (regime_estimate == _TREND) & in_range & (tick - centre > params.trend_shift_fraction * 0.5 * width),
    )
    # computed once: read through selects, the triggers were recomputed in each of the ~11 kernels that use the
    # rule (+23 % of the step's operations); an argmax computed them once but as a scalar loop (see once.py)
    rule, any_trigger = once.first_true(tuple(trigger & params.rule_enabled[i] for i, trigger in enumerate(triggers)))
    # by selects, not jnp.select (an argmax over the stacked conditions: a scalar loop, see once.py)
    new_width = jnp.where(rule == _WIDEN, jnp.maximum(jnp.minimum(width * params.widen_factor, params.max_width_ticks),
                                                      base),
                          jnp.where(rule == _NARROW, jnp.maximum(width / params.widen_factor, base),
                                    jnp.maximum(base, width)))   # a recenter keeps the width (at least the regime's)
    skew = jnp.where(rule == _TREND_RULE, params.trend_shift_fraction * 0.5 * new_width, 0.0)
    new_lower, new_upper = snap_band(tick + skew, new_width, tick_spacing)
    # Single-sided re-entry: the band sits beside the price on the side the held token can fund alone
    # (all USD after the price left upwards: just below it; all ETH after it left downwards: just above).
    single_sided = (rule == _OUT_OF_RANGE) & params.reentry_single_sided & ~in_range
    snapped_width = new_upper - new_lower
    below = jnp.floor(tick / tick_spacing) * tick_spacing - snapped_width
    above = jnp.ceil(tick / tick_spacing) * tick_spacing
    side_lower = jnp.where(tick >= upper, below, above)
    new_lower = jnp.where(single_sided, side_lower, new_lower)
    new_upper = jnp.where(single_sided, side_lower + snapped_width, new_upper)
    return Proposal(fired=any_trigger & (position.liquidity > 0), rule=rule,
                    tick_lower=new_lower, tick_upper=new_upper)


def probability_in_range(log_price: jax.Array, log_lower: jax.Array, log_upper: jax.Array,
                         horizon_sd: jax.Array) -> jax.Array:
    """Chance the price sits in the band half-way through the horizon (driftless estimate; logistic
    approximation of the normal CDF, error < 0.01, to keep erf out of the hot loop)."""
    cdf = lambda z: jax.nn.sigmoid(1.702 * z)  # noqa: E731
    return cdf((log_upper - log_price) / horizon_sd) - cdf((log_lower - log_price) / horizon_sd)


def expected_holding_steps(position: Position, variance_per_step: jax.Array, params: AgentParams) -> jax.Array:
    """How long a band is expected to hold: a driftless walk leaves an interval of half-width h (in ln P)
    from its centre after h^2 / sigma^2 steps on average; at least one step, at most the gate's horizon."""
    half_width = 0.5 * (position.tick_upper - position.tick_lower) * pool.LOG_TICK
    return jnp.clip(half_width**2 / jnp.maximum(variance_per_step, 1e-30), 1.0, params.ev_horizon_steps)


def expected_gain_usd(log_price: jax.Array, sqrt_price: jax.Array, current: Position, proposed: Position,
                      eth_change: jax.Array, regime_estimate: jax.Array, memory: Memory, params: AgentParams,
                      fee_rate: jax.Array, pool_liquidity: jax.Array) -> jax.Array:
    """Expected fees net of expected LVR over the proposed band's expected holding time, minus the same for
    keeping the current band over that time. Both scale with liquidity in range, so the sign of (fees - LVR)
    per unit of liquidity, set by volume against variance, decides whether concentrating or widening pays.
    In a classified trend the estimated drift also prices the change in ETH held (`eth_change`)."""
    variance_per_step = 0.5 * (memory.var_short + memory.var_long)
    holding_steps = expected_holding_steps(proposed, variance_per_step, params)
    horizon_sd = jnp.sqrt(variance_per_step * 0.5 * holding_steps) + 1e-12
    lvr_per_liquidity = 0.25 * variance_per_step * sqrt_price  # sigma^2 dt sqrt(P) / 4 per step

    def net_rate(position: Position) -> jax.Array:
        p_in = probability_in_range(log_price, position.tick_lower * pool.LOG_TICK,
                                    position.tick_upper * pool.LOG_TICK, horizon_sd)
        fees = fee_rate * memory.mean_volume_usd / (position.liquidity + pool_liquidity)
        return position.liquidity * p_in * (fees - lvr_per_liquidity)

    drift_per_step = jnp.where(regime_estimate == _TREND, memory.mean_return, 0.0)
    directional = drift_per_step * sqrt_price**2 * eth_change
    return holding_steps * (net_rate(proposed) - net_rate(current) + directional)


def passes_gate(net_gain_usd: jax.Array, params: AgentParams) -> jax.Array:
    """The EV gate: the expected gain net of swap cost, less GAS (the bot's belief of the action's gas),
    must reach FEE_GATE. Both constants move decisions: raising either asks more of an action."""
    return net_gain_usd - params.gas_usd >= params.fee_gate_usd


def make_position(liquidity: jax.Array, tick_lower: jax.Array, tick_upper: jax.Array,
                  sqrt_price_ref: jax.Array) -> Position:
    """A position on [tick_lower, tick_upper] (ticks relative to the reference price)."""
    return Position(liquidity=liquidity, tick_lower=tick_lower, tick_upper=tick_upper,
                    sqrt_lower=sqrt_price_ref * pool.sqrt_price_at_tick(tick_lower),
                    sqrt_upper=sqrt_price_ref * pool.sqrt_price_at_tick(tick_upper))


def eth_held_and_target(observation: Observation, target: Position) -> tuple[jax.Array, jax.Array]:
    """ETH in the held position and in `target` at the observed price: their difference is swapped."""
    obs = observation
    eth_held, _ = pool.amounts_for_liquidity(obs.sqrt_price, obs.position.sqrt_lower, obs.position.sqrt_upper,
                                             obs.position.liquidity)
    eth_target, _ = pool.amounts_for_liquidity(obs.sqrt_price, target.sqrt_lower, target.sqrt_upper, target.liquidity)
    return eth_held, eth_target


def rebalance_swap_cost_usd(observation: Observation, eth_held: jax.Array, eth_target: jax.Array) -> jax.Array:
    """Pool fee and price impact of swapping the held position's tokens into the target's."""
    obs = observation
    return pool.swap_cost_usd((eth_held - eth_target) * obs.sqrt_price**2, obs.fee_rate, obs.sqrt_price,
                              obs.pool_liquidity)


def estimate_regime(observation: Observation, memory: Memory, params: AgentParams, classifier: str = "online"):
    """The regime the policy acts on: its online classification, or the true one (`classifier="oracle"`)."""
    regime = observation.true_regime if classifier == "oracle" else classify(memory, params)
    return regime.astype(jnp.int32)


def act(observation: Observation, memory: Memory, params: AgentParams, gating: str = "ev",
        classifier: str = "online") -> Action:
    """The bot's decision for one step: the first rule that fires (off cooldown) proposes a band at the
    regime's width or wider; the EV gate lets it through when its expected gain, net of swap cost, less GAS
    reaches FEE_GATE (`passes_gate`). The gate applies when `params.ev_gate` (traced) is set and
    `gating="ev"` (static; "off" compiles the gate out). `classifier="oracle"` (static) reads the true
    regime from the observation instead of classifying online (ablations only)."""
    obs, pos = observation, observation.position
    regime_estimate = estimate_regime(obs, memory, params, classifier)
    tick = pool.tick_at_log_price(obs.log_price)
    proposal = propose(tick, pos, memory, regime_estimate, params, obs.tick_spacing)
    target = make_position(pos.liquidity, proposal.tick_lower, proposal.tick_upper, obs.sqrt_price_ref)
    unit_value = pool.value_per_liquidity(obs.sqrt_price, target.sqrt_lower, target.sqrt_upper)
    target = target._replace(liquidity=rails.deployable_liquidity(obs.value_usd, unit_value, obs.pool_liquidity,
                                                                  params))
    eth_held, eth_target = eth_held_and_target(obs, target)
    swap_cost = rebalance_swap_cost_usd(obs, eth_held, eth_target)
    if gating == "ev":   # compiled in; params.ev_gate (traced) switches it, so gate on and off share a compile
        gain = expected_gain_usd(obs.log_price, obs.sqrt_price, pos, target, eth_target - eth_held,
                                 regime_estimate, memory, params, obs.fee_rate, obs.pool_liquidity)
        gate_open = passes_gate(gain - swap_cost, params) | ~params.ev_gate
    else:
        gate_open = jnp.ones((), bool)
    asked = proposal.fired & (memory.steps_since_action >= params.cooldown_steps)
    intent = jnp.where(proposal.rule == _WIDEN, _WIDEN_KIND, jnp.where(proposal.rule == _NARROW, _NARROW_KIND, _RECENTER))
    kind = jnp.where(asked & gate_open, intent, _HOLD).astype(jnp.int32)
    return Action(kind=kind, rule=proposal.rule, asked=asked, position=target, swap_cost_usd=swap_cost,
                  regime_estimate=regime_estimate)


def remember(memory: Memory, log_return: jax.Array, volume_usd: jax.Array, out_of_range: jax.Array,
             acted: jax.Array, params: AgentParams) -> Memory:
    """The memory after a step: the step's return and pool volume folded into the estimates, the
    out-of-range clock (steps the band has been wholly out of range), the cooldown clock, and the
    persistence clocks of high and low volatility (restarted by an action: each widen or narrow needs
    its own spell of persistent volatility)."""
    updated = update_estimates(memory, log_return, volume_usd, params)
    ratio = robust_vol_ratio(updated)
    return updated._replace(
        steps_out_of_range=jnp.where(out_of_range, memory.steps_out_of_range + 1.0, 0.0),
        steps_since_action=jnp.where(acted, 1.0, memory.steps_since_action + 1.0),
        steps_vol_high=jnp.where((ratio > params.vol_widen_ratio) & ~acted, memory.steps_vol_high + 1.0, 0.0),
        steps_vol_low=jnp.where((ratio < params.vol_narrow_ratio) & ~acted, memory.steps_vol_low + 1.0, 0.0),
    )
