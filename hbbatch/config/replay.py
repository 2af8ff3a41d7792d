"""Schema of the `replay` section (task=replay: a band held on the pool's tick grid over real minute bars)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from hbbatch.config.bounds import bounded

MAX_TICK = 887272   # TickMath.MAX_TICK (hbbatch.uniswap; config stays free of the math module)


@dataclass
class ReplayConf:
    bars: Optional[str] = None                # a demeter minute-bar CSV (*.minute.csv)
    # [tick_lower, tick_upper] in the pool's ticks, on its grid
    hold_band: Optional[List[int]] = bounded(None, ge=-MAX_TICK, le=MAX_TICK)
    positions: Optional[str] = None           # demeter *.positions.csv of the same day: real fees vs the replay
    user_positions: Optional[str] = None      # demeter *.user_lp.csv: which positions opened and closed that day
    fee_pips: int = bounded(500, ge=1, le=999_999)   # the pool's fee in millionths (500: 0.05 %)
    tick_spacing: int = bounded(10, ge=1, le=16383)
    decimals0: int = bounded(6, ge=0, le=36)  # token0 (the USD stablecoin)
    decimals1: int = bounded(18, ge=0, le=36)  # token1
    output_dir: Optional[str] = None          # null: the Hydra run's output directory
    # true: the simulator's agent instead of hold_band, its memory warmed up on the bars' first
    # agent.warmup_minutes (observed only, as the simulator's historical episodes; hbbatch/replay/agent.py)
    agent: bool = False
