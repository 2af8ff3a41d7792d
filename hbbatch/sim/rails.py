"""The go-live safety rails: a filter between the policy's action and its execution.

`apply(action, observation, rail_state, params)` returns the action that goes ahead (the policy's,
a hold, or a safety exit) and why; `update` advances the rails' counters once the step's gas and
equity are known. The policy cannot see or reset these counters. Rails, in order:

- manual override: `hold` refuses every action, `exit` closes the position and stands down;
- drawdown: equity below (1 - max_drawdown) x its peak closes the position and stands down;
- hard cap: K // N gas-paying actions per episode, one kept in reserve so that a safety exit never
  breaks the cap;
- emergency stop: an action whose quoted gas would take the window's spend over its cap is refused,
  and every action is held until the window ends (safety exits are exempt);
- position size: liquidity at most `max_capital_usd` worth and `max_pool_share` of active liquidity.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from hbbatch.sim import once
from hbbatch.sim.types import ACTION_KINDS, OVERRIDES, Action, AgentParams, Observation, RailState

_OVERRIDE_HOLD, _OVERRIDE_EXIT = OVERRIDES.index("hold"), OVERRIDES.index("exit")
_HOLD, _EXIT = ACTION_KINDS.index("hold"), ACTION_KINDS.index("exit")


class RailOutcome(NamedTuple):
    """Why the filtered action is what it is."""

    considered: jax.Array      # () bool: the policy asked while the rails allowed actions (a rule "fire")
    rebalance: jax.Array       # () bool: the policy's action goes ahead
    tripped: jax.Array         # () bool: the emergency stop refused it (gas cap of the window)
    drawdown_exit: jax.Array   # () bool: the drawdown rail closes the position
    manual_exit: jax.Array     # () bool: the manual override closes the position
    exit: jax.Array            # () bool: either rail closes it (drawdown_exit | manual_exit)
    acted: jax.Array           # () bool: a gas-paying action happens this step (rebalance | exit)


def initial_state(capital_usd: jax.Array) -> RailState:
    zero = jnp.zeros_like(capital_usd)
    return RailState(window_gas_usd=zero, stopped_until_step=zero, stood_down=jnp.zeros((), bool), actions=zero,
                     peak_equity_usd=capital_usd)


def deployable_liquidity(value_usd: jax.Array, value_per_liquidity: jax.Array, pool_liquidity: jax.Array,
                         params: AgentParams) -> jax.Array:
    """Liquidity for a value, capped by the position size rail (capital and share of the pool)."""
    share_cap = params.max_pool_share / (1.0 - params.max_pool_share) * pool_liquidity
    capital_cap = params.max_capital_usd / value_per_liquidity
    return jnp.minimum(value_usd / value_per_liquidity, jnp.minimum(share_cap, capital_cap))


def apply(action: Action, observation: Observation, rail_state: RailState,
          params: AgentParams) -> tuple[Action, RailOutcome]:
    """The action that executes this step, and the rails' reasons."""
    obs, rs, a = observation, rail_state, params
    override_active = obs.step >= a.override_from_step
    free = ((obs.step >= rs.stopped_until_step) & (rs.actions + 2.0 <= a.max_actions_per_episode) & ~rs.stood_down
            & ~(override_active & (a.override_mode == _OVERRIDE_HOLD)))
    exit_allowed = ~rs.stood_down & (rs.actions + 1.0 <= a.max_actions_per_episode)
    drawdown_exit = ((obs.equity_usd < (1.0 - a.max_drawdown) * rs.peak_equity_usd) & exit_allowed
                     & (obs.position.liquidity > 0))
    manual_exit = override_active & (a.override_mode == _OVERRIDE_EXIT) & exit_allowed
    exit_now = drawdown_exit | manual_exit
    wanted = (action.kind != _HOLD) & free & ~exit_now
    within_cap = rs.window_gas_usd + obs.gas_usd <= a.gas_cap_usd_per_window
    rebalance = wanted & within_cap
    kind = jnp.where(exit_now, _EXIT, jnp.where(rebalance, action.kind, _HOLD)).astype(jnp.int32)
    # the end of a long chain (the policy's EV gate, then these rails) that a dozen kernels of the step read
    # (exit and acted packed too: each reader then unpacks one bit instead of combining three)
    kind, considered, rebalance, tripped, drawdown_exit, manual_exit, exit_now, acted = once.computed_once(
        (kind, action.asked & free, rebalance, wanted & ~within_cap, drawdown_exit, manual_exit, exit_now,
         rebalance | exit_now), (3, 1, 1, 1, 1, 1, 1, 1))
    position = jax.tree.map(lambda new, old: jnp.where(rebalance, new, old), action.position, obs.position)
    position = position._replace(liquidity=jnp.where(exit_now, 0.0, position.liquidity))
    outcome = RailOutcome(considered=considered, rebalance=rebalance, tripped=tripped,
                          drawdown_exit=drawdown_exit, manual_exit=manual_exit, exit=exit_now, acted=acted)
    return action._replace(kind=kind, position=position), outcome


def update(rail_state: RailState, outcome: RailOutcome, step: jax.Array, gas_paid_usd: jax.Array,
           equity_usd: jax.Array, params: AgentParams) -> RailState:
    """The counters after the step (`step` the step just taken, `equity_usd` after its move)."""
    rs, a = rail_state, params
    window_start = (jnp.floor((step + 1.0) / a.gas_window_steps) * a.gas_window_steps) == step + 1.0
    window_end = (jnp.floor(step / a.gas_window_steps) + 1.0) * a.gas_window_steps
    return RailState(
        window_gas_usd=jnp.where(window_start, 0.0, rs.window_gas_usd + gas_paid_usd),
        stopped_until_step=jnp.where(outcome.tripped, window_end, rs.stopped_until_step),
        stood_down=rs.stood_down | outcome.exit,
        actions=rs.actions + outcome.acted,
        peak_equity_usd=jnp.maximum(rs.peak_equity_usd, equity_usd),
    )
