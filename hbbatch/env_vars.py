"""The roadmap's environment variables, checked up front and mapped onto the config.

    HB_SEED=42                                   -> seed=42 (every job: identical seeds)
    EPISODE_COUNT=500                            -> n_episodes=500
    HB_REGIME_MIX="mean_revert:0.4,jumpy:0.3,trend_up:0.3"
                                                 -> the regime mix of the world (regime_mix=roadmap), for every campaign
    DUNE_CALIBRATION_JSON=/path/calibration.json -> the report of the calibrated campaigns (calibration=default)
    HB_CAMPAIGN=A|B|C|all                        -> read by ./run_aggressive_campaign.sh

The mix is the world's (every campaign runs in it, so their episodes pair); the report goes to the
campaign it calibrates, so that a three-way run keeps A and B uncalibrated while C takes the calibration.
A value given on the command line wins over its variable. Every malformed value is a one-line error
naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

# jax-free: this runs before the CLI starts. The mix is parsed in config/ (the ${hb.env_mix:...} resolver
# reads it too), so config never imports this module.
from hbbatch.config.env_mix import MIX_VAR, EnvVarError, parse_regime_mix, regime_mix_from  # noqa: F401

SEED_VAR = "HB_SEED"
EPISODES_VAR = "EPISODE_COUNT"
CALIBRATION_VAR = "DUNE_CALIBRATION_JSON"


def _int_var(name: str, raw: str, minimum: int, maximum: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise EnvVarError(f"{name}={raw!r}: not an integer; set it to a whole number, e.g. {name}={minimum + 1}") from None
    if not minimum <= value <= maximum:
        raise EnvVarError(f"{name}={raw!r}: must be between {minimum} and {maximum}")
    return value


def calibration_path_from(environ: Mapping[str, str] | None = None) -> Path | None:
    raw = (os.environ if environ is None else environ).get(CALIBRATION_VAR)
    if raw is None or not raw.strip():
        return None
    path = Path(raw.strip()).expanduser()
    if not path.is_file():
        raise EnvVarError(f"{CALIBRATION_VAR}={raw!r}: no such file; point it at a calibration_report.json")
    return path.resolve()


def _cli_keys(argv: Sequence[str]) -> set[str]:
    keys = set()
    for arg in argv:
        if "=" in arg and not arg.startswith("-"):
            keys.add(arg.split("=", 1)[0].lstrip("+~"))
    return keys


def overrides_from(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """Command-line overrides for HB_SEED and EPISODE_COUNT, skipping keys the command line sets itself.

    Also checks HB_REGIME_MIX and DUNE_CALIBRATION_JSON, so that a bad value fails before anything runs.
    """
    env = os.environ if environ is None else environ
    given = _cli_keys(argv)
    overrides = []
    if env.get(SEED_VAR, "").strip():
        seed = _int_var(SEED_VAR, env[SEED_VAR], 0, 2**63 - 1)
        if "seed" not in given:
            overrides.append(f"seed={seed}")
    if env.get(EPISODES_VAR, "").strip():
        count = _int_var(EPISODES_VAR, env[EPISODES_VAR], 1, 10_000_000)
        if "n_episodes" not in given:
            overrides.append(f"n_episodes={count}")
    regime_mix_from(env)
    calibration_path_from(env)
    return overrides
