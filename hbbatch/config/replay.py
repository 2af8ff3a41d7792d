"""Schema of the `replay` section (task=replay: a band held on the pool's tick grid over real minute bars)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional


@dataclass
class ReplayConf:
    bars: Optional[str] = None                # a demeter minute-bar CSV (*.minute.csv)
    hold_band: Optional[List[int]] = None     # [tick_lower, tick_upper] in the pool's ticks, on its grid
    positions: Optional[str] = None           # demeter *.positions.csv of the same day: real fees vs the replay
    user_positions: Optional[str] = None      # demeter *.user_lp.csv: which positions opened and closed that day
    fee_pips: int = 500                       # the pool's fee in millionths (500: 0.05 %)
    tick_spacing: int = 10
    decimals0: int = 6                        # token0 (the USD stablecoin)
    decimals1: int = 18                       # token1
    output_dir: Optional[str] = None          # null: the Hydra run's output directory
