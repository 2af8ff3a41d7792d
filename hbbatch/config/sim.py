"""Structured-config schemas for the simulator's numbers: the single source of their names and defaults.

Hydra registers these in the ConfigStore (a typo in a key fails at compose time, naming it); the
simulator reads the same keys from plain mappings in `hbbatch.sim.params.make_params`. Defaults come
from `../shared/reference/lp_theory.md` and the real data summarised in `hbbatch/data/README.md`,
until a calibration report replaces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The regimes, in the order every per-regime array uses; here, not in the simulator, so that code which
# must not import jax (start-up, calibration, statistics) shares the one definition.
REGIMES = ("mean_revert", "jumpy", "trend_up")
MIX_TOLERANCE = 0.011  # a regime mix may sum to 1 within this: the roadmap's calibrated mix sums to 0.99


@dataclass
class PerRegime:
    """One number per regime, in the simulator's regime order."""

    mean_revert: float = 0.0
    jumpy: float = 0.0
    trend_up: float = 0.0


def _per_regime(mean_revert: float, jumpy: float, trend_up: float):
    return field(default_factory=lambda: PerRegime(mean_revert, jumpy, trend_up))


@dataclass
class MarketConf:
    """The world: price processes per regime, pool volume and liquidity, the gas actually paid."""

    price_start_usd: float = 2270.0          # ETH/USDC open on 2024-01-05 (mainnet 0.05 % pool)
    step_minutes: float = 1.0
    tick_spacing: int = 10                   # 0.05 % pool
    fee_rate: float = 0.0005                 # LP share of each swap (0.000375 where the fee switch is on)
    vol_annual: PerRegime = _per_regime(0.55, 0.75, 0.65)
    drift_annual: PerRegime = _per_regime(0.0, 0.0, 3.0)             # trend weeks: about +6 % a week
    mean_reversion_per_day: PerRegime = _per_regime(1.0, 0.0, 0.0)   # OU pull on log price: half-life 0.7 day
    jumps_per_day: PerRegime = _per_regime(0.0, 6.0, 0.0)
    jump_size_std: PerRegime = _per_regime(0.0, 0.012, 0.0)          # log-jump std dev
    volume_usd_per_day: float = 2.47e8       # 2024-01-05: ~247 M USDC-equivalent
    volume_vol_share: float = 0.6            # share of volume that scales with |return| (rest is flow)
    volume_ref_vol_annual: float = 0.55      # volatility at which the |return|-driven part is at its mean
    pool_liquidity: float = 1.245e7          # active L in sqrt(ETH*USD); 2024-01-05 median 1.245e19 raw / 1e12
    pool_liquidity_dispersion: float = 0.25  # per-episode lognormal sigma of active liquidity
    gas_usd_median: float = 4.7              # world cost of a recenter (~0.79 M gas at 2 gwei, ETH $3,000)
    gas_dispersion: float = 0.35             # per-action lognormal sigma around the median
    gas_spells_per_day: float = 0.5          # rate of entering a high-gas spell
    gas_spell_hours: float = 3.0             # mean spell length
    gas_spell_multiplier: float = 4.0        # gas during a spell, times the median


@dataclass
class FloorsConf:
    """Minimum full width in ticks the agent may use, per classified regime."""

    mean_revert: float = 1200.0
    jumpy: float = 1400.0
    trend_up: float = 1600.0


@dataclass
class RegimeMixConf:
    """Share of episodes in each regime (must sum to 1)."""

    mean_revert: float = 0.4
    jumpy: float = 0.3
    trend_up: float = 0.3


@dataclass
class RulesConf:
    """Named rules, checked in this priority order; the first that fires proposes the action."""

    out_of_range_minutes: float = 15.0       # recenter after this long out of range
    edge_fraction: float = 0.08              # recenter when price is within this share of the width from an edge
    vol_spike_ratio: float = 2.0             # widen when short-window vol / long-window vol exceeds this
    widen_factor: float = 1.5
    max_width_ticks: float = 6000.0
    calm_ratio: float = 0.6                  # narrow back to the floor when the vol ratio falls below this
    trend_shift_fraction: float = 0.25       # shift up when price is this share of the half-width above centre in a trend
    cooldown_minutes: float = 60.0           # no new action this soon after the last one
    vol_short_minutes: float = 30.0          # half-lives of the short and long volatility estimates
    vol_long_minutes: float = 1440.0
    enabled: list[str] = field(default_factory=lambda: ["out_of_range", "edge", "vol_spike_widen",
                                                        "calm_narrow", "trend_shift"])


@dataclass
class RailsConf:
    """The go-live checklist's safety rails."""

    gas_window_minutes: float = 1440.0       # emergency stop: gas spent in the current window ...
    gas_cap_usd_per_window: float = 60.0     # ... above this stops every action until the window ends
    max_actions: int = 120                   # hard cap: K gas-paying actions ...
    max_actions_episodes: int = 10           # ... per N episodes (each gets K // N, one kept for a safety exit)
    max_capital_usd: float = 1_000_000.0     # position size limit
    max_pool_share: float = 0.05             # ... and at most this share of active liquidity
    max_drawdown: float = 0.25               # drawdown from peak equity that exits and stands down
    override: str = "none"                   # manual override: none | hold | exit
    override_from_minute: float = 0.0


@dataclass
class AgentConf:
    """The agent's settings: beliefs, gate, classifier, rules, rails."""

    capital_usd: float = 100_000.0
    gas_usd: float = 2.0                     # GAS: the agent's belief of one action's cost
    fee_gate_usd: float = 4.0                # FEE_GATE: expected fee gain an action must reach
    ev_horizon_minutes: float = 240.0        # horizon of the EV gate's fee estimate
    classifier: str = "online"               # online | oracle (sees the true regime; ablations)
    classifier_halflife_minutes: float = 1440.0   # drift and jump-share memory of the online classifier
    # The online classifier approximates hbbatch.calibration's window rule (see hbbatch/sim/agent.py):
    jump_sigmas: float = 4.0                 # a return beyond this many robust sigmas counts as a jump
    jumpy_variance_share: float = 0.3        # classified jumpy when jumps carry at least this share of variance
    trend_tstat: float = 2.0                 # classified trend_up when the drift t-statistic reaches this
    rules: RulesConf = field(default_factory=RulesConf)
    rails: RailsConf = field(default_factory=RailsConf)
