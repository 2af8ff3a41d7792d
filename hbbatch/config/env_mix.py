"""HB_REGIME_MIX, the roadmap's regime mix for the uncalibrated campaigns: parsed here, at the bottom of
the house, because the `${hb.env_mix:...}` resolver of conf/regime_mix/roadmap.yaml reads it; the other
environment variables are mapped in hbbatch.env_vars (which re-exports these names)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from hbbatch.config.sim import MIX_TOLERANCE, REGIMES

MIX_VAR = "HB_REGIME_MIX"


class EnvVarError(ValueError):
    """An environment variable of the roadmap's workflow is malformed; the message names it and the fix."""


def parse_regime_mix(raw: str, name: str = MIX_VAR) -> dict[str, float]:
    """'mean_revert:0.4,jumpy:0.3,trend_up:0.3' -> weights per regime (missing regimes weigh 0).

    Sums within the simulator's tolerance of 1 are accepted (the roadmap's calibrated mix sums to 0.99)
    and renormalised where the simulator reads them.
    """

    weights: dict[str, float] = {}
    for item in raw.split(","):
        regime, sep, value = item.partition(":")
        regime, value = regime.strip(), value.strip()
        if not sep or not regime or not value:
            raise EnvVarError(f"{name}={raw!r}: bad entry {item.strip()!r}; write regime:weight pairs separated "
                              f"by commas, e.g. mean_revert:0.4,jumpy:0.3,trend_up:0.3")
        if regime not in REGIMES:
            raise EnvVarError(f"{name}={raw!r}: unknown regime {regime!r}; use {', '.join(REGIMES)}")
        if regime in weights:
            raise EnvVarError(f"{name}={raw!r}: regime {regime!r} given twice")
        try:
            weight = float(value)
        except ValueError:
            raise EnvVarError(f"{name}={raw!r}: weight {value!r} of {regime} is not a number") from None
        if not math.isfinite(weight) or weight < 0:
            raise EnvVarError(f"{name}={raw!r}: weight {value} of {regime} must be a finite number >= 0")
        weights[regime] = weight
    total = sum(weights.values())
    if abs(total - 1.0) > MIX_TOLERANCE:
        raise EnvVarError(f"{name}={raw!r}: weights sum to {total:.4f}; they must sum to 1 "
                          f"(within {MIX_TOLERANCE})")
    return {regime: weights.get(regime, 0.0) for regime in REGIMES}


def regime_mix_from(environ: Mapping[str, str] | None = None) -> dict[str, float] | None:
    raw = (os.environ if environ is None else environ).get(MIX_VAR)
    return None if raw is None or not raw.strip() else parse_regime_mix(raw)
