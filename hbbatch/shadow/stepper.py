"""The simulator's own policy and rails, driven one observation at a time from host values.

One step is exactly the simulator's: `policy.act` on `env.observe(state, world)`, then `env.transition`
(rails, execution, accrual, memory, attribution); the rails' reasons (`rails.apply`) come back beside it
for the decision log. The step is jitted once (static gating and classifier); every per-step input is a
traced value, so no observation, override or rail change ever recompiles. The world's move for a step is
`hbbatch.sim.replay.observed_move`, as the replay builds it from bars (LVR from the realised squared return,
no simulated gas draw), and the opening is the replay's `opening_state` (the policy's memory warmed up on
the warm-up's observed moves by `env.warm_up`, then the band opened), so a shadow run over bars makes the
decisions a replay of the same bars makes.

Rails that need wall-clock time are mapped onto the simulator's own traced rail parameters:
- the hard cap per rolling window of hours becomes the step's `max_actions_per_episode` (actions so far
  plus what the window still allows), so the simulator's rule (rebalances keep one action in reserve for
  a safety exit) applies unchanged;
- a manual pause or exit becomes the simulator's `override_mode` (hold / exit) from this step on;
- an observed gas price becomes the step's `MarketMove.gas_usd`: the gas paid is the gas seen (bars carry
  no gas: the market's median, as in the replay).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hbbatch.sim import env, make_params, policy, precision, rails
from hbbatch.sim.price import gas_paid_usd
from hbbatch.sim.replay import observed_move, opening_state
from hbbatch.sim.types import ACTION_KINDS, OVERRIDES, OWNERS, RULES, SimParams, SimState

DTYPE = "float64"   # one step at a time: speed is no concern, and real prices deserve the precision


class StepControls(NamedTuple):
    """Host decisions for one step (all traced)."""

    override: str                 # none | hold | exit (a manual override, or the configured one)
    override_from_step: float
    max_actions_total: float      # the simulator's action allowance this step
    gas_usd: float | None         # observed cost of one action; None: the market's median


@dataclass(frozen=True)
class StepOutcome:
    """What one step decided, in host values."""

    action: str                   # what executed: hold, recenter, widen, narrow, exit
    owner: str                    # whose decision set the position now held
    asked: str                    # what the policy asked for ("" when no rule fired off cooldown)
    asked_rule: str               # the rule that asked
    blocked_by: str               # why an ask did not execute: ev_gate, emergency_stop, rails ("" otherwise)
    acted: bool
    emergency_stop: bool          # an action was refused by the gas cap this step
    gas_usd: float
    price_usd: float


def single_step(state: SimState, world: MarketMove, params: SimParams, gating: str, classifier: str):
    """The simulator's step in a given world move, with the policy's ask and the rails' reasons."""
    observation = env.observe(state, world, params)
    asked = policy.act(observation, state.memory, params.agent, gating, classifier)
    _, why = rails.apply(asked, observation, state.rails, params.agent)
    state, record = env.transition(state, world, asked, params)
    return state, record, asked, why


@functools.lru_cache(maxsize=8)
def compiled_step(gating: str, classifier: str):
    """The jitted step for a (static) gating and classifier: compiled once per process, whatever the run."""
    return jax.jit(functools.partial(single_step, gating=gating, classifier=classifier))


@functools.lru_cache(maxsize=8)
def compiled_reset(classifier: str):
    """The jitted opening (compiled once per warm-up length: it is the arrays' shape)."""
    return jax.jit(functools.partial(opening_state, classifier=classifier))


class Stepper:
    """The policy and rails of the simulator for one live episode."""

    def __init__(self, config: dict[str, Any], price_start_usd: float):
        self.price_start_usd = float(price_start_usd)
        market = {**config["market"], "price_start_usd": self.price_start_usd}
        self.params: SimParams = make_params(market=market, agent=config["agent"], floors=config["floors"],
                                             regime_mix=config["regime_mix"], dtype=DTYPE,
                                             gating=str(config["gating"]["mode"]))
        self.gating = str(config["gating"]["mode"])
        self.classifier = "online"    # real prices have no true regime
        self._step = compiled_step(self.gating, self.classifier)
        self._reset = compiled_reset(self.classifier)
        with precision.scope():   # the replay's gas on bars: the median, no draw
            self.median_gas_usd = float(gas_paid_usd(precision.array(0.0, DTYPE), jnp.zeros((), bool),
                                                     self.params.market))

    def start_usd_tick(self) -> float:
        """The simulator's opening tick (USD per ETH, on its tick grid): bands are relative to it."""
        with precision.scope():
            return float(env.start_tick(self.params))

    def reset(self, pool_liquidity: float, warmup_log_return=(), warmup_volume_usd=(),
              gas_usd: float | None = None) -> SimState:
        """The state at the first decision: the memory warmed up on the observed moves (none: cold), the band
        opened at the stepper's start price, paying `gas_usd` (the observed cost of an action at the open;
        None: the market's median, as `step` charges)."""
        gas = self.median_gas_usd if gas_usd is None else gas_usd
        with precision.scope():
            return self._reset(self.params, precision.array(pool_liquidity, DTYPE),
                               precision.array(np.asarray(warmup_log_return, np.float64), DTYPE),
                               precision.array(np.asarray(warmup_volume_usd, np.float64), DTYPE),
                               opening_gas_usd=precision.array(gas, DTYPE))

    def params_for(self, controls: StepControls) -> SimParams:
        agent = self.params.agent._replace(
            override_mode=jnp.asarray(OVERRIDES.index(controls.override), jnp.int32),
            override_from_step=precision.array(controls.override_from_step, DTYPE),
            max_actions_per_episode=precision.array(controls.max_actions_total, DTYPE))
        return self.params._replace(agent=agent)

    def step(self, state: SimState, log_return: float, volume_usd: float, pool_liquidity: float,
             controls: StepControls) -> tuple[SimState, StepOutcome]:
        gas = self.median_gas_usd if controls.gas_usd is None else controls.gas_usd
        gas_before = float(state.totals.gas_usd)
        with precision.scope():
            f = functools.partial(precision.array, dtype=DTYPE)
            world = observed_move(f(log_return), f(volume_usd), f(pool_liquidity), f(gas), self.params.market.fee_rate)
            state, record, asked, why = self._step(state, world, self.params_for(controls))
        record, asked, why, owner, gas_total = jax.device_get((record, asked, why, state.owner, state.totals.gas_usd))
        wanted, did_ask = ACTION_KINDS[int(asked.kind)], bool(asked.asked)
        acted = bool(why.rebalance) or bool(why.drawdown_exit) or bool(why.manual_exit)
        if not did_ask or acted:
            blocked = ""
        elif wanted == "hold":
            blocked = "ev_gate"
        elif bool(why.tripped):
            blocked = "emergency_stop"
        else:
            blocked = "rails"          # hard cap, override pause, stood down
        return state, StepOutcome(
            action=ACTION_KINDS[int(record.action)], owner=OWNERS[int(owner)],
            asked=(wanted if wanted != "hold" else "rebalance") if did_ask else "",
            asked_rule=RULES[int(asked.rule)] if did_ask else "", blocked_by=blocked, acted=acted,
            emergency_stop=bool(why.tripped), gas_usd=float(gas_total) - gas_before, price_usd=float(record.price_usd))


def state_to_arrays(state: SimState) -> dict[str, np.ndarray]:
    """The state as named host arrays (exact: the same bits come back)."""
    leaves = jax.tree_util.tree_leaves_with_path(state)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def state_from_arrays(template: SimState, arrays: dict[str, np.ndarray]) -> SimState:
    """Rebuild a state saved by `state_to_arrays`, using a fresh state for the structure and dtypes."""
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves = []
    for path, leaf in paths:
        name = jax.tree_util.keystr(path)
        if name not in arrays:
            raise KeyError(name)
        value = np.asarray(arrays[name])
        if value.dtype != np.asarray(leaf).dtype or value.shape != np.asarray(leaf).shape:
            raise ValueError(f"{name}: saved {value.dtype}{value.shape}, expected {np.asarray(leaf).dtype}"
                             f"{np.asarray(leaf).shape}")
        leaves.append(precision.array(value, value.dtype))
    return jax.tree_util.tree_unflatten(treedef, leaves)
