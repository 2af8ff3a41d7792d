"""The simulator's three kinds of data: spec (static), params (traced numbers), state (per step).

Shapes in comments are for ONE episode: the rollout adds the episode axis with `vmap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax

from hbbatch.config.sim import REGIMES, RULES  # one definition each, jax-free
# Attribution owners: the initial position, the rules in priority order, then the rails that act.
OWNERS = ("initial",) + RULES + ("rail_drawdown", "manual_override")
N_REGIMES, N_RULES, N_OWNERS = len(REGIMES), len(RULES), len(OWNERS)
ACTION_KINDS = ("hold", "recenter", "widen", "narrow", "exit")
OVERRIDES = ("none", "hold", "exit")
GATINGS = ("ev", "off")
CLASSIFIERS = ("online", "oracle")
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class RolloutSpec:
    """Static structure: changing any field compiles a new batch function."""

    n_episodes: int
    n_steps: int
    gating: str = "ev"            # key into GATINGS: "ev" compiles the EV gate in and `AgentParams.ev_gate`
    #                               switches it per run (traced: A, B and C share one compile); "off" compiles
    #                               it out (floors only, whatever ev_gate says)
    classifier: str = "online"    # "oracle" lets the agent see the true regime (ablations)
    dtype: str = "float32"
    record_path: bool = False     # also return per-step price and band (tests, replay): memory O(N*T)
    warmup_steps: int = 0         # steps of the world folded into the policy's memory before the open
    checkpoint_steps: int = 0     # K > 0: also return each episode's carry (state, world) at steps 0, K, 2K, ...
    #                               (resumed counterfactual re-runs: hbbatch.sim.rollout.simulate_resumed); 0: none

    def __post_init__(self) -> None:
        for name, allowed in (("gating", GATINGS), ("classifier", CLASSIFIERS), ("dtype", DTYPES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"RolloutSpec.{name}={getattr(self, name)!r}: use one of {', '.join(allowed)}")
        if self.n_episodes < 1 or self.n_steps < 2:
            raise ValueError(f"RolloutSpec: n_episodes={self.n_episodes}, n_steps={self.n_steps}: "
                             "need n_episodes >= 1 and n_steps >= 2")
        if self.checkpoint_steps and (self.checkpoint_steps < 0 or self.n_steps % self.checkpoint_steps
                                      or self.record_path):
            raise ValueError(f"RolloutSpec.checkpoint_steps={self.checkpoint_steps}: must divide n_steps="
                             f"{self.n_steps}, without record_path")


class MarketParams(NamedTuple):
    """The world. Per-regime arrays are indexed in REGIMES order."""

    price_start_usd: jax.Array        # ()
    dt_years: jax.Array               # () one step
    tick_spacing: jax.Array           # ()
    fee_rate: jax.Array               # ()
    vol_annual: jax.Array             # (n_regimes,)
    drift_annual: jax.Array           # (n_regimes,) mean of the per-episode drift
    drift_dispersion_annual: jax.Array  # (n_regimes,) std dev of the per-episode drift
    mean_reversion_per_day: jax.Array  # (n_regimes,)
    jumps_per_day: jax.Array          # (n_regimes,)
    jump_size_std: jax.Array          # (n_regimes,)
    garch_alpha: jax.Array            # () hourly GARCH(1,1) weight of the last hour's squared innovation
    garch_beta: jax.Array             # () ... and of the last conditional variance
    garch_start_log_sd: jax.Array     # () spread of ln(conditional variance) at an episode's start
    volume_usd_per_step: jax.Array    # ()
    volume_vol_share: jax.Array       # ()
    volume_ref_vol_annual: jax.Array  # ()
    pool_liquidity: jax.Array         # () sqrt(ETH*USD)
    pool_liquidity_dispersion: jax.Array  # ()
    gas_usd_median: jax.Array         # ()
    gas_dispersion: jax.Array         # ()
    gas_vol_elasticity: jax.Array     # () d ln(gas) / d ln(volatility)
    gas_ref_vol_annual: jax.Array     # () volatility at which gas is at its median
    gas_spell_enter_prob: jax.Array   # () per step
    gas_spell_exit_prob: jax.Array    # () per step
    gas_spell_multiplier: jax.Array   # ()
    regime_cdf: jax.Array             # (n_regimes,) cumulative regime mix


class AgentParams(NamedTuple):
    """The agent's settings, all traced: sweeping them never recompiles."""

    capital_usd: jax.Array            # ()
    gas_usd: jax.Array                # () GAS: the bot's belief of one action's cost
    fee_gate_usd: jax.Array           # () FEE_GATE
    ev_gate: jax.Array                # () bool: the EV gate applies (gating.mode=ev); off is campaign A (floors only)
    ev_horizon_steps: jax.Array       # () longest holding time the gate credits a band with
    floor_ticks: jax.Array            # (n_regimes,)
    width_ticks: jax.Array            # (n_regimes,) the band's width per classified regime, at least the floor
    classifier_alpha: jax.Array       # () EWMA weight per step
    jump_sigmas: jax.Array            # ()
    jumpy_variance_share: jax.Array   # ()
    trend_tstat: jax.Array            # ()
    rule_enabled: jax.Array           # (n_rules,) bool: a rule switched off never fires (counterfactual runs)
    rebalance_after_steps: jax.Array  # () out of range this long before re-entering
    reentry_single_sided: jax.Array   # () bool: re-enter beside the price with the token held (no swap)
    edge_fraction: jax.Array          # ()
    vol_widen_ratio: jax.Array        # ()
    vol_narrow_ratio: jax.Array       # ()
    vol_persist_steps: jax.Array      # ()
    widen_factor: jax.Array           # ()
    max_width_ticks: jax.Array        # ()
    trend_shift_fraction: jax.Array   # ()
    cooldown_steps: jax.Array         # ()
    vol_short_alpha: jax.Array        # ()
    vol_long_alpha: jax.Array         # ()
    gas_window_steps: jax.Array       # ()
    gas_cap_usd_per_window: jax.Array  # ()
    max_actions_per_episode: jax.Array  # () K // N of the hard cap
    max_capital_usd: jax.Array        # ()
    max_pool_share: jax.Array         # ()
    max_drawdown: jax.Array           # ()
    override_mode: jax.Array          # () index into OVERRIDES
    override_from_step: jax.Array     # ()


class SimParams(NamedTuple):
    market: MarketParams
    agent: AgentParams
    world: Any = None                 # hbbatch.sim.history.HistoryParams for a historical world; None: parametric


class Position(NamedTuple):
    liquidity: jax.Array              # () sqrt(ETH*USD); 0 after an exit
    tick_lower: jax.Array             # () relative to the opening tick
    tick_upper: jax.Array             # ()
    sqrt_lower: jax.Array             # () sqrt(USD/ETH) at tick_lower, cached: exp is costly in the hot loop
    sqrt_upper: jax.Array             # ()


class RegimeDynamics(NamedTuple):
    """The episode's regime numbers, looked up once instead of every step."""

    vol_annual: jax.Array             # ()
    sigma_sqrt_dt: jax.Array          # () diffusive std dev per step
    log_drift_per_step: jax.Array     # () drift per step (Ito and jump compensation come with the step's variance)
    reversion_per_step: jax.Array     # () OU pull per step
    jump_prob: jax.Array              # () per step
    jump_size_std: jax.Array          # ()
    hours_per_step: jax.Array         # ()
    steps_per_hour: jax.Array         # () steps between GARCH updates (at least 1)
    garch_omega: jax.Array            # () GARCH constant per hour, set by the regime's long-run variance
    variance_per_hour: jax.Array      # () the regime's long-run variance of an hour's innovation (diffusion + jumps)
    volume_usd_per_step: jax.Array    # () the episode's pool volume level per step
    volume_ref_abs_move: jax.Array    # () |innovation| at which the |return|-driven volume is at its level
    gas_ref_vol_annual: jax.Array     # () volatility at which gas is at the episode's level
    gas_usd: jax.Array                # () the episode's gas per action at that volatility
    gas_log_sd: jax.Array             # () per-action lognormal noise of gas
    week_hour: jax.Array              # () hour of the week the episode opens at (the weekly volatility profile)
    level_day: jax.Array              # () the level table's row of the episode's first day (its clock: day j reads row + j)


class MarketState(NamedTuple):
    """The market's own per-step state (GARCH): a function of the episode's draws only, never the agent."""

    variance_per_hour: jax.Array      # () conditional variance of this hour's innovation (diffusion + jumps)
    hour_innovation: jax.Array        # () innovation of ln P since the hour began


class Memory(NamedTuple):
    """What the policy remembers between steps: its online estimates and its own clocks."""

    mean_abs_return: jax.Array        # () EWMA |r| (robust scale)
    mean_return: jax.Array            # () EWMA r (drift)
    mean_sq_return: jax.Array         # () EWMA r^2
    mean_sq_jump: jax.Array           # () EWMA r^2 over jump returns
    var_short: jax.Array              # () short-window EWMA r^2 (the EV gate's variance)
    var_long: jax.Array               # () long-window EWMA r^2
    robust_var_short: jax.Array       # () short-window EWMA of r^2 winsorised at jump_sigmas (the width rules')
    robust_var_long: jax.Array        # () long-window ...
    mean_volume_usd: jax.Array        # () long-window EWMA of the pool's volume per step (on-chain)
    steps_out_of_range: jax.Array     # () consecutive steps the band spent wholly out of range
    steps_since_action: jax.Array     # ()
    steps_vol_high: jax.Array         # () consecutive steps the robust vol ratio stayed above vol_widen_ratio
    steps_vol_low: jax.Array          # () ... below vol_narrow_ratio


class RailState(NamedTuple):
    """The safety rails' counters: kept apart from the policy, which cannot see or reset them."""

    window_gas_usd: jax.Array         # () gas spent in the current rail window
    stopped_until_step: jax.Array     # () emergency stop holds actions until this step
    stood_down: jax.Array             # () bool: exited for good (drawdown or manual exit)
    actions: jax.Array                # () gas-paying actions so far (the hard cap counts these)
    peak_equity_usd: jax.Array        # () the drawdown rail measures from this peak


class Observation(NamedTuple):
    """What the bot sees when it decides, before the step's price move. Ticks are relative to a
    reference tick (the episode's opening tick on the grid), so log_price = ln(P / P_ref)."""

    step: jax.Array                   # () steps since the start (float): the rails' clock
    log_price: jax.Array              # () ln(P / P_ref)
    sqrt_price: jax.Array             # () sqrt(P) in sqrt(USD/ETH)
    sqrt_price_ref: jax.Array         # () sqrt(P_ref): converts relative ticks to prices
    position: Position                # the band held now
    value_usd: jax.Array              # () the position's value at P
    equity_usd: jax.Array             # () position value plus cash
    pool_liquidity: jax.Array         # () competing active liquidity, sqrt(ETH*USD)
    gas_usd: jax.Array                # () quoted cost of one action now (the rails' emergency stop)
    fee_rate: jax.Array               # () the pool's fee tier
    tick_spacing: jax.Array           # ()
    true_regime: jax.Array            # () int index into REGIMES, -1 where unknown (oracle ablations only)


class Action(NamedTuple):
    """What the policy asks for (before the rails) or what the rails let through (after them)."""

    kind: jax.Array                   # () int index into ACTION_KINDS; hold keeps the current position
    rule: jax.Array                   # () int index into RULES: the rule that asked
    asked: jax.Array                  # () bool: a rule fired off cooldown (a "fire", whether or not the gate passed)
    position: Position                # the position to hold after the action
    swap_cost_usd: jax.Array          # () pool fee and price impact of swapping into `position` at the observed price
    regime_estimate: jax.Array        # () int index into REGIMES: the policy's classification


class Totals(NamedTuple):
    """Per-episode accumulators, reduced to metrics at the end."""

    fees_usd: jax.Array
    gas_usd: jax.Array
    swap_cost_usd: jax.Array
    lvr_usd: jax.Array
    widens: jax.Array
    steps_in_range: jax.Array
    sum_sq_return: jax.Array
    max_drawdown: jax.Array
    emergency_stops: jax.Array
    drawdown_exit: jax.Array
    rule_fires: jax.Array             # (n_owners,)
    rule_actions: jax.Array           # (n_owners,)
    rule_gas_usd: jax.Array           # (n_owners,)
    rule_pnl_usd: jax.Array           # (n_owners,) attributed pnl vs hodl (holding-period diagnostic)
    classified_steps: jax.Array       # (n_regimes,) steps the policy classified as each regime


class EpisodeConstants(NamedTuple):
    """Drawn once per episode from (seed, episode index): the same for every agent setting."""

    counter_key: jax.Array            # (2,) uint32: the 64-bit key of the per-step counter hash
    regime: jax.Array                 # () int, index into REGIMES
    dynamics: RegimeDynamics
    sqrt_price_start: jax.Array       # () sqrt(USD/ETH) at the opening tick
    pool_liquidity: jax.Array         # ()
    hodl_eth: jax.Array               # () tokens held at t = 0 (position plus idle)
    hodl_usd: jax.Array               # ()


class SimState(NamedTuple):
    t: jax.Array                      # () step index
    log_price: jax.Array              # () ln(P / P0), P0 the opening price snapped to the tick grid
    sqrt_price: jax.Array             # () sqrt(P), carried so the next step does not recompute it
    gas_spell: jax.Array              # () bool: the world is in a high-gas spell
    market: MarketState               # the parametric world's volatility state (left as is by replayed worlds)
    cash_usd: jax.Array               # () fees in, gas and swap costs out, idle capital
    equity_usd: jax.Array             # () position value + cash at the current price
    relative_usd: jax.Array           # () equity - hodl value at the current price
    position: Position
    owner: jax.Array                  # () int: whose action set the current position (index into OWNERS)
    memory: Memory
    rails: RailState
    totals: Totals
    episode: EpisodeConstants


class StepRecord(NamedTuple):
    """Per-step outputs, only when RolloutSpec.record_path is set."""

    price_usd: jax.Array              # ()
    tick_lower: jax.Array             # ()
    tick_upper: jax.Array             # ()
    action: jax.Array                 # () index into ACTION_KINDS
    owner: jax.Array                  # () index into OWNERS: whose action set the position held (the rule on an action)
    regime_estimate: jax.Array        # () the agent's classification, index into REGIMES
    equity_usd: jax.Array             # ()
    volume_usd: jax.Array             # () the pool's volume in the step (the world's, not the agent's)
    gas_usd: jax.Array                # () the world's cost of one action in the step, whether or not one was taken
    pool_liquidity: jax.Array         # () competing active liquidity in the step
