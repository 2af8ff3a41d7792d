"""From gated query results to the report's content: every fitted number, the constants, their inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

from hbbatch.calibration.errors import CalibrationError
from hbbatch.calibration.gas import RECENTER_GAS_BREAKDOWN, RECENTER_GAS_UNITS, fit_gas
from hbbatch.calibration.pool import (fit_liquidity_depth, fit_mev, fit_pool_fees, fit_realized_vol,
                                      fit_volume_activity)
from hbbatch.calibration.null import regime_null_test
from hbbatch.calibration.regimes import REGIMES, Thresholds, fit_regimes
from hbbatch.calibration.results import QueryResult, sha256_of
from hbbatch.planner.catalog import QuerySpec

SCHEMA = "hbbatch.calibration_report"
SCHEMA_VERSION = 1
REQUIRED_QUERIES = {"gas_regime": "agent.gas_usd and agent.fee_gate_usd",
                    "regime_frequencies": "regime_mix"}
MIN_WINDOWS_PER_REGIME = 2    # fewer: the regime's price parameters stay at the simulator's defaults


@dataclass(frozen=True)
class FitSettings:
    fee_gate_multiple: float = 2.0
    recenter_gas_units: float = RECENTER_GAS_UNITS
    window_days: int = 7
    thresholds: Thresholds = field(default_factory=Thresholds)
    world: bool = True            # also fit the regimes world from the embedded hourly history

    def to_dict(self) -> dict[str, Any]:
        settings = asdict(self)
        settings["recenter_gas_breakdown"] = dict(RECENTER_GAS_BREAKDOWN) \
            if self.recenter_gas_units == RECENTER_GAS_UNITS else "configured"
        return settings


def fit_content(results: Mapping[str, QueryResult], catalog: Mapping[str, QuerySpec],
                settings: FitSettings, absent: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The report without its hash and provenance: constants, fits, inputs, settings, what is missing.
    `absent` says why a catalog query has no result, where the reason is not its absence from
    calibration.queries (the Dune source's plan skipped a query that was never fetched)."""
    for name, feeds in REQUIRED_QUERIES.items():
        if name not in results:
            raise CalibrationError(f"calibration.queries: '{name}' is required (it fits {feeds}); add it back")
    frames = {name: result.to_frame(catalog[name]) for name, result in results.items()}
    fits: dict[str, Any] = {}
    missing: list[dict[str, str]] = []

    fits["gas"] = fit_gas(frames["gas_regime"], settings.recenter_gas_units, settings.fee_gate_multiple)
    fits["regimes"] = _fit_regimes(frames["regime_frequencies"], settings)
    if "pool_hourly_fees" in frames:
        fits["pool"] = fit_pool_fees(frames["pool_hourly_fees"],
                                     float(results["pool_hourly_fees"].parameters["lookback_days"]))
    if "dynamic_fee_analysis" in frames:
        fits["volume_activity"] = fit_volume_activity(frames["dynamic_fee_analysis"])
    if "realized_vol_jumps" in frames:
        fits["realized_vol"] = fit_realized_vol(frames["realized_vol_jumps"], settings.thresholds.jump_sigmas)
    if "liquidity_depth" in frames:
        default_pool = str(catalog["liquidity_depth"].parameters.get("pool", ""))
        fits["liquidity_depth"] = fit_liquidity_depth(
            frames["liquidity_depth"], str(results["liquidity_depth"].parameters.get("pool", "")), default_pool)
    if "mev_toxicity" in frames:
        fits["mev"] = fit_mev(frames["mev_toxicity"])
    if settings.world:
        fits["world"] = _fit_world(fits, settings, missing)

    for name in catalog:
        if name not in results:
            why = (absent or {}).get(name, "not in calibration.queries")
            missing.append({"what": f"query {name}", "why": f"{why}; its fits are skipped"})
    for name, result in results.items():
        differs = result.provenance.get("differs_from_sql")
        if differs:
            missing.append({"what": f"query {name} as its SQL defines it", "why": differs})
    if "liquidity_depth" in fits and not fits["liquidity_depth"]["applies_to_default_pool"]:
        missing.append({"what": "liquidity depth of the calibrated pool",
                        "why": "the liquidity_depth result is for another pool; market.pool_liquidity comes from "
                               "pool_hourly_fees' in-range liquidity instead"})
    constants, derivation = _constants(fits, missing)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "constants": constants,
        "derivation": derivation,
        "fits": fits,
        "inputs": {name: _input_record(result, catalog[name]) for name, result in sorted(results.items())},
        "settings": settings.to_dict(),
        "missing": missing,
    }


def regime_window(frame: Any, window_days: float) -> tuple[float, int]:
    """(days per row, returns per classification window) of a regime_frequencies result."""
    step_days = float(np.median(np.diff(frame["day"].to_numpy("datetime64[s]").astype(np.int64)))) / 86400.0
    step_days = round(step_days, 6) or 1.0
    return step_days, max(int(round(window_days / step_days)), 2)


def _fit_regimes(frame: Any, settings: FitSettings) -> dict[str, Any]:
    days = frame["day"]
    step_days, window = regime_window(frame, settings.window_days)
    returns = frame["log_return"].to_numpy(float)
    fitted = fit_regimes(returns, window, step_days, settings.thresholds)
    fitted["null"] = regime_null_test(returns, window, settings.thresholds)
    fitted["identified"] = fitted["null"]["identified"]
    first_row = len(frame) - fitted["n_windows"] * window
    starts = days.iloc[first_row::window].dt.strftime("%Y-%m-%d").tolist()
    fitted["windows"] = [[start, label] for start, label in zip(starts, fitted.pop("labels"))]
    fitted["window"] = {"first": days.iloc[first_row].isoformat(), "last": days.iloc[-1].isoformat()}
    fitted["inputs"] = ["regime_frequencies"]
    return fitted


def _fit_world(fits: Mapping[str, Any], settings: FitSettings, missing: list[dict[str, str]]) -> dict[str, Any]:
    """The regimes world from the embedded hourly history (hbbatch.worlds.history), its gas from the days
    of the pool's fee and volume fit where the history covers them, else from gas_regime's window."""
    from hbbatch.calibration.world import HISTORY_FILES, WorldFitSettings, fit_world
    from hbbatch.worlds import history

    pool_day = fits["pool"]["window"]["last"][:10] if "pool" in fits else None
    fitted = fit_world(history.bars(60), history.pool_daily(5), history.gas_daily(), pool_day,
                       WorldFitSettings(window_days=settings.window_days, thresholds=settings.thresholds))
    index = history.index()
    fitted["history_files"] = {name: {k: index[name][k] for k in ("sha256", "rows")} for name in HISTORY_FILES}
    if fitted["gas"]["level"] is None:
        missing.append({"what": "regimes-world gas from the days of the pool fit",
                        "why": f"the embedded gas history does not cover {pool_day}; gas_regime's window is used"})
    return fitted


def _constants(fits: Mapping[str, Any], missing: list[dict[str, str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    gas, regimes = fits["gas"], fits["regimes"]
    constants: dict[str, Any] = {
        "agent": {"gas_usd": gas["gas_usd"], "fee_gate_usd": gas["fee_gate_usd"]},
        "regime_mix": dict(regimes["mix"]),
        "market": {"gas_usd_median": gas["gas_usd_median"]},
    }
    derivation = {"agent.gas_usd": "gas", "agent.fee_gate_usd": "gas", "regime_mix": "regimes",
                  "market.gas_usd_median": "gas"}
    market = constants["market"]
    per_regime = regimes["per_regime"]
    thin = [r for r in REGIMES if per_regime[r]["n_windows"] < MIN_WINDOWS_PER_REGIME]
    if thin:
        missing.append({"what": "market per-regime price parameters",
                        "why": f"fewer than {MIN_WINDOWS_PER_REGIME} windows classified {', '.join(thin)}; "
                               f"the simulator's defaults stay"})
    elif "world" not in fits:
        for key in ("vol_annual", "drift_annual", "jumps_per_day", "jump_size_std"):
            market[key] = {r: per_regime[r][key] for r in REGIMES}
            derivation[f"market.{key}"] = "regimes"
        reversion = per_regime["mean_revert"]["mean_reversion"]
        if reversion["supported"]:
            market["mean_reversion_per_day"] = {"mean_revert": reversion["kappa_per_day"], "jumpy": 0.0, "trend_up": 0.0}
            derivation["market.mean_reversion_per_day"] = "regimes"
        else:
            missing.append({"what": "market.mean_reversion_per_day",
                            "why": "no significant pull toward the window's start once the rule's selection bias "
                                   "is taken out (see fits.regimes.per_regime.mean_revert.mean_reversion)"})
    if "pool" in fits:
        pool = fits["pool"]
        market.update(fee_rate=pool["fee_rate"], tick_spacing=pool["tick_spacing"],
                      volume_usd_per_day=pool["volume_usd_per_day"], pool_liquidity=pool["pool_liquidity_median"],
                      price_start_usd=pool["price_close_usd"])
        for key in ("fee_rate", "tick_spacing", "volume_usd_per_day", "pool_liquidity", "price_start_usd"):
            derivation[f"market.{key}"] = "pool"
    if "volume_activity" in fits:
        market.update(volume_vol_share=fits["volume_activity"]["volume_vol_share"],
                      volume_ref_vol_annual=fits["volume_activity"]["volume_ref_vol_annual"])
        derivation["market.volume_vol_share"] = derivation["market.volume_ref_vol_annual"] = "volume_activity"
    if "world" in fits:
        from hbbatch.calibration.world import world_market

        live_gas = fits["world"]["gas"]["level"] is None
        for key, value in world_market(fits["world"], fits.get("gas")).items():
            market[key] = value
            derivation[f"market.{key}"] = "world"
            if live_gas and key in ("gas_usd_median", "gas_dispersion"):
                derivation[f"market.{key}"] = "gas"
        if not fits["world"]["mean_reversion"]["supported"]:
            missing.append({"what": "market.mean_reversion_per_day",
                            "why": "0: no variance ratio of the hourly log price is significantly below 1 "
                                   "(fits.world.mean_reversion); the price is not pulled back to any level"})
    if not regimes["identified"]:
        missing.append({"what": "an identified regime mix",
                        "why": "the mix cannot be told from noise (fits.regimes.null): calibrated campaigns run in "
                               "the historical world; the mix is kept for reference only"})
    derivation = {path: {"fit": fit, "inputs": list(fits[fit]["inputs"])} for path, fit in derivation.items()}
    return constants, derivation


def _input_record(result: QueryResult, spec: QuerySpec) -> dict[str, Any]:
    return {
        "data_hash": result.data_hash,
        "rows": len(result.rows),
        "parameters": dict(result.parameters),
        "sql_sha256": sha256_of(spec.sql),
    }
