"""The world a campaign's market paths come from (`conf/world/<name>.yaml`, `world=<name>`).

kind:
  historical  stationary block bootstrap of real ETH history (hbbatch/data/history or world.history)
  replay      consecutive non-overlapping windows of a history in time order (walk-forward)
  parametric  the regime model of `market.*` (the `regimes` world)
Stress worlds are historical worlds with one assumption changed (conf/world/stress_*.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from hbbatch.config.bounds import bounded, one_of, plain_name
from hbbatch.config.world_validation import WorldValidationConf

WORLD_KINDS = ("historical", "replay", "parametric")
RECENTER_GAS_UNITS = 787_760.0  # burn + collect + swap + mint: hbbatch/calibration/gas.py


@dataclass
class WorldConf:
    name: str = plain_name("historical")     # the scenario label (report, manifest, comparisons)
    kind: str = one_of("historical", WORLD_KINDS)  # historical | replay | parametric
    description: str = ""
    history: Optional[str] = None            # a bars file (parquet/feather/CSV date,open,high,low,close[,volume],
                                             # or demeter minute bars); null: the embedded Binance ETH/USDT history
    bar_minutes: Optional[int] = bounded(None, ge=1, le=60)  # embedded bars to read (1, 5, 60); null: the finest
                                             # that covers history_start .. history_end
    history_start: Optional[str] = "2020-01-01"   # the real window the world draws from (UTC dates; null: all)
    history_end: Optional[str] = None        # (world validation compares against the same window by default)
    # mean block length of the stationary bootstrap: 30 days keep the weekly volatility clustering the
    # world validation checks (ACF of |hourly r| at 168 h); a day's or a week's blocks wipe it out (README)
    block_hours: float = bounded(720.0, gt=0, le=100_000)
    drift_annual: float = bounded(0.0, ge=-50, le=50)  # added to every step's log return (stress_down_trend)
    gas_median_usd: Optional[float] = bounded(None, ge=0, le=100_000)  # rescale the history's gas per action to this median; null: as history
    gas_units: float = bounded(RECENTER_GAS_UNITS, gt=0, le=1e8)  # gas of one action, for gas price -> USD
    lp_fee_share: float = bounded(1.0, ge=0, le=1)  # the LPs' share of the pool fee (fee switch: 0.75)
    pool_fee_bp: int = bounded(5, ge=5, le=30)  # which embedded pool history sets volume and liquidity levels
    validate: bool = True                    # false: simulate without checking the world (the manifest says so)
    validation: WorldValidationConf = field(default_factory=WorldValidationConf)
