"""The paper position against hand computations in floats (the v3 whitepaper's formulas) and conservation."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from hbbatch import uniswap
from hbbatch.shadow.observation import Observation, usd_per_eth_at_sqrt_price
from hbbatch.shadow.position import USD_TICK_OFFSET, in_range_fraction, open_position, pool_band

TICK = 199045                      # the 2024-01-05 open of the mainnet pool
POOL_L = 12453647101533358277      # its active liquidity


def obs(tick: int = TICK, a0: int = 0, a1: int = 0, pool_l: int = POOL_L) -> Observation:
    sqrt = uniswap.get_sqrt_ratio_at_tick(tick)
    return Observation(time=datetime(2024, 1, 5, tzinfo=timezone.utc), sqrt_price_x96=sqrt, tick=tick,
                       price_usd=usd_per_eth_at_sqrt_price(sqrt), log_return=0.0, amount0_in=a0, amount1_in=a1,
                       volume_usd=0.0, pool_liquidity_raw=pool_l)


def test_position__usd_ticks_map_onto_the_pool_grid_mirrored():
    # USD/ETH = 1e12 / 1.0001^pool_tick: a band [-600, +600] around usd tick u0 is pool [C-u0-600, C-u0+600]
    u0 = 77280.0
    lower, upper = pool_band(-600, 600, u0, 10)
    assert upper - lower == 1200 and lower % 10 == 0
    assert abs((lower + upper) / 2 - (USD_TICK_OFFSET - u0)) <= 5
    assert USD_TICK_OFFSET == pytest.approx(12 * math.log(10) / math.log(1.0001))


def test_position__in_range_fraction_by_hand():
    assert in_range_fraction(100, 100, 0, 200) == 1.0
    assert in_range_fraction(200, 200, 0, 200) == 0.0       # upper tick excluded, as in the pool
    assert in_range_fraction(150, 250, 0, 200) == 0.5
    assert in_range_fraction(-100, 300, 0, 200) == 0.5
    assert in_range_fraction(300, 400, 0, 200) == 0.0


def test_position__opening_amounts_and_value_match_the_whitepaper_formulas():
    o = obs()
    lower, upper = TICK - 600, TICK + 600
    liquidity = 35_508_987_798_741_960
    paper = open_position(o, lower, upper, liquidity, 100_000.0)
    # whitepaper (6.29-6.30): x = L (1/sqrtP - 1/sqrtPb), y = L (sqrtP - sqrtPa), token1 per token0 raw
    s, sa, sb = (1.0001 ** (t / 2) for t in (TICK, lower, upper))
    amount0, amount1 = paper.amounts(o.sqrt_price_x96)
    assert amount0 == pytest.approx(liquidity * (1 / s - 1 / sb), rel=1e-9)
    assert amount1 == pytest.approx(liquidity * (s - sa), rel=1e-9)
    assert paper.equity_usd(o) == pytest.approx(100_000.0, abs=0.01)
    assert paper.hodl_usd(o) == pytest.approx(100_000.0, abs=0.01)
    assert paper.values(o)["pnl_vs_hodl_usd"] == pytest.approx(0.0, abs=0.01)


def test_position__fees_are_the_pool_fee_times_our_share_times_the_part_in_range():
    o = obs()
    paper = open_position(o, TICK - 600, TICK + 600, 35_508_987_798_741_960, 100_000.0)
    step = obs(TICK + 10, a0=10_000 * 10**6, a1=2 * 10**18)
    paper.accrue_fees(TICK, step, 500)
    share = paper.liquidity / (paper.liquidity + POOL_L)
    assert paper.fees0 == pytest.approx(10_000e6 * 0.0005 * share, abs=1)
    assert paper.fees1 == pytest.approx(2e18 * 0.0005 * share, rel=1e-9)
    # a move half outside the band earns half
    paper2 = open_position(o, TICK - 600, TICK + 600, 35_508_987_798_741_960, 100_000.0)
    paper2.accrue_fees(TICK + 500, obs(TICK + 700, a0=10_000 * 10**6), 500)
    assert paper2.fees0 == pytest.approx(10_000e6 * 0.0005 * share * 0.5, abs=1)


def test_position__a_rebalance_conserves_value_up_to_swap_cost_and_gas():
    o = obs()
    paper = open_position(o, TICK - 600, TICK + 600, 35_508_987_798_741_960, 100_000.0)
    moved = obs(TICK - 400)                     # price up in USD: the band now holds more USDC
    before = paper.equity_usd(moved)
    target = 20_000_000_000_000_000
    paper.rebalance(moved, TICK - 400 - 900, TICK - 400 + 900, target, 500, gas_usd=4.7)
    after = paper.equity_usd(moved)
    assert paper.swap_cost_usd > 0
    assert before - after == pytest.approx(paper.swap_cost_usd + 4.7, abs=1e-6)
    # the swap cost is the pool fee plus the impact within one liquidity range: fee ~ 0.05 % of the swap
    swapped_usd = paper.swap_cost_usd / 0.0005
    assert 1_000 < swapped_usd < 100_000
    assert paper.liquidity <= target and paper.idle0 >= 0 and paper.idle1 >= 0
    assert (paper.tick_lower, paper.tick_upper) == (TICK - 1300, TICK + 500)


def test_position__exit_leaves_only_usdc():
    o = obs()
    paper = open_position(o, TICK - 600, TICK + 600, 35_508_987_798_741_960, 100_000.0)
    before = paper.equity_usd(o)
    paper.exit(o, 500, gas_usd=4.7)
    assert paper.liquidity == 0 and paper.idle1 == 0 and paper.idle0 > 0
    assert before - paper.equity_usd(o) == pytest.approx(paper.swap_cost_usd + 4.7, abs=1e-6)
    assert paper.to_json() and type(paper).from_json(paper.to_json()) == paper
