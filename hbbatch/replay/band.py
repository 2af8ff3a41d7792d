"""A band on the pool's tick grid: placement, amounts and fees with hbbatch.uniswap's exact integers.

Conventions (USDC/WETH-style pools: token0 the USD stablecoin, token1 the risky token):
- the pool's raw price is token1 per token0 = 1.0001^tick, so USD per token1 = 10^(d1 - d0) / 1.0001^tick;
- the band opens at the first bar's `openTick`, at that tick's sqrt price (TickMath.getSqrtRatioAtTick);
  the liquidity is the most `capital_usd` buys there (LiquidityAmounts), the amounts are what the pool
  takes for it on mint (rounded up, as the pool does); the few cents left are idle cash;
- a position is active while lower <= tick < upper (the pool's rule). In a bar the price visits every
  tick from lowestTick to highestTick; the bar's fees are shared in proportion to the visited ticks
  inside the band (swaps spread evenly over the visited ticks: the one assumption minute bars force);
- the pool's fee is fee_pips / 1e6 of each amount swapped in, in the token swapped in; the band's share
  of it is L / (L + pool liquidity of the bar), in exact integer division (rounded down);
- fees_usd values the token1 fees of each bar at that bar's close price (the value when earned, as
  the simulator counts fees); summary.json also gives the token amounts and their value at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from hbbatch.replay.bars import MinuteBars, ReplayError
from hbbatch.uniswap import (MAX_TICK, MIN_TICK, get_amounts_for_liquidity, get_liquidity_for_amounts,
                             get_sqrt_ratio_at_tick, modify_position_amounts)

Q96 = 1 << 96
BAND_CONVENTIONS = " ".join(line.strip() for line in __doc__.split("Conventions")[1].splitlines()[1:] if line.strip())
LIQUIDITY_PROBE = 10**24          # a liquidity large enough that rounding is negligible when pricing one unit


@dataclass(frozen=True)
class PoolSpec:
    fee_pips: int = 500               # 0.05 %
    tick_spacing: int = 10
    decimals0: int = 6                # USDC
    decimals1: int = 18               # WETH


@dataclass(frozen=True)
class Band:
    tick_lower: int
    tick_upper: int
    liquidity: int
    amount0: int                      # raw token0 deposited on mint
    amount1: int                      # raw token1
    idle_usd: float                   # capital not deployed (rounding)
    open_tick: int
    open_price_usd: float


def usd_per_token1(tick_or_sqrt: int, pool: PoolSpec, is_sqrt: bool = False) -> float:
    sqrt_price = tick_or_sqrt if is_sqrt else get_sqrt_ratio_at_tick(int(tick_or_sqrt))
    raw_price = (sqrt_price / Q96) ** 2
    return 10.0 ** (pool.decimals1 - pool.decimals0) / raw_price


def value_usd(amount0: int, amount1: int, price_usd: float, pool: PoolSpec) -> float:
    return amount0 / 10**pool.decimals0 + amount1 / 10**pool.decimals1 * price_usd


def check_band(band: Sequence[int], pool: PoolSpec) -> tuple[int, int]:
    """The band as two ints on the pool's grid, or a one-line error naming replay.hold_band."""
    try:
        lower, upper = (int(band[0]), int(band[1]))
        if len(band) != 2 or lower != band[0] or upper != band[1]:
            raise ValueError
    except (TypeError, ValueError, IndexError):
        raise ReplayError(f"replay.hold_band={list(band) if band is not None else band}: give two integer pool ticks, "
                          "e.g. 'replay.hold_band=[198900,199100]'") from None
    if not lower < upper:
        raise ReplayError(f"replay.hold_band=[{lower},{upper}]: lower must be below upper")
    if lower < MIN_TICK or upper > MAX_TICK:
        raise ReplayError(f"replay.hold_band=[{lower},{upper}]: ticks must lie in [{MIN_TICK}, {MAX_TICK}]")
    if lower % pool.tick_spacing or upper % pool.tick_spacing:
        raise ReplayError(f"replay.hold_band=[{lower},{upper}]: both ticks must be multiples of the pool's tick "
                          f"spacing {pool.tick_spacing} (e.g. [{lower - lower % pool.tick_spacing},"
                          f"{upper - upper % pool.tick_spacing}])")
    return lower, upper


def place_band(capital_usd: float, tick_lower: int, tick_upper: int, open_tick: int, pool: PoolSpec) -> Band:
    """The most liquidity `capital_usd` funds on the band at the opening tick, and the amounts it takes."""
    sqrt_price = get_sqrt_ratio_at_tick(open_tick)
    sqrt_lower, sqrt_upper = get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper)
    price = usd_per_token1(sqrt_price, pool, is_sqrt=True)
    probe0, probe1 = get_amounts_for_liquidity(sqrt_price, sqrt_lower, sqrt_upper, LIQUIDITY_PROBE)
    probe_usd = value_usd(probe0, probe1, price, pool)
    # budget in each token at the band's ratio, then the pool's own liquidity-for-amounts
    budget0 = int(probe0 * capital_usd / probe_usd)
    budget1 = int(probe1 * capital_usd / probe_usd)
    liquidity = get_liquidity_for_amounts(sqrt_price, sqrt_lower, sqrt_upper, budget0, budget1)
    while liquidity > 0:   # the mint rounds up: step down until its amounts fit the budget
        amount0, amount1 = modify_position_amounts(open_tick, sqrt_price, tick_lower, tick_upper, liquidity)
        if amount0 <= budget0 and amount1 <= budget1:
            break
        liquidity -= 1
    else:
        raise ReplayError(f"agent.capital_usd={capital_usd}: too small to fund any liquidity on [{tick_lower},{tick_upper}]")
    return Band(tick_lower=tick_lower, tick_upper=tick_upper, liquidity=liquidity, amount0=amount0, amount1=amount1,
                idle_usd=capital_usd - value_usd(amount0, amount1, price, pool), open_tick=open_tick,
                open_price_usd=price)


def visited_ticks_in_band(low: int, high: int, lower: int, upper: int) -> tuple[int, int]:
    """(ticks of [low, high] with lower <= t < upper, ticks of [low, high])."""
    inside = max(0, min(high, upper - 1) - max(low, lower) + 1)
    return inside, high - low + 1


def accrue(bars: MinuteBars, tick_lower: int, tick_upper: int, liquidity: int, pool: PoolSpec,
           active: Sequence[tuple[int, int]] | None = None, own_in_pool: Sequence[bool] | None = None) -> pd.DataFrame:
    """Per bar: the band's share of the bar's fees in raw tokens and USD.

    `active` gives, per bar, the part (numerator, denominator) of the bar the band was held (default
    the whole bar); `own_in_pool` says where the bar's liquidity already counts the band itself (a real
    position, live at the bar's close and in range), so the share is L / pool liquidity there.
    """
    rows = []
    sqrt_lower, sqrt_upper = get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper)
    for i in range(len(bars)):
        inside, visited = visited_ticks_in_band(bars.low_tick[i], bars.high_tick[i], tick_lower, tick_upper)
        held_num, held_den = active[i] if active is not None else (1, 1)
        pool_liquidity = bars.liquidity[i]
        if own_in_pool is not None and own_in_pool[i]:
            pool_liquidity = max(pool_liquidity - liquidity, 0)
        denominator = (liquidity + pool_liquidity) * visited * held_den
        numerator = liquidity * inside * held_num
        fee0 = bars.in_amount0[i] * pool.fee_pips // 1_000_000
        fee1 = bars.in_amount1[i] * pool.fee_pips // 1_000_000
        own0 = fee0 * numerator // denominator if denominator else 0
        own1 = fee1 * numerator // denominator if denominator else 0
        close_sqrt = get_sqrt_ratio_at_tick(bars.close_tick[i])
        price = usd_per_token1(close_sqrt, pool, is_sqrt=True)
        held0, held1 = get_amounts_for_liquidity(close_sqrt, sqrt_lower, sqrt_upper, liquidity)
        rows.append((bars.timestamp[i], bars.open_tick[i], bars.close_tick[i], bars.low_tick[i], bars.high_tick[i],
                     inside / visited, liquidity / (liquidity + pool_liquidity) if liquidity + pool_liquidity else 0.0,
                     held_num / held_den, value_usd(bars.in_amount0[i], bars.in_amount1[i], price, pool), price,
                     own0, own1, value_usd(own0, own1, price, pool), held0, held1))
    frame = pd.DataFrame(rows, columns=["timestamp", "open_tick", "close_tick", "low_tick", "high_tick",
                                        "in_range_fraction", "share", "held_fraction", "volume_usd",
                                        "price_close_usd", "fees_token0_raw", "fees_token1_raw", "fees_usd",
                                        "position_token0_raw", "position_token1_raw"])
    # raw amounts exceed int64 in general: keep them exact as strings beside float token units
    for column in ("fees_token0_raw", "fees_token1_raw", "position_token0_raw", "position_token1_raw"):
        decimals = pool.decimals0 if "token0" in column else pool.decimals1
        frame[column.replace("_raw", "")] = np.array([v / 10**decimals for v in frame[column]], dtype=float)
        frame[column] = frame[column].map(str)
    return frame
