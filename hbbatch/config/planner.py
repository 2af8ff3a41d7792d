"""Schema of the `planner` config group (owned by the planner package).

The YAML files in `conf/planner/` set these fields; `hbbatch.planner.settings.settings_from` checks
them against the query catalog (unknown priority or mode, negative TTL, a budget below what the P0
queries need) and turns them into the planner's frozen settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from hbbatch.config.bounds import bounded, one_of, output_path, seed_field

PRIORITIES = ("P0", "P1", "P2")
MODES = ("normal", "high_churn", "auto")


@dataclass
class ModeLimitsConf:
    """How far one planning mode may reach."""

    max_priority: str = one_of("P1", PRIORITIES)  # highest priority class planned routinely (P0 < P1 < P2)
    max_expensive: int = bounded(1, ge=0, le=1000)  # expensive queries allowed per cycle


@dataclass
class ModeSwitchConf:
    """Live signals that move `mode: auto` from normal to high_churn."""

    # high churn: acting faster than this (0.1/h: 2.4 a day, beyond the hard cap's pace of 120 actions
    # per 10 one-week episodes, about 0.07/h; the default agent acts about 0.01/h)
    churn_actions_per_hour: float = bounded(0.1, gt=0, le=1e6)
    # gas per action at least this multiple of the median is gas regime "high"
    high_gas_ratio: float = bounded(2.0, gt=0, le=1e6)
    low_gas_ratio: float = bounded(0.5, gt=0, le=1e6)  # ... at most this multiple is "low"
    # the median those ratios refer to; null: market.gas_usd_median
    gas_usd_median: Optional[float] = bounded(None, gt=0, le=1e5)


@dataclass
class RiskConf:
    """Risk signals that let P2 queries run; any one above its threshold is a high risk signal."""

    vol_spike_ratio: float = bounded(2.0, gt=0, le=1e6)  # realized vol over its trailing median
    drawdown: float = bounded(0.10, ge=0, le=1)  # drawdown from peak equity (fraction)
    toxicity: float = bounded(0.10, ge=0, le=1)  # sandwiched share of pool volume (calibrated 2024-01-05: 0.05)
    max_priority: str = one_of("P2", PRIORITIES)  # the priority cap while a risk signal is high
    vol_baseline_hours: int = bounded(168, ge=1, le=87600)  # trailing window of the vol baseline (timeline)


def _default_feeds() -> Dict[str, List[str]]:
    # Which agent decision each query signal feeds (hbbatch/planner/decisions.py defines both, with units).
    return {
        "gas_price": ["ev_gate", "rail_gas_cap"],
        "eth_price": ["ev_gate", "rail_gas_cap"],
        "fee_rate": ["ev_gate"],
        "volume": ["ev_gate"],
        "active_liquidity": ["ev_gate", "rail_pool_share"],
        "mev_share": ["ev_gate"],
        "drift": ["regime_trend"],
        "realized_vol": ["ev_gate", "regime_trend"],
    }


@dataclass
class VoiConf:
    """Value of information: when a query's plausible result cannot change a decision."""

    k_sigma: float = bounded(2.0, ge=0, le=100)  # plausible range: last value +- k_sigma * std of its history
    min_history: int = bounded(3, ge=0, le=10**6)  # fewer past values than this: the range is unknown, the query runs
    feeds: Dict[str, List[str]] = field(default_factory=_default_feeds)


@dataclass
class LiveSignalsConf:
    """Current signals given on the command line; null ones come from the latest artifacts."""

    gas_regime: Optional[str] = one_of(None, ("low", "normal", "high"))
    gas_usd: Optional[float] = bounded(None, ge=0, le=1e5)  # gas paid per action (sets gas_regime when that is null)
    actions_per_hour: Optional[float] = bounded(None, ge=0, le=1e6)
    vol_ratio: Optional[float] = bounded(None, ge=0, le=1e6)  # realized vol over its trailing median
    drawdown: Optional[float] = bounded(None, ge=0, le=1)
    toxicity: Optional[float] = bounded(None, ge=0, le=1)


@dataclass
class TimelineConf:
    """The planner simulation (`task=plan_sim`)."""

    days: int = bounded(30, ge=1, le=3650)
    seed: int = seed_field(42)
    modes: List[str] = one_of(None, MODES, factory=lambda: ["normal", "high_churn", "auto"])   # one column each
    episodes_path: Optional[str] = None     # an episodes.parquet to drive it; null: synthetic signals
    hours_per_episode: float = bounded(168.0, gt=0, le=87600)  # one episode of the simulator's default 10,080 minutes


@dataclass
class PlannerConf:
    mode: str = one_of("auto", MODES)  # auto: from live signals
    normal: ModeLimitsConf = field(default_factory=lambda: ModeLimitsConf("P1", 1))
    high_churn: ModeLimitsConf = field(default_factory=lambda: ModeLimitsConf("P1", 0))
    switch: ModeSwitchConf = field(default_factory=ModeSwitchConf)
    risk: RiskConf = field(default_factory=RiskConf)
    # per UTC day; checked against the ledger before each fetch
    budget_credits_per_day: float = bounded(1000.0, ge=0, le=1e9)
    cycle_s: int = bounded(3600, ge=1, le=31_536_000)  # one planning cycle
    # a result is fresh while younger than max(ttl_s, refresh_s[priority]): "P1 daily"
    refresh_s: Dict[str, int] = bounded(factory=lambda: {"P0": 0, "P1": 86400, "P2": 0}, ge=0, le=10**9)
    ttl_overrides_s: Dict[str, int] = bounded(factory=dict, ge=0, le=10**9)   # per query, replaces its ttl_s
    voi: VoiConf = field(default_factory=VoiConf)
    signals: LiveSignalsConf = field(default_factory=LiveSignalsConf)
    now_s: Optional[float] = bounded(None, ge=0, le=1e11)  # plan as of this time (unix s); null: now
    queries_dir: Optional[str] = None       # null: the repository's queries/
    # stored results, the Dune source's too; null: calibration.dune.cache_dir
    cache_dir: Optional[str] = output_path(None)
    timeline: TimelineConf = field(default_factory=TimelineConf)
