"""Plain mappings (Hydra config sections, calibration constants) to the traced SimParams pytree."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any, Mapping

import jax.numpy as jnp
import numpy as np

from hbbatch.config.sim import MIX_TOLERANCE, REENTRIES, WIDTH_UNITS, AgentConf, agent_problems, width_in_ticks, FloorsConf, MarketConf, RailsConf, RegimeMixConf, RulesConf
from hbbatch.sim import precision
from hbbatch.sim.price import DAYS_PER_YEAR, MINUTES_PER_YEAR
from hbbatch.sim.types import GATINGS, OVERRIDES, REGIMES, RULES, AgentParams, MarketParams, SimParams



class ParamsError(ValueError):
    """A simulator number is missing, unknown or out of range; names the field and the fix."""


def _plain(section: Any) -> dict[str, Any]:
    if section is None:
        return {}
    if is_dataclass(section):
        return asdict(section)
    return dict(section)


def _merged(defaults: Any, section: Any, where: str) -> dict[str, Any]:
    """Defaults overlaid with `section`, refusing unknown keys (nested one level for per-regime values)."""
    base = asdict(defaults)
    for key, value in _plain(section).items():
        if key not in base:
            raise ParamsError(f"{where}.{key}: unknown key; known keys are {', '.join(sorted(base))}")
        if isinstance(base[key], dict) and not isinstance(base[key], list):
            value = _plain(value)
            unknown = set(value) - set(base[key])
            if unknown:
                raise ParamsError(f"{where}.{key}: unknown key(s) {sorted(unknown)}; use {', '.join(base[key])}")
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def _per_regime(values: Mapping[str, float]) -> np.ndarray:
    return np.array([float(values[r]) for r in REGIMES])


def regime_weights(regime_mix: Any) -> np.ndarray:
    """Validated regime weights in REGIMES order, renormalised when within MIX_TOLERANCE of 1."""
    mix = _merged(RegimeMixConf(), regime_mix, "regime_mix")
    weights = _per_regime(mix)
    if np.any(weights < 0):
        raise ParamsError(f"regime_mix: negative weight in {mix}; weights must be >= 0")
    total = weights.sum()
    if abs(total - 1.0) > MIX_TOLERANCE:
        raise ParamsError(f"regime_mix: weights {mix} sum to {total:.4f}; they must sum to 1")
    return weights / total


def make_params(market: Any = None, agent: Any = None, floors: Any = None, regime_mix: Any = None,
                dtype: str = "float32", gating: str = "ev") -> SimParams:
    """SimParams from mappings with the keys of hbbatch.config.sim's dataclasses (missing keys: defaults);
    `gating` is gating.mode: "ev" (the EV gate applies) or "off" (floors only: campaign A)."""
    if gating not in GATINGS:
        raise ParamsError(f"gating.mode: {gating!r}; use one of {', '.join(GATINGS)}")
    mk = _merged(MarketConf(), market, "market")
    ag = _merged(AgentConf(), agent, "agent")
    rules = _merged(RulesConf(), ag.pop("rules"), "agent.rules")
    rails = _merged(RailsConf(), ag.pop("rails"), "agent.rails")
    fl = _merged(FloorsConf(), floors, "floors")
    weights = regime_weights(regime_mix)
    dt_years = mk["step_minutes"] / MINUTES_PER_YEAR
    steps_per_minute = 1.0 / mk["step_minutes"]
    minutes = lambda m: float(m) * steps_per_minute  # noqa: E731  minutes -> steps
    half_life_alpha = lambda m: 1.0 - 0.5 ** (1.0 / max(minutes(m), 1e-9))  # noqa: E731
    cross = agent_problems(mk, {**ag, "rules": rules}, fl)
    if cross:
        raise ParamsError(cross[0])
    unknown_rules = set(rules["enabled"]) - set(RULES)
    if unknown_rules:
        raise ParamsError(f"agent.rules.enabled: unknown rule(s) {sorted(unknown_rules)}; use {', '.join(RULES)}")
    if rails["override"] not in OVERRIDES:
        raise ParamsError(f"agent.rails.override: {rails['override']!r}; use one of {', '.join(OVERRIDES)}")
    if ag["width_unit"] not in WIDTH_UNITS:
        raise ParamsError(f"agent.width_unit: {ag['width_unit']!r}; use one of {', '.join(WIDTH_UNITS)}")
    if rules["reentry"] not in REENTRIES:
        raise ParamsError(f"agent.rules.reentry: {rules['reentry']!r}; use one of {', '.join(REENTRIES)}")
    if ag["classifier"] not in ("online", "oracle"):
        raise ParamsError(f"agent.classifier: {ag['classifier']!r}; use online or oracle")
    if rails["max_actions_episodes"] < 1 or rails["max_actions"] // rails["max_actions_episodes"] < 2:
        raise ParamsError(f"agent.rails.max_actions={rails['max_actions']} per max_actions_episodes="
                          f"{rails['max_actions_episodes']}: each episode gets K // N actions, one kept for a safety "
                          "exit; raise max_actions to at least 2 x max_actions_episodes")
    if not 0.0 < rails["max_pool_share"] < 1.0:
        raise ParamsError(f"agent.rails.max_pool_share: {rails['max_pool_share']}; use a share in (0, 1)")
    for key in ("pool_liquidity", "price_start_usd", "step_minutes"):
        if not mk[key] > 0:
            raise ParamsError(f"market.{key}: {mk[key]} must be > 0")
    for key in ("fee_rate", "volume_usd_per_day", "gas_usd_median", "garch_alpha", "garch_beta",
                "garch_start_log_sd"):
        if not mk[key] >= 0:
            raise ParamsError(f"market.{key}: {mk[key]} must be >= 0")
    if not mk["garch_alpha"] + mk["garch_beta"] < 1.0:
        raise ParamsError(f"market.garch_alpha + market.garch_beta = {mk['garch_alpha'] + mk['garch_beta']}: "
                          "must be < 1 (a stationary GARCH); refit with task=calibrate")
    if not mk["gas_ref_vol_annual"] > 0:
        raise ParamsError(f"market.gas_ref_vol_annual: {mk['gas_ref_vol_annual']} must be > 0")
    for regime, value in mk["drift_dispersion_annual"].items():
        if not value >= 0:
            raise ParamsError(f"market.drift_dispersion_annual.{regime}: {value} must be >= 0")

    f = lambda x: precision.array(x, dtype)  # noqa: E731
    market_params = MarketParams(
        price_start_usd=f(mk["price_start_usd"]), dt_years=f(dt_years), tick_spacing=f(mk["tick_spacing"]),
        fee_rate=f(mk["fee_rate"]), vol_annual=f(_per_regime(mk["vol_annual"])),
        drift_annual=f(_per_regime(mk["drift_annual"])),
        drift_dispersion_annual=f(_per_regime(mk["drift_dispersion_annual"])),
        mean_reversion_per_day=f(_per_regime(mk["mean_reversion_per_day"])),
        jumps_per_day=f(_per_regime(mk["jumps_per_day"])), jump_size_std=f(_per_regime(mk["jump_size_std"])),
        garch_alpha=f(mk["garch_alpha"]), garch_beta=f(mk["garch_beta"]),
        garch_start_log_sd=f(mk["garch_start_log_sd"]),
        volume_usd_per_step=f(mk["volume_usd_per_day"] * mk["step_minutes"] / 1440.0),
        volume_vol_share=f(mk["volume_vol_share"]), volume_ref_vol_annual=f(mk["volume_ref_vol_annual"]),
        pool_liquidity=f(mk["pool_liquidity"]), pool_liquidity_dispersion=f(mk["pool_liquidity_dispersion"]),
        gas_usd_median=f(mk["gas_usd_median"]), gas_dispersion=f(mk["gas_dispersion"]),
        gas_vol_elasticity=f(mk["gas_vol_elasticity"]), gas_ref_vol_annual=f(mk["gas_ref_vol_annual"]),
        gas_spell_enter_prob=f(mk["gas_spells_per_day"] * dt_years * DAYS_PER_YEAR),
        gas_spell_exit_prob=f(min(1.0, mk["step_minutes"] / (60.0 * mk["gas_spell_hours"]))),
        gas_spell_multiplier=f(mk["gas_spell_multiplier"]),
        regime_cdf=f(np.minimum(np.cumsum(weights), 1.0)),
    )
    agent_params = AgentParams(
        capital_usd=f(ag["capital_usd"]), gas_usd=f(ag["gas_usd"]), fee_gate_usd=f(ag["fee_gate_usd"]),
        ev_gate=jnp.asarray(gating == "ev"),
        ev_horizon_steps=f(minutes(ag["ev_horizon_minutes"])), floor_ticks=f(_per_regime(fl)),
        width_ticks=f(np.maximum(_per_regime({r: width_in_ticks(w, ag["width_unit"]) for r, w in ag["width"].items()}),
                                 _per_regime(fl))),
        classifier_alpha=f(half_life_alpha(ag["classifier_halflife_minutes"])),
        jump_sigmas=f(ag["jump_sigmas"]), jumpy_variance_share=f(ag["jumpy_variance_share"]),
        trend_tstat=f(ag["trend_tstat"]),
        rule_enabled=jnp.asarray([r in rules["enabled"] for r in RULES]),
        rebalance_after_steps=f(minutes(rules["rebalance_after_minutes"])),
        reentry_single_sided=jnp.asarray(rules["reentry"] == "single_sided"), edge_fraction=f(rules["edge_fraction"]),
        vol_widen_ratio=f(rules["vol_widen_ratio"]), vol_narrow_ratio=f(rules["vol_narrow_ratio"]),
        vol_persist_steps=f(minutes(rules["vol_persist_minutes"])), widen_factor=f(rules["widen_factor"]),
        max_width_ticks=f(rules["max_width_ticks"]),
        trend_shift_fraction=f(rules["trend_shift_fraction"]), cooldown_steps=f(minutes(rules["cooldown_minutes"])),
        vol_short_alpha=f(half_life_alpha(rules["vol_short_minutes"])),
        vol_long_alpha=f(half_life_alpha(rules["vol_long_minutes"])),
        gas_window_steps=f(max(round(minutes(rails["gas_window_minutes"])), 1)),  # whole steps: windows reset exactly
        gas_cap_usd_per_window=f(rails["gas_cap_usd_per_window"]),
        max_actions_per_episode=f(rails["max_actions"] // rails["max_actions_episodes"]),
        max_capital_usd=f(rails["max_capital_usd"]), max_pool_share=f(rails["max_pool_share"]),
        max_drawdown=f(rails["max_drawdown"]), override_mode=jnp.asarray(OVERRIDES.index(rails["override"]), jnp.int32),
        override_from_step=f(minutes(rails["override_from_minute"])),
    )
    return SimParams(market=market_params, agent=agent_params)
