"""World validation settings: the sample a world is checked on and the tolerance of each stylised fact.

A world passes when each of its facts (hbbatch/worlds/facts.py) lies within the tolerance of the same
fact of the embedded real history. The tolerances are wider than the sampling noise of the check
itself: a sample of `n_episodes` windows of `n_weeks` weeks drawn from the real history passes with
the defaults in at least 99 % of draws (tests/worlds/test_validation.py checks it on the embedded
history). Each fact group is a `FactTolerance`: `abs` for shares and correlations (|world - real| <=
abs), `factor` for scales (real / factor <= world <= real * factor). Measured over 400 draws of 64
two-week windows of 2020-01 .. 2025-04: 399 pass when the tolerances were set, 396 now
(`python bench/world_validation.py --power`, which also gives the check's power); each tolerance is about
1.2 x the largest deviation between the 0.25 % and 99.75 % quantiles of its fact and the full history's value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

from hbbatch.config.bounds import bounded, one_of, plain_name

SEVERITIES = ("error", "warn")


@dataclass
class FactTolerance:
    abs: Optional[float] = bounded(None, ge=0, le=1e12)      # |world - real| <= abs
    factor: Optional[float] = bounded(None, ge=1, le=1e12)   # real / factor <= world <= real * factor (real > 0)
    severity: str = one_of("error", SEVERITIES)              # error: a miss fails the world; warn: reported only


def _tol(abs: Optional[float] = None, factor: Optional[float] = None):
    return field(default_factory=lambda: FactTolerance(abs=abs, factor=factor))


@dataclass
class FactTolerances:
    """One tolerance per fact group; a fact belongs to the group its name starts with."""

    weekly_abs_return: FactTolerance = _tol(factor=1.6)
    weekly_abs_return_q99: FactTolerance = _tol(factor=2.2)    # one week in a hundred: few in a sample
    band_stay_share: FactTolerance = _tol(abs=0.13)
    time_in_range: FactTolerance = _tol(abs=0.12)
    acf_abs_hourly_return: FactTolerance = _tol(abs=0.10)
    hourly_excess_kurtosis: FactTolerance = _tol(factor=4.5)   # a sample's kurtosis rests on its few largest hours
    daily_volume_usd: FactTolerance = _tol(factor=3.0)         # wider than the noise (2.0): the pool is a choice
    gas_per_action_usd: FactTolerance = _tol(factor=2.7)
    gas_per_action_usd_q10: FactTolerance = _tol(factor=3.5)   # quiet-gas years come and go across a sample
    gas_abs_return_rank_corr: FactTolerance = _tol(abs=0.11)
    fee_apr: FactTolerance = _tol(factor=2.5)


@dataclass
class WorldValidationConf:
    """How a campaign checks its world before simulating (`world.validate=false` skips the check)."""

    suite: str = plain_name("stylised_facts")      # expectations/world/<suite>.json
    n_episodes: int = bounded(64, ge=1, le=100_000)   # the sample of episodes drawn from the world
    n_weeks: int = bounded(2, ge=2, le=520)        # each this many weeks long (the 168 h ACF needs two)
    # the real history's window (UTC dates); null: the world's own (world.history_start .. history_end), so a
    # world drawn from 2022-08 on is held against the facts of those years, not of 2020-2025
    history_start: Optional[str] = None
    history_end: Optional[str] = None
    tolerances: FactTolerances = field(default_factory=FactTolerances)
    # fact -> one-line reason: facts a stress world changes on purpose, reported but not failing. Only a
    # world that changes an assumption of the history (hbbatch.config.world.STRESS_ASSUMPTIONS) may name
    # them, and only facts that assumption moves; every other fact is checked as in any world.
    exempt_facts: Dict[str, str] = field(default_factory=dict)
    cache: bool = True                        # reuse the stored result of the same world, code and data
    cache_dir: Optional[str] = None           # where results are kept across runs (null: $XDG_CACHE_HOME/hbbatch/world_validation)
