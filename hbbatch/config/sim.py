"""Structured-config schemas for the simulator's numbers: the single source of their names and defaults.

Hydra registers these in the ConfigStore (a typo in a key fails at compose time, naming it); the
simulator reads the same keys from plain mappings in `hbbatch.sim.params.make_params`. Defaults come
from `../shared/reference/lp_theory.md` and the real data summarised in `hbbatch/data/README.md`,
until a calibration report replaces them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hbbatch.config.bounds import bounded, one_of

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


def _per_regime(mean_revert: float, jumpy: float, trend_up: float, **bounds: float):
    """A PerRegime field; `bounds` (ge, gt, le, lt) apply to each regime's number."""
    return bounded(factory=lambda: PerRegime(mean_revert, jumpy, trend_up), **bounds)


@dataclass
class MarketConf:
    """The world: price processes per regime, pool volume and liquidity, the gas actually paid."""

    price_start_usd: float = bounded(2270.0, gt=0, le=1e9)  # ETH/USDC open on 2024-01-05 (mainnet 0.05 % pool)
    step_minutes: float = bounded(1.0, gt=0, le=1440)
    tick_spacing: int = bounded(10, ge=1, le=16383)  # 0.05 % pool
    fee_rate: float = bounded(0.0005, ge=0, le=0.1)  # LP share of each swap (0.000375 where the fee switch is on)
    # The regimes world's price process: the fit of hbbatch/data/calibration_report.json (fits.world, by
    # task=calibrate on the embedded hourly ETH history 2020-01 -> 2025-04; tests/config check they agree).
    # diffusive volatility per regime (jumps come on top: realised hourly vol about 0.8-0.9)
    vol_annual: PerRegime = _per_regime(0.5650, 0.6259, 0.6178, gt=0, le=20)
    # E[P] drift: 0 where a regime's weeks show no significant drift; trend weeks go both ways, so the trend
    # regime draws its drift per episode, N(4.733, 10.71) a year (5 of its 20 weeks in 2020-2025 went down)
    drift_annual: PerRegime = _per_regime(0.0, 0.0, 4.733, ge=-100, le=100)
    drift_dispersion_annual: PerRegime = _per_regime(0.0, 0.0, 10.71, ge=0, le=100)  # std dev of that draw
    # OU pull on log price: none (variance ratios at 1 day / 1 week / 1 month are 0.98 / 1.04 / 1.13, p > 0.35)
    mean_reversion_per_day: PerRegime = _per_regime(0.0, 0.0, 0.0, ge=0, le=1440)
    # jumps: a two-normal mixture on the GARCH's standardised residuals, per regime
    jumps_per_day: PerRegime = _per_regime(3.790, 3.437, 3.738, ge=0, le=1440)
    jump_size_std: PerRegime = _per_regime(0.01622, 0.01971, 0.01825, ge=0, le=1)   # log-jump std dev
    # hourly GARCH(1,1) by maximum likelihood (arch) of returns over the slow level's square root
    # (and the hour of the week's profile; variance_level_days below; half-life 23 h around them); 0, 0 is constant volatility around the level
    garch_alpha: float = bounded(0.07068, ge=0, lt=1)
    garch_beta: float = bounded(0.9000, ge=0, lt=1)
    garch_start_log_sd: float = bounded(1.025, ge=0, le=5)  # spread of ln(conditional variance) at an episode's start
    # (without a level table; the regimes world opens at a real day's conditional variance instead)
    # the slow part of volatility: realised variance over this many days from an episode's real day
    # (hbbatch/worlds/levels.py); the GARCH above is fitted on returns over its square root
    variance_level_days: float = bounded(14.0, gt=0, le=365)
    volume_usd_per_day: float = bounded(2.47e8, ge=0, le=1e13)  # 2024-01-05: ~247 M USDC-equivalent
    # share of volume that scales with |return| (rest is flow): daily WETH/USDT 0.05 % pool volume 2021-05 ->
    # 2025-04 against the day's summed |hourly return|
    volume_vol_share: float = bounded(0.6656, ge=0, le=1)
    # volatility at which the |return|-driven part is at its mean
    volume_ref_vol_annual: float = bounded(0.515, gt=0, le=20)
    # active L in sqrt(ETH*USD); 2024-01-05 median 1.245e19 raw / 1e12
    pool_liquidity: float = bounded(1.245e7, gt=0, le=1e18)
    pool_liquidity_dispersion: float = bounded(0.25, ge=0, le=5)  # per-episode lognormal sigma of active liquidity
    # world cost of a recenter (787,760 gas) on the days of the pool's volume: median of the 30 days to
    # 2024-01-05 (38 gwei, ETH ~$2,300; the day itself $41)
    gas_usd_median: float = bounded(70.11, ge=0, le=1e5)
    gas_dispersion: float = bounded(0.3979, ge=0, le=5)  # per-action lognormal sigma around the median
    # gas x (vol / gas_ref_vol_annual)^elasticity: ln(daily gas) on ln(daily realised vol), 2020-2025
    gas_vol_elasticity: float = bounded(0.3205, ge=-5, le=5)
    # volatility at which gas is at its median: the world's own median at the mean level (times the
    # episode's level in the regimes world)
    gas_ref_vol_annual: float = bounded(0.7586, gt=0, le=20)
    # rate of entering a high-gas spell: 0, daily gas cannot identify hour-long spells and the regimes
    # world's gas is a real day's, spikes included (fits.world.gas.spells)
    gas_spells_per_day: float = bounded(0.0, ge=0, le=1440)
    gas_spell_hours: float = bounded(3.0, gt=0, le=8760)  # mean spell length
    gas_spell_multiplier: float = bounded(4.0, ge=1, le=1e4)  # gas during a spell, times the median


@dataclass
class FloorsConf:
    """Minimum full width in ticks the agent may use, per classified regime."""

    mean_revert: float = bounded(1200.0, gt=0, le=1774544)
    jumpy: float = bounded(1400.0, gt=0, le=1774544)
    trend_up: float = bounded(1600.0, gt=0, le=1774544)


@dataclass
class RegimeMixConf:
    """Share of episodes in each regime (must sum to 1)."""

    mean_revert: float = bounded(0.4, ge=0, le=1)
    jumpy: float = bounded(0.3, ge=0, le=1)
    trend_up: float = bounded(0.3, ge=0, le=1)


# The bot's named rules in priority order (the first that fires proposes the action); here, jax-free, so
# that the config check can name an unknown one before anything runs.
RULES = ("out_of_range", "edge", "vol_widen", "vol_narrow", "trend_shift")
WIDTH_UNITS = ("ticks", "pct")
REENTRIES = ("single_sided", "swap_to_ratio")


@dataclass
class RulesConf:
    """Named rules, checked in this priority order; the first that fires proposes the action.

    out_of_range: re-enter once the price has been outside the band for `rebalance_after_minutes`
    (measured on each bar's high-low range where the world gives one), single-sided or swapping to
    the new band's ratio (`reentry`); edge: recenter when the price nears an edge (off by default: a
    Hummingbot-style controller waits for the price to leave); vol_widen / vol_narrow: widen by
    `widen_factor` when the jump-robust short/long volatility ratio has stayed above `vol_widen_ratio`
    for `vol_persist_minutes`, narrow by the same factor (never below the regime's width) when it has
    stayed below `vol_narrow_ratio` as long; trend_shift: in a classified trend, shift the band up.
    """

    rebalance_after_minutes: float = bounded(15.0, ge=0, le=525600)  # out of range this long: re-enter
    reentry: str = one_of("single_sided", REENTRIES)  # single_sided: no swap, the band sits beside the price
    # recenter when price is within this share of the width from an edge
    edge_fraction: float = bounded(0.08, ge=0, lt=0.5)
    vol_widen_ratio: float = bounded(1.5, gt=0, le=1e3)   # short/long vol above this counts as high ...
    vol_narrow_ratio: float = bounded(0.67, gt=0, le=1e3)  # ... below this as low
    vol_persist_minutes: float = bounded(120.0, ge=0, le=525600)  # ... for this long before acting (hysteresis)
    widen_factor: float = bounded(1.5, ge=1, le=100)       # widen multiplies, narrow divides the width by this
    max_width_ticks: float = bounded(6000.0, gt=0, le=1774544)
    # shift up when price is this share of the half-width above centre in a trend
    trend_shift_fraction: float = bounded(0.25, ge=0, le=1)
    cooldown_minutes: float = bounded(60.0, ge=0, le=525600)  # no new action this soon after the last one
    vol_short_minutes: float = bounded(60.0, gt=0, le=525600)  # half-lives of the short and long volatility estimates
    vol_long_minutes: float = bounded(1440.0, gt=0, le=525600)
    enabled: list[str] = one_of(None, RULES, factory=lambda: ["out_of_range", "vol_widen", "vol_narrow",
                                                              "trend_shift"])


@dataclass
class RailsConf:
    """The go-live checklist's safety rails."""

    # emergency stop: gas spent in the current window ...
    gas_window_minutes: float = bounded(1440.0, gt=0, le=525600)
    # ... above this stops every action until the window ends. A stop on gas prices, not on counts (the
    # hard cap below counts): at the 2026 deployment level (world.gas_median_usd, $1.62 a recenter, the latest
    # 30 days of Etherscan gas; q90 day $2.82 in the worlds) $60 is 37 recenters a day (21 at q90), so it
    # never trips at defaults (0 of 600 episodes a variant, three-way at 200 episodes); at history's own gas
    # (median $38, stress_high_gas) it allows about one action a day and trips in 48-67 % of episodes
    gas_cap_usd_per_window: float = bounded(60.0, ge=0, le=1e9)
    max_actions: int = bounded(120, ge=0, le=10**9)  # hard cap: K gas-paying actions ...
    # ... per N episodes (each gets K // N, one kept for a safety exit)
    max_actions_episodes: int = bounded(10, ge=1, le=10**9)
    max_capital_usd: float = bounded(1_000_000.0, gt=0, le=1e12)  # position size limit
    max_pool_share: float = bounded(0.05, gt=0, lt=1)  # ... and at most this share of active liquidity
    max_drawdown: float = bounded(0.25, gt=0, le=1)  # drawdown from peak equity that exits and stands down
    override: str = one_of("none", ("none", "hold", "exit"))  # manual override
    override_from_minute: float = bounded(0.0, ge=0, le=1e9)


@dataclass
class AgentConf:
    """The agent's settings: beliefs, gate, classifier, rules, rails."""

    capital_usd: float = bounded(100_000.0, gt=0, le=1e12)
    # GAS: the agent's belief of one action's cost; $2, the current bot's (roadmap campaign B), is 1.2x the
    # 2026 deployment level's median ($1.62) and 1.1x its mean ($1.83) (hbbatch/data/history/gas_daily.parquet)
    gas_usd: float = bounded(2.0, ge=0, le=1e5)
    fee_gate_usd: float = bounded(4.0, ge=0, le=1e7)  # FEE_GATE: expected fee gain an action must reach
    # the gate credits a band with its expected holding time (half-width^2 / variance), at most this long
    ev_horizon_minutes: float = bounded(10080.0, gt=0, le=525600)
    classifier: str = one_of("online", ("online", "oracle"))  # online | oracle (sees the true regime; ablations)
    # drift and jump-share memory of the online classifier
    classifier_halflife_minutes: float = bounded(1440.0, gt=0, le=525600)
    # The online classifier approximates hbbatch.calibration's window rule (see hbbatch/sim/policy.py):
    jump_sigmas: float = bounded(4.0, gt=0, le=100)  # a return beyond this many robust sigmas counts as a jump
    # classified jumpy when jumps carry at least this share of variance
    jumpy_variance_share: float = bounded(0.3, ge=0, le=1)
    trend_tstat: float = bounded(2.0, ge=0, le=100)  # classified trend_up when the drift t-statistic reaches this
    # The band's full width per classified regime, in `width_unit` (ticks, or % of price); the floors
    # stay the floors: the bot never holds less than floors.<regime> ticks.
    width_unit: str = one_of("ticks", WIDTH_UNITS)
    width: PerRegime = _per_regime(1200.0, 1400.0, 1600.0, gt=0, le=1774544)
    # history folded into the classifier and volatility estimates before the first decision (the
    # world's own history where it has one, else steps drawn from the same process)
    warmup_minutes: float = bounded(1440.0, ge=0, le=525600)
    rules: RulesConf = field(default_factory=RulesConf)
    rails: RailsConf = field(default_factory=RailsConf)


@dataclass
class RuleValuesConf:
    """Counterfactual rule values: each enabled rule switched off on the same seeds (rule_values.parquet)."""

    enabled: bool = True
    max_episodes: int = bounded(20_000, ge=1, le=10_000_000)  # the first this many episodes of a job
    # re-runs resume from the job's own state saved every tenth of an episode or so (hbbatch/sim/resume.py),
    # in worlds of real bars, bit-identical to re-runs from the open; false: every re-run from the open
    resume: bool = True
    # ... for jobs of at least this many episode-steps (n_episodes x n_steps): the re-runs' program is a compile
    # of its own (warm about 0.3 s, cold about 4 s), and resuming saves about 0.037 CPU-s per million valued
    # episode-steps (the three-way, bench/README.md): a smaller job's saved steps do not pay for it
    resume_min_episode_steps: int = bounded(8_000_000, ge=0, le=10**15)


def warmup_steps(agent: Mapping[str, Any], market: Mapping[str, Any]) -> int:
    """`agent.warmup_minutes` in whole steps of `market.step_minutes`: the steps the policy observes before its
    first decision, in a campaign's rollout, a replay world's reserved bars, `task=replay` and shadow mode."""
    return round(float(agent.get("warmup_minutes", 0.0)) / float(market.get("step_minutes", 1.0)))


def width_in_ticks(width: float, unit: str) -> float:
    """A band's full width in ticks from ticks or from % of price (the band [P (1 - w/2), P (1 + w/2)])."""
    if unit == "ticks":
        return float(width)
    half = float(width) / 200.0
    if not 0.0 < half < 1.0:
        return math.nan
    return math.log((1.0 + half) / (1.0 - half)) / math.log(1.0001)


def agent_problems(market: Mapping[str, Any], agent: Mapping[str, Any], floors: Mapping[str, Any]) -> list[str]:
    """What no single field's bounds can see, one line each: a width below one tick spacing, a timer
    shorter than one step."""
    out: list[str] = []
    spacing, step = float(market.get("tick_spacing", 10)), float(market.get("step_minutes", 1.0))
    unit = agent.get("width_unit", "ticks")
    for regime, value in (agent.get("width") or {}).items():
        ticks = width_in_ticks(value, unit)
        if not ticks >= spacing:
            out.append(f"agent.width.{regime}: {value} {unit} is {ticks:.4g} ticks, below one tick spacing "
                       f"({spacing:g}); use at least {spacing:g} ticks")
    for regime, value in (floors or {}).items():
        if float(value) < spacing:
            out.append(f"floors.{regime}: {value} ticks is below one tick spacing ({spacing:g})")
    rules = agent.get("rules") or {}
    for key in ("rebalance_after_minutes", "vol_persist_minutes"):
        if key in rules and float(rules[key]) < step:
            out.append(f"agent.rules.{key}: {rules[key]} minutes is shorter than one step ({step:g} minutes)")
    for where, section, key in (("agent", agent, "warmup_minutes"), ("agent.rules", rules, "cooldown_minutes")):
        if key in section and 0.0 < float(section[key]) < step:
            out.append(f"{where}.{key}: {section[key]} minutes is shorter than one step ({step:g} minutes); "
                       "use 0 or at least one step")
    return out
