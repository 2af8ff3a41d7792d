"""Live signals: what the agent and the market look like right now, and what they imply for planning.

Two things follow from them: the planning *mode* (high churn or high gas tightens the limits) and the
*risk signals* (a volatility spike, a drawdown, suspected toxic flow) that let P2 queries run. A
signal that is not known is taken as not high: it neither switches the mode nor raises a risk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

GAS_REGIMES = ("low", "normal", "high")
MODES = ("auto", "normal", "high_churn")
RISK_NAMES = ("vol_spike", "drawdown", "toxicity")


class SignalError(ValueError):
    """A live signal has the wrong name or value; the message names it and the fix."""


@dataclass(frozen=True)
class LiveSignals:
    gas_regime: str | None = None           # low | normal | high
    gas_usd: float | None = None            # gas paid per action
    actions_per_hour: float | None = None   # the agent's gas-paying actions per hour
    vol_ratio: float | None = None          # realized vol over its trailing median
    drawdown: float | None = None           # from peak equity, fraction
    toxicity: float | None = None           # toxic share of pool volume

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "signals") -> "LiveSignals":
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise SignalError(f"{where}.{key}: unknown signal; use one of {', '.join(sorted(known))}")
            if value is None:
                continue
            if key == "gas_regime":
                if value not in GAS_REGIMES:
                    raise SignalError(f"{where}.gas_regime is {value!r}; use one of {', '.join(GAS_REGIMES)}")
                kwargs[key] = str(value)
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise SignalError(f"{where}.{key} is {value!r}; use a number") from None
            if not math.isfinite(number) or number < 0:
                raise SignalError(f"{where}.{key} is {value!r}; use a finite number >= 0")
            kwargs[key] = number
        return cls(**kwargs)

    def merged_over(self, other: "LiveSignals") -> "LiveSignals":
        """These signals, with the gaps filled from `other`."""
        return LiveSignals(**{f.name: getattr(self, f.name) if getattr(self, f.name) is not None
                              else getattr(other, f.name) for f in fields(self)})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def gas_regime_of(gas_usd: float, gas_usd_median: float, high_ratio: float, low_ratio: float) -> str:
    """Gas regime of a gas price per action, relative to its median."""
    if gas_usd >= high_ratio * gas_usd_median:
        return "high"
    if gas_usd <= low_ratio * gas_usd_median:
        return "low"
    return "normal"


def effective_gas_regime(signals: LiveSignals, gas_usd_median: float, high_ratio: float,
                         low_ratio: float) -> str | None:
    if signals.gas_regime is not None:
        return signals.gas_regime
    if signals.gas_usd is not None:
        return gas_regime_of(signals.gas_usd, gas_usd_median, high_ratio, low_ratio)
    return None


def choose_mode(forced: str, signals: LiveSignals, churn_actions_per_hour: float, gas_regime: str | None
                ) -> tuple[str, str]:
    """(mode, why): a forced mode wins; `auto` is high_churn on churn or high gas, else normal."""
    if forced != "auto":
        return forced, f"forced: {forced}"
    if signals.actions_per_hour is not None and signals.actions_per_hour > churn_actions_per_hour:
        return "high_churn", f"auto: {signals.actions_per_hour:.3g} actions/h > {churn_actions_per_hour:.3g}"
    if gas_regime == "high":
        return "high_churn", "auto: gas regime high"
    return "normal", "auto: no churn, gas not high"


def high_risks(signals: LiveSignals, vol_spike_ratio: float, drawdown: float, toxicity: float) -> tuple[str, ...]:
    """Names of the risk signals at or above their thresholds, in RISK_NAMES order."""
    high = []
    if signals.vol_ratio is not None and signals.vol_ratio >= vol_spike_ratio:
        high.append("vol_spike")
    if signals.drawdown is not None and signals.drawdown >= drawdown:
        high.append("drawdown")
    if signals.toxicity is not None and signals.toxicity >= toxicity:
        high.append("toxicity")
    return tuple(high)
