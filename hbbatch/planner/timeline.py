"""The planner simulation: many planning cycles driven by a series of live signals.

`simulate_timeline(catalog, series, settings_by_name)` plans every cycle with each configuration, as
the Dune source would execute it (planned queries run and are stored; the rest age), and reports,
side by side: credits spent per UTC day, runs per query, why queries were skipped, and how stale each
signal was. The series comes from the simulator's per-episode table (`series_from_episodes`: gas
paid, actions per hour, realised volatility, drawdown) or from `synthetic_series`. A planned query's
answer is the series' value of each signal it provides at that time, with measurement noise drawn
from the seed; every configuration sees the same answers (common random numbers).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

from hbbatch.config.sim import MarketConf
from hbbatch.planner.catalog import QuerySpec
from hbbatch.planner.decisions import DecisionModel
from hbbatch.planner.plans import reason_kind
from hbbatch.planner.schedule import plan
from hbbatch.planner.settings import PlannerSettings
from hbbatch.planner.signals import LiveSignals
from hbbatch.planner.state import DAY_S, CacheState, record

START_S = 1_704_067_200             # 2024-01-01 00:00 UTC: days of the timeline are UTC days
MEASUREMENT_NOISE = 0.05            # relative noise of a query's answer around the series' value
HOURS_PER_YEAR = 8760.0


class SeriesError(ValueError):
    """A signal series is malformed; the message names the field and the fix."""


@dataclass(frozen=True)
class SignalSeries:
    """Live signals, one entry per planning cycle."""

    gas_usd: np.ndarray                 # (n_cycles,) gas paid per action, USD
    actions_per_hour: np.ndarray        # (n_cycles,) the agent's gas-paying actions per hour
    realized_vol: np.ndarray            # (n_cycles,) annualised
    drawdown: np.ndarray                # (n_cycles,) from peak equity, fraction
    toxicity: np.ndarray                # (n_cycles,) toxic share of pool volume
    cycle_s: int = 3600

    def __post_init__(self) -> None:
        n = len(self.gas_usd)
        for name in ("gas_usd", "actions_per_hour", "realized_vol", "drawdown", "toxicity"):
            values = np.asarray(getattr(self, name), dtype=float)
            if values.shape != (n,):
                raise SeriesError(f"series.{name} has shape {values.shape}; give one value per cycle ({n})")
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise SeriesError(f"series.{name} holds negative or non-finite values; use finite values >= 0")
            object.__setattr__(self, name, values)

    @property
    def n_cycles(self) -> int:
        return len(self.gas_usd)

    def vol_ratio(self, baseline_cycles: int) -> np.ndarray:
        """Realised vol over its trailing median (the window includes the current cycle)."""
        out = np.empty(self.n_cycles)
        for i in range(self.n_cycles):
            baseline = float(np.median(self.realized_vol[max(0, i - baseline_cycles + 1): i + 1]))
            out[i] = self.realized_vol[i] / baseline if baseline > 0 else 1.0
        return out


def synthetic_series(n_cycles: int, seed: int, market: MarketConf | None = None, cycle_s: int = 3600) -> SignalSeries:
    """Plausible hourly signals: gas spells, churn that follows volatility, vol spikes, drawdowns, toxic bursts."""
    market = market or MarketConf()
    rng = np.random.default_rng(seed)
    hours = cycle_s / 3600.0
    # gas: a two-state spell process (market.gas_spells_per_day, gas_spell_hours) times lognormal noise
    in_spell, spell = False, np.zeros(n_cycles, dtype=bool)
    for i in range(n_cycles):
        p = hours / market.gas_spell_hours if in_spell else market.gas_spells_per_day * hours / 24.0
        in_spell = (not in_spell) if rng.random() < p else in_spell
        spell[i] = in_spell
    gas = market.gas_usd_median * np.exp(market.gas_dispersion * rng.standard_normal(n_cycles))
    gas = np.where(spell, gas * market.gas_spell_multiplier, gas)
    # realised vol: log AR(1) around the reference vol, with spikes that decay over about a day
    vol_ref = market.volume_ref_vol_annual
    log_vol, spike = np.log(vol_ref), 0.0
    vol = np.empty(n_cycles)
    for i in range(n_cycles):
        spike = spike * math.exp(-hours / 24.0) + (0.9 if rng.random() < hours / 72.0 else 0.0)
        log_vol = np.log(vol_ref) + 0.97 * (log_vol - np.log(vol_ref)) + 0.05 * rng.standard_normal()
        vol[i] = math.exp(log_vol + spike)
    # churn: about 0.015 actions an hour (the default agent's pace is near 0.01), much faster in
    # volatile hours; the signal is the count over the last 24 hours, per hour
    counts = rng.poisson(0.015 * hours * (vol / vol_ref) ** 3)
    window = max(1, round(24 / hours))
    actions = np.convolve(counts, np.ones(window), mode="full")[:n_cycles] / (window * hours)
    # drawdown of LP equity whose hourly return scales with vol
    step_sd = 0.4 * (vol / math.sqrt(HOURS_PER_YEAR)) * math.sqrt(hours)
    equity = np.exp(np.cumsum(2e-5 * hours + step_sd * rng.standard_normal(n_cycles)))
    drawdown = 1.0 - equity / np.maximum.accumulate(np.maximum(equity, 1.0))
    # toxic share: a low base with bursts of sandwiching lasting a few hours
    burst = np.zeros(n_cycles)
    for i in range(n_cycles):
        carry = burst[i - 1] * math.exp(-hours / 4.0) if i else 0.0
        burst[i] = carry + (0.08 if rng.random() < hours / 120.0 else 0.0)
    toxicity = np.clip(0.02 * np.exp(0.3 * rng.standard_normal(n_cycles)) + burst, 0.0, 1.0)
    return SignalSeries(gas, actions, vol, drawdown, toxicity, cycle_s)


def series_from_episodes(frame: Any, hours_per_episode: float, cycle_s: int = 3600) -> SignalSeries:
    """Episodes laid end to end, each `hours_per_episode` long: per-episode gas per action, actions
    per hour and realised vol held over its cycles, drawdown rising linearly to the episode's maximum."""
    for column in ("actions", "gas_usd", "realized_vol", "max_drawdown"):
        if column not in frame.columns:
            raise SeriesError(f"episodes table: column '{column}' is missing; use an episodes.parquet of a campaign")
    if "episode" in frame.columns:
        frame = frame.sort_values("episode", kind="stable")
    per_episode = max(1, round(hours_per_episode * 3600 / cycle_s))
    actions = frame["actions"].to_numpy(float)
    gas = frame["gas_usd"].to_numpy(float)
    typical = float(gas.sum() / actions.sum()) if actions.sum() > 0 else 0.0
    gas_per_action = np.divide(gas, actions, out=np.full_like(gas, typical), where=actions > 0)
    ramp = np.arange(1, per_episode + 1) / per_episode
    toxicity = frame["toxicity"].to_numpy(float) if "toxicity" in frame.columns else np.zeros(len(frame))
    return SignalSeries(
        gas_usd=np.repeat(gas_per_action, per_episode),
        actions_per_hour=np.repeat(actions / hours_per_episode, per_episode),
        realized_vol=np.repeat(frame["realized_vol"].to_numpy(float), per_episode),
        drawdown=np.concatenate([m * ramp for m in frame["max_drawdown"].to_numpy(float)]),
        toxicity=np.repeat(toxicity, per_episode),
        cycle_s=cycle_s)


def _truth(series: SignalSeries, i: int, model: DecisionModel) -> dict[str, float]:
    """What the queries would measure at cycle i, in the units of hbbatch.planner.decisions."""
    eth_price = model.market.price_start_usd
    return {
        "gas_price": series.gas_usd[i] / (model.recenter_gas_units * 1e-9 * eth_price),
        "eth_price": eth_price,
        "fee_rate": model.market.fee_rate,
        "volume": model.market.volume_usd_per_day,
        "active_liquidity": model.market.pool_liquidity,
        "mev_share": float(series.toxicity[i]),
        "realized_vol": float(series.realized_vol[i]),
        "drift": 0.0,
    }


@dataclass(frozen=True)
class TimelineReport:
    name: str
    days: int
    credits_per_day: tuple[float, ...]
    runs: Mapping[str, int]
    reasons: Mapping[str, Mapping[str, int]]            # query -> reason kind -> cycles
    staleness_h: Mapping[str, Mapping[str, float]]      # signal -> mean_h, max_h, unknown_share
    high_churn_share: float                             # cycles planned in high_churn mode
    risk_share: float                                   # cycles with a high risk signal
    budget_credits_per_day: float = 0.0
    modes: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def simulate_timeline(catalog: Mapping[str, QuerySpec], series: SignalSeries,
                      settings_by_name: Mapping[str, PlannerSettings], model: DecisionModel | None = None,
                      seed: int = 0, vol_baseline_hours: float = 168.0, start_s: float = START_S
                      ) -> dict[str, TimelineReport]:
    model = model or DecisionModel()
    n = series.n_cycles
    vol_ratio = series.vol_ratio(max(1, round(vol_baseline_hours * 3600 / series.cycle_s)))
    signals = sorted({s for spec in catalog.values() for s in spec.provides})
    noise = np.exp(MEASUREMENT_NOISE * np.random.default_rng(seed).standard_normal((n, len(signals))))
    days = math.ceil(n * series.cycle_s / DAY_S)
    reports = {}
    for name, settings in settings_by_name.items():
        state = CacheState()
        credits = np.zeros(days)
        runs: Counter[str] = Counter()
        reasons: dict[str, Counter[str]] = {q: Counter() for q in catalog}
        ages: dict[str, list[float | None]] = {s: [] for s in signals}
        modes: Counter[str] = Counter()
        risky = 0
        for i in range(n):
            now = start_s + i * series.cycle_s
            live = LiveSignals(gas_usd=float(series.gas_usd[i]), actions_per_hour=float(series.actions_per_hour[i]),
                               vol_ratio=float(vol_ratio[i]), drawdown=float(series.drawdown[i]),
                               toxicity=float(series.toxicity[i]))
            the_plan = plan(catalog, state, live, settings, now, model)
            modes[the_plan.mode] += 1
            risky += bool(the_plan.risk_signals)
            truth = _truth(series, i, model)
            for choice in the_plan.choices:
                reasons[choice.query][reason_kind(choice.reason)] += 1
                if choice.runs:
                    spec = catalog[choice.query]
                    values = {s: truth[s] * noise[i, signals.index(s)] for s in spec.provides if s in truth}
                    state = record(state, spec.name, now, spec.cost_credits, values)
                    credits[int((now - start_s) // DAY_S)] += spec.cost_credits
                    runs[spec.name] += 1
            for signal, age in the_plan.signal_age_s.items():
                ages[signal].append(age)
        staleness = {}
        for signal, seen in ages.items():
            known = np.array([a for a in seen if a is not None]) / 3600.0
            staleness[signal] = {"mean_h": float(known.mean()) if known.size else math.nan,
                                 "max_h": float(known.max()) if known.size else math.nan,
                                 "unknown_share": 1.0 - known.size / n}
        reports[name] = TimelineReport(
            name=name, days=days, credits_per_day=tuple(float(c) for c in credits),
            runs={q: runs[q] for q in catalog}, reasons={q: dict(c) for q, c in reasons.items()},
            staleness_h=staleness, high_churn_share=modes["high_churn"] / n, risk_share=risky / n,
            budget_credits_per_day=settings.budget_credits_per_day, modes=dict(modes))
    return reports
