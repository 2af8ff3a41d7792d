"""hbbatch.uniswap against independent oracles.

- published vectors: /work/shared/reference/uniswap_v3_math.md, plus the other cases of v3-core's
  test/{FullMath,SqrtPriceMath,SwapMath}.spec.ts and v3-periphery's test/LiquidityAmounts.spec.ts;
- the chain: every MINT/BURN of the mainnet USDC/WETH 0.05 % pool on 2024-01-05 (amounts the pool
  took or paid), every event's (sqrtPriceX96, tick), and every swap that stayed inside one tick;
- exact arithmetic: Fraction for the rounding rules, 80-digit Decimal and float for 1.0001^(t/2).
"""

from __future__ import annotations

import csv
import math
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hbbatch.uniswap import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MAX_UINT128,
    MAX_UINT160,
    MAX_UINT256,
    MIN_SQRT_RATIO,
    MIN_TICK,
    Q96,
    UniswapMathError,
    compute_swap_step,
    encode_price_sqrt,
    get_amount0_delta,
    get_amount1_delta,
    get_amounts_for_liquidity,
    get_liquidity_for_amounts,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
    modify_position_amounts,
    mul_div,
    mul_div_rounding_up,
)

MAINNET_DAY = "data/mainnet_usdc_weth_2024-01-05"   # under the shared_dir fixture (tests/data/shared)
POOL_005 = "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640"  # USDC/WETH 0.05 %
POOL_030 = "0x8ad599c3a0ff1de082011efddc58f1908eb6e6d8"  # USDC/WETH 0.30 %

Q128 = 1 << 128
E18 = 10**18
enc = encode_price_sqrt

ticks = st.integers(MIN_TICK, MAX_TICK)
sqrt_prices = st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1)
liquidities = st.integers(0, MAX_UINT128)


# ---------------------------------------------------------------- published vectors


@pytest.mark.parametrize(
    ("reserve1", "reserve0", "expected"),
    [
        (1, 1, 79228162514264337593543950336),
        (121, 100, 87150978765690771352898345369),
        (100, 110, 75541088972021052632782079082),
        (110, 100, 83095197869223157896060286990),
    ],
)
def test_encode_price_sqrt__matches_v3_test_helper(reserve1, reserve0, expected):
    assert encode_price_sqrt(reserve1, reserve0) == expected


@pytest.mark.parametrize(
    ("tick", "expected"),
    [
        (-887272, 4295128739),
        (-887271, 4295343490),
        (887271, 1461373636630004318706518188784493106690254656249),
        (887272, 1461446703485210103287273052203988822378723970342),
        (50, 79426470787362580746886972461),
        (-50, 79030349367926598376800521322),
        (100, 79625275426524748796330556128),
        (1000, 83290069058676223003182343270),
        (-1000, 75364347830767020784054125655),
        (50000, 965075977353221155028623082916),
        (150000, 143194173941309278083010301478497),
        (0, Q96),
    ],
)
def test_get_sqrt_ratio_at_tick__matches_tickmath_vectors(tick, expected):
    assert get_sqrt_ratio_at_tick(tick) == expected


def test_min_and_max_sqrt_ratio__are_the_ratios_at_min_and_max_tick():
    assert get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO


@pytest.mark.parametrize(
    ("sqrt_price_x96", "expected"),
    [
        (79228162514264337593543950336, 0),
        (112045541949572279837463876454, 6931),
        (56022770974786139918731938227, -6932),
        (79228162514264337593543950336000, 138162),
        (MAX_SQRT_RATIO - 1, 887271),
        (MIN_SQRT_RATIO, MIN_TICK),
        (MIN_SQRT_RATIO + 1, MIN_TICK),
    ],
)
def test_get_tick_at_sqrt_ratio__matches_tickmath_vectors(sqrt_price_x96, expected):
    assert get_tick_at_sqrt_ratio(sqrt_price_x96) == expected


def test_amount_deltas__match_sqrtpricemath_vectors():
    lo, hi = enc(1, 1), enc(121, 100)
    assert get_amount0_delta(lo, hi, E18, True) == 90909090909090910
    assert get_amount0_delta(lo, hi, E18, False) == 90909090909090909
    assert get_amount1_delta(lo, hi, E18, True) == 100000000000000000
    assert get_amount1_delta(lo, hi, E18, False) == 99999999999999999
    # argument order does not matter: the contract sorts the two prices
    assert get_amount0_delta(hi, lo, E18, True) == 90909090909090910
    assert get_amount1_delta(hi, lo, E18, False) == 99999999999999999
    assert get_amount0_delta(enc(1, 1), enc(2, 1), 0, True) == 0
    assert get_amount1_delta(enc(1, 1), enc(1, 1), E18, True) == 0
    # "works for prices that overflow": L * 2^96 * (B - A) needs more than 256 bits
    up = get_amount0_delta(enc(2**90, 1), enc(2**96, 1), E18, True)
    down = get_amount0_delta(enc(2**90, 1), enc(2**96, 1), E18, False)
    assert up == down + 1


@pytest.mark.parametrize(
    ("sqrt_price", "liquidity", "amount_in", "zero_for_one", "expected"),
    [
        (enc(1, 1), E18, E18 // 10, False, 87150978765690771352898345369),
        (enc(1, 1), E18, E18 // 10, True, 72025602285694852357767227579),
        (enc(1, 1), 10 * E18, 2**100, True, 624999999995069620),
        (enc(1, 1), 1, MAX_UINT256 // 2, True, 1),
        (1, 1, 2**255, True, 1),
        (MAX_UINT160, MAX_UINT128, MAX_UINT256 - (MAX_UINT128 << 96) // MAX_UINT160, True, 1),
        (enc(1, 1), E18 // 10, 0, True, enc(1, 1)),
        (enc(1, 1), E18 // 10, 0, False, enc(1, 1)),
        (
            1025574284609383690408304870162715216695788925244,
            50015962439936049619261659728067971248,
            406,
            True,
            1025574284609383582644711336373707553698163132913,
        ),
    ],
)
def test_get_next_sqrt_price_from_input__matches_sqrtpricemath_vectors(
    sqrt_price, liquidity, amount_in, zero_for_one, expected
):
    assert get_next_sqrt_price_from_input(sqrt_price, liquidity, amount_in, zero_for_one) == expected


def test_get_next_sqrt_price_from_input__sqrt_p_times_sqrt_q_overflow_case_takes_exactly_the_input():
    sqrt_p = 1025574284609383690408304870162715216695788925244
    liquidity = 50015962439936049619261659728067971248
    sqrt_q = get_next_sqrt_price_from_input(sqrt_p, liquidity, 406, True)
    assert get_amount0_delta(sqrt_q, sqrt_p, liquidity, True) == 406


@pytest.mark.parametrize(
    ("sqrt_price", "liquidity", "amount_out", "zero_for_one", "expected"),
    [
        (enc(1, 1), E18, E18 // 10, False, 88031291682515930659493278152),
        (enc(1, 1), E18, E18 // 10, True, 71305346262837903834189555302),
        (20282409603651670423947251286016, 1024, 262143, True, 77371252455336267181195264),
        (enc(1, 1), E18 // 10, 0, True, enc(1, 1)),
        (enc(1, 1), E18 // 10, 0, False, enc(1, 1)),
    ],
)
def test_get_next_sqrt_price_from_output__matches_sqrtpricemath_vectors(
    sqrt_price, liquidity, amount_out, zero_for_one, expected
):
    assert get_next_sqrt_price_from_output(sqrt_price, liquidity, amount_out, zero_for_one) == expected


_P = 20282409603651670423947251286016  # v3-core's "virtual reserves" price: 4 token0 and 262144 token1 at L=1024


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # (sqrt_price, sqrt_target, liquidity, amount_remaining, fee_pips) -> (sqrt_next, in, out, fee)
        (
            (enc(1, 1), enc(101, 100), 2 * E18, E18, 600),
            (enc(101, 100), 9975124224178055, 9925619580021728, 5988667735148),
        ),
        (
            (enc(1, 1), enc(101, 100), 2 * E18, -E18, 600),
            (enc(101, 100), 9975124224178055, 9925619580021728, 5988667735148),
        ),
        (
            (enc(1, 1), enc(1000, 100), 2 * E18, E18, 600),
            (
                get_next_sqrt_price_from_input(enc(1, 1), 2 * E18, E18 - 600000000000000, False),
                999400000000000000,
                666399946655997866,
                600000000000000,
            ),
        ),
        (
            (enc(1, 1), enc(10000, 100), 2 * E18, -E18, 600),
            (
                get_next_sqrt_price_from_output(enc(1, 1), 2 * E18, E18, False),
                2000000000000000000,
                E18,
                1200720432259356,
            ),
        ),
        (
            (417332158212080721273783715441582, 1452870262520218020823638996, 159344665391607089467575320103, -1, 1),
            (417332158212080721273783715441581, 1, 1, 1),
        ),
        (
            (2, 1, 1, 3915081100057732413702495386755767, 1),
            (1, 39614081257132168796771975168, 0, 39614120871253040049813),
        ),
        ((2413, 79887613182836312, 1985041575832132834610021537970, 10, 1872), (2413, 0, 0, 10)),
        ((_P, _P * 11 // 10, 1024, -4, 3000), (_P * 11 // 10, 26215, 0, 79)),
        ((_P, _P * 9 // 10, 1024, -263000, 3000), (_P * 9 // 10, 1, 26214, 1)),
    ],
)
def test_compute_swap_step__matches_swapmath_vectors(args, expected):
    assert compute_swap_step(*args) == expected


def test_compute_swap_step__capped_at_target_uses_less_than_the_whole_amount():
    sqrt_next, amount_in, _, fee = compute_swap_step(enc(1, 1), enc(101, 100), 2 * E18, E18, 600)
    assert amount_in + fee < E18
    assert sqrt_next < get_next_sqrt_price_from_input(enc(1, 1), 2 * E18, E18, False)


_A, _B = enc(100, 110), enc(110, 100)


@pytest.mark.parametrize(
    ("sqrt_price", "expected"),
    [(enc(1, 1), 2148), (enc(99, 110), 1048), (enc(111, 100), 2097), (_A, 1048), (_B, 2097)],
    ids=["inside", "below", "above", "at_lower", "at_upper"],
)
def test_get_liquidity_for_amounts__matches_liquidityamounts_vectors(sqrt_price, expected):
    assert get_liquidity_for_amounts(sqrt_price, _A, _B, 100, 200) == expected
    assert get_liquidity_for_amounts(sqrt_price, _B, _A, 100, 200) == expected  # bounds in either order


@pytest.mark.parametrize(
    ("sqrt_price", "liquidity", "expected"),
    [
        (enc(1, 1), 2148, (99, 99)),
        (enc(99, 110), 1048, (99, 0)),
        (enc(111, 100), 2097, (0, 199)),
        (_A, 1048, (99, 0)),
        (_B, 2097, (0, 199)),
    ],
    ids=["inside", "below", "above", "at_lower", "at_upper"],
)
def test_get_amounts_for_liquidity__matches_liquidityamounts_vectors(sqrt_price, liquidity, expected):
    assert get_amounts_for_liquidity(sqrt_price, _A, _B, liquidity) == expected


def test_mul_div__matches_fullmath_vectors():
    assert mul_div(MAX_UINT256, MAX_UINT256, MAX_UINT256) == MAX_UINT256
    assert mul_div(Q128, 50 * Q128 // 100, 150 * Q128 // 100) == Q128 // 3
    assert mul_div(Q128, 35 * Q128, 8 * Q128) == 4375 * Q128 // 1000
    assert mul_div(Q128, 1000 * Q128, 3000 * Q128) == Q128 // 3
    assert mul_div_rounding_up(MAX_UINT256, MAX_UINT256, MAX_UINT256) == MAX_UINT256
    assert mul_div_rounding_up(Q128, 50 * Q128 // 100, 150 * Q128 // 100) == Q128 // 3 + 1
    assert mul_div_rounding_up(Q128, 35 * Q128, 8 * Q128) == 4375 * Q128 // 1000
    assert mul_div_rounding_up(Q128, 1000 * Q128, 3000 * Q128) == Q128 // 3 + 1


def test_modify_position_amounts__reference_mint_example():
    sqrt_price = 1663402784791066813866038665120089
    amounts = modify_position_amounts(199050, sqrt_price, 199050, 199060, 374209058380740165632)
    assert amounts == (8166231900433, 327623151772061100295)


@pytest.mark.parametrize("liquidity_delta", [10**20, -(10**20)])
def test_modify_position_amounts__holds_one_token_outside_the_range_and_both_inside(liquidity_delta):
    lower, upper = 199050, 199060
    sqrt_lower, sqrt_upper = get_sqrt_ratio_at_tick(lower), get_sqrt_ratio_at_tick(upper)
    round_up = liquidity_delta > 0  # the pool rounds what it takes up and what it pays down
    size, sign = abs(liquidity_delta), (1 if round_up else -1)
    whole0 = sign * get_amount0_delta(sqrt_lower, sqrt_upper, size, round_up)
    whole1 = sign * get_amount1_delta(sqrt_lower, sqrt_upper, size, round_up)
    assert whole0 != 0 and whole1 != 0
    # prices inside the boundary ticks, so that a side decided one tick off would show
    just_above_upper = sqrt_upper + 10**20
    just_below_lower = sqrt_lower - 10**20
    just_above_lower = sqrt_lower + 10**20
    assert modify_position_amounts(upper, just_above_upper, lower, upper, liquidity_delta) == (0, whole1)
    assert modify_position_amounts(lower - 1, just_below_lower, lower, upper, liquidity_delta) == (whole0, 0)
    assert modify_position_amounts(lower, just_above_lower, lower, upper, liquidity_delta) == (
        sign * get_amount0_delta(just_above_lower, sqrt_upper, size, round_up),
        sign * get_amount1_delta(sqrt_lower, just_above_lower, size, round_up),
    )
    # on the boundaries themselves the in-range formulas meet the one-token ones
    assert modify_position_amounts(lower, sqrt_lower, lower, upper, liquidity_delta) == (whole0, 0)
    assert modify_position_amounts(upper - 1, sqrt_upper, lower, upper, liquidity_delta) == (0, whole1)
    assert modify_position_amounts(lower, sqrt_lower, lower, upper, 0) == (0, 0)


# ---------------------------------------------------------------- the chain


@pytest.fixture
def read_rows(shared_dir):
    """read_rows(glob) -> the rows of the one file of the 2024-01-05 mainnet day matching it."""
    return lambda pattern: _read_rows(shared_dir / MAINNET_DAY, pattern)


def _read_rows(day: Path, pattern: str) -> list[dict[str, str]]:
    (path,) = sorted(day.glob(pattern))
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _tick(text: str) -> int:
    value = Decimal(text)  # ticks are written as "199050.0"
    assert value == value.to_integral_value(), text
    return int(value)


def test_modify_position_amounts__reproduces_every_mint_and_burn_of_the_day(read_rows):
    rows = [r for r in read_rows("*-2024-01-05-2024-01-05.positions.csv") if r["tx_type"] in ("MINT", "BURN")]
    assert len(rows) == 123
    reproduced = 0
    sides = {"token0_only": 0, "both": 0, "token1_only": 0}
    for row in rows:
        liquidity = int(row["liquidity"])
        tick, tick_lower, tick_upper = (_tick(row[k]) for k in ("current_tick", "tick_lower", "tick_upper"))
        sign = 1 if row["tx_type"] == "MINT" else -1  # events carry absolute amounts; burns are paid out
        amount0, amount1 = modify_position_amounts(
            tick, int(row["sqrtPriceX96"]), tick_lower, tick_upper, sign * liquidity
        )
        assert (sign * amount0, sign * amount1) == (int(row["amount0"]), int(row["amount1"])), row
        if liquidity:
            reproduced += 1
            sides["token0_only" if tick < tick_lower else "both" if tick < tick_upper else "token1_only"] += 1
    assert reproduced == 109
    assert sides == {"token0_only": 9, "both": 82, "token1_only": 18}  # all three branches are exercised


@pytest.mark.parametrize("pool", [POOL_005, POOL_030])
def test_get_tick_at_sqrt_ratio__matches_the_pool_tick_of_every_event(read_rows, pool):
    rows = read_rows(f"ethereum-{pool}-2024-01-05.pool.tick.csv")
    assert len(rows) > 300
    for row in rows:
        assert get_tick_at_sqrt_ratio(int(row["sqrtPriceX96"])) == _tick(row["current_tick"]), row


@pytest.mark.parametrize(("pool", "fee_pips", "n_swaps"), [(POOL_005, 500, 4086), (POOL_030, 3000, 89)])
def test_compute_swap_step__replays_every_swap_that_stays_inside_one_tick(read_rows, pool, fee_pips, n_swaps):
    """A swap that starts and ends in the same tick under the same active liquidity is one swap step.

    The pool's Swap event gives the price after the swap and the signed amounts; the event before it
    gives the price before. The step must reproduce both amounts and the new price exactly, read as an
    exact-input or an exact-output swap (whichever the trader sent), with the target far away.
    """
    rows = read_rows(f"ethereum-{pool}-2024-01-05.pool.tick.csv")
    replayed = 0
    for before, row in zip(rows, rows[1:]):
        if row["tx_type"] != "SWAP":
            continue
        if before["total_liquidity"] != row["total_liquidity"] or before["current_tick"] != row["current_tick"]:
            continue
        sqrt_before, sqrt_after = int(before["sqrtPriceX96"]), int(row["sqrtPriceX96"])
        liquidity = int(row["total_liquidity"])
        amount0, amount1 = int(row["amount0"]), int(row["amount1"])
        zero_for_one = amount0 > 0
        paid_in, paid_out = (amount0, -amount1) if zero_for_one else (amount1, -amount0)
        far_target = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        readings = [
            compute_swap_step(sqrt_before, far_target, liquidity, amount, fee_pips) for amount in (paid_in, -paid_out)
        ]
        assert any(
            (sqrt_next, amount_in + fee, amount_out) == (sqrt_after, paid_in, paid_out)
            for sqrt_next, amount_in, amount_out, fee in readings
        ), (row, readings)
        replayed += 1
    assert replayed == n_swaps


# ---------------------------------------------------------------- TickMath properties


@given(ticks)
@settings(max_examples=2000, deadline=None)
def test_get_tick_at_sqrt_ratio__inverts_get_sqrt_ratio_at_tick(tick):
    sqrt_ratio = get_sqrt_ratio_at_tick(tick)
    if tick < MAX_TICK:  # MAX_SQRT_RATIO itself is outside get_tick_at_sqrt_ratio's domain
        assert get_tick_at_sqrt_ratio(sqrt_ratio) == tick
        assert get_tick_at_sqrt_ratio(get_sqrt_ratio_at_tick(tick + 1) - 1) == tick


@given(st.integers(MIN_TICK, MAX_TICK - 1))
@settings(max_examples=1000, deadline=None)
def test_get_sqrt_ratio_at_tick__strictly_increases(tick):
    assert get_sqrt_ratio_at_tick(tick) < get_sqrt_ratio_at_tick(tick + 1)


@given(sqrt_prices)
@settings(max_examples=2000, deadline=None)
def test_get_tick_at_sqrt_ratio__is_the_greatest_tick_at_or_below_the_price(sqrt_price):
    tick = get_tick_at_sqrt_ratio(sqrt_price)
    assert get_sqrt_ratio_at_tick(tick) <= sqrt_price < get_sqrt_ratio_at_tick(tick + 1)


@given(sqrt_prices, sqrt_prices)
@settings(max_examples=500, deadline=None)
def test_get_tick_at_sqrt_ratio__is_monotone(price_a, price_b):
    low, high = sorted((price_a, price_b))
    assert get_tick_at_sqrt_ratio(low) <= get_tick_at_sqrt_ratio(high)


@given(st.integers(-100_000, 100_000))
@settings(max_examples=1000, deadline=None)
def test_get_sqrt_ratio_at_tick__matches_float_power_for_moderate_ticks(tick):
    # 1.0001 is inexact in binary, so the float power drifts ~5.5e-17 per unit of t/2: keep |t| <= 1e5
    ratio = get_sqrt_ratio_at_tick(tick) / 2**96
    assert ratio == pytest.approx(1.0001 ** (tick / 2), rel=1e-12, abs=0)


@given(ticks)
@settings(max_examples=500, deadline=None)
def test_get_sqrt_ratio_at_tick__matches_80_digit_decimal_over_the_whole_range(tick):
    with localcontext() as ctx:
        ctx.prec = 80
        exact = (Decimal("1.0001").sqrt().ln() * tick).exp() * Q96
        error = Decimal(get_sqrt_ratio_at_tick(tick)) - exact
        # the contract rounds up to an integer; beyond that its Q128.128 products lose < 1e-18 relative
        assert -exact * Decimal("1e-18") <= error <= 1 + exact * Decimal("1e-18")


@pytest.mark.slow
def test_tickmath__round_trips_and_increases_over_every_tick():
    previous = 0
    for tick in range(MIN_TICK, MAX_TICK):
        sqrt_ratio = get_sqrt_ratio_at_tick(tick)
        assert sqrt_ratio > previous
        assert get_tick_at_sqrt_ratio(sqrt_ratio) == tick
        if tick > MIN_TICK:
            assert get_tick_at_sqrt_ratio(sqrt_ratio - 1) == tick - 1
        previous = sqrt_ratio


# ---------------------------------------------------------------- SqrtPriceMath against exact rationals


def _ceil(value: Fraction) -> int:
    return math.ceil(value)


@given(sqrt_prices, sqrt_prices, liquidities)
@settings(max_examples=500, deadline=None)
def test_amount_deltas__are_the_exact_amounts_rounded_as_asked(sqrt_a, sqrt_b, liquidity):
    low, high = sorted((sqrt_a, sqrt_b))
    exact0 = Fraction(liquidity * Q96 * (high - low), low * high)  # L (1/sqrt(A) - 1/sqrt(B))
    exact1 = Fraction(liquidity * (high - low), Q96)  # L (sqrt(B) - sqrt(A))
    assert get_amount0_delta(sqrt_a, sqrt_b, liquidity, True) == _ceil(exact0)
    assert get_amount0_delta(sqrt_a, sqrt_b, liquidity, False) == math.floor(exact0)
    assert get_amount1_delta(sqrt_a, sqrt_b, liquidity, True) == _ceil(exact1)
    assert get_amount1_delta(sqrt_a, sqrt_b, liquidity, False) == math.floor(exact1)


@given(st.integers(1, 2**10), st.integers(1, 2**10), st.integers(0, 2**12))
@settings(max_examples=1000, deadline=None)
def test_amount_deltas__round_exactly_for_small_numbers_where_ties_are_common(sqrt_a, sqrt_b, liquidity):
    # small prices make L * 2^96 * (B - A) / B land on multiples of A often: the two-stage rounding must still
    # equal one rounding of the exact value
    low, high = sorted((sqrt_a, sqrt_b))
    exact0 = Fraction(liquidity * Q96 * (high - low), low * high)
    assert get_amount0_delta(sqrt_a, sqrt_b, liquidity, True) == _ceil(exact0)
    assert get_amount0_delta(sqrt_a, sqrt_b, liquidity, False) == math.floor(exact0)


def test_get_next_sqrt_price_from_input__uses_the_contracts_fallback_when_the_product_overflows():
    # amount * sqrtP > 2^256: the contract computes ceil(L*2^96 / (floor(L*2^96 / sqrtP) + amount)), which
    # here lies 2^30 above the exact ceil(L*2^96*sqrtP / (L*2^96 + amount*sqrtP))
    sqrt_price, liquidity, amount_in = MAX_UINT160, MAX_UINT128, 2**97
    numerator = liquidity << 96
    fallback = _ceil(Fraction(numerator, numerator // sqrt_price + amount_in))
    exact = _ceil(Fraction(numerator * sqrt_price, numerator + amount_in * sqrt_price))
    assert fallback - exact == 2**30
    assert get_next_sqrt_price_from_input(sqrt_price, liquidity, amount_in, True) == fallback


@given(sqrt_prices, st.integers(1, MAX_UINT128), st.integers(0, 2**95), st.booleans())
@settings(max_examples=500, deadline=None)
def test_get_next_sqrt_price_from_input__rounds_the_exact_price_against_the_trader(
    sqrt_price, liquidity, amount_in, zero_for_one
):
    if zero_for_one:  # token0 in: 1/sqrt(P') = 1/sqrt(P) + x/L, rounded up (price falls less)
        exact = Fraction(liquidity * Q96 * sqrt_price, liquidity * Q96 + amount_in * sqrt_price)
        expected = _ceil(exact)
    else:  # token1 in: sqrt(P') = sqrt(P) + y/L, rounded down (price rises less)
        expected = math.floor(sqrt_price + Fraction(amount_in * Q96, liquidity))
    if expected > MAX_UINT160:
        with pytest.raises(UniswapMathError, match="uint160"):
            get_next_sqrt_price_from_input(sqrt_price, liquidity, amount_in, zero_for_one)
    else:
        assert get_next_sqrt_price_from_input(sqrt_price, liquidity, amount_in, zero_for_one) == expected


@given(sqrt_prices, st.integers(1, MAX_UINT128), st.integers(0, 2**95), st.booleans())
@settings(max_examples=500, deadline=None)
def test_get_next_sqrt_price_from_output__rounds_the_exact_price_against_the_trader(
    sqrt_price, liquidity, amount_out, zero_for_one
):
    if zero_for_one:  # token1 out: sqrt(P') = sqrt(P) - y/L, rounded down (price falls more)
        expected = sqrt_price - _ceil(Fraction(amount_out * Q96, liquidity))
        possible = expected > 0
    else:  # token0 out: 1/sqrt(P') = 1/sqrt(P) - x/L, rounded up (price rises more)
        denominator = liquidity * Q96 - amount_out * sqrt_price
        possible = denominator > 0
        expected = _ceil(Fraction(liquidity * Q96 * sqrt_price, denominator)) if possible else None
        possible = possible and expected <= MAX_UINT160
    if possible:
        assert get_next_sqrt_price_from_output(sqrt_price, liquidity, amount_out, zero_for_one) == expected
    else:
        with pytest.raises(UniswapMathError):
            get_next_sqrt_price_from_output(sqrt_price, liquidity, amount_out, zero_for_one)


# ---------------------------------------------------------------- SwapMath invariants


@given(
    sqrt_prices,
    sqrt_prices,
    liquidities,
    st.integers(-(2**160), 2**160),
    st.integers(0, 999_999),
)
@settings(max_examples=1000, deadline=None)
def test_compute_swap_step__never_exceeds_the_amount_and_never_loses_the_pool_money(
    sqrt_price, sqrt_target, liquidity, amount_remaining, fee_pips
):
    sqrt_next, amount_in, amount_out, fee = compute_swap_step(
        sqrt_price, sqrt_target, liquidity, amount_remaining, fee_pips
    )
    exact_in = amount_remaining >= 0
    if exact_in:
        assert amount_in + fee <= amount_remaining
    else:
        assert amount_out <= -amount_remaining
    if sqrt_next != sqrt_target:  # stopped short of the target: the whole amount was used
        assert (amount_in + fee if exact_in else amount_out) == abs(amount_remaining)
    if sqrt_price == sqrt_target:
        assert (sqrt_next, amount_in, amount_out, fee) == (sqrt_target, 0, 0, 0)
    low, high = sorted((sqrt_price, sqrt_target))
    assert low <= sqrt_next <= high
    # exact token flows of the price move: the pool takes at least, and pays at most, these
    delta0 = Fraction(liquidity * Q96 * abs(sqrt_price - sqrt_next), sqrt_price * sqrt_next)
    delta1 = Fraction(liquidity * abs(sqrt_price - sqrt_next), Q96)
    owed_in, owed_out = (delta0, delta1) if sqrt_price >= sqrt_target else (delta1, delta0)
    assert amount_in >= owed_in
    assert amount_out <= owed_out
    # the fee is fee_pips of the gross input, rounded up, unless it is the leftover of an exact input
    if not (exact_in and sqrt_next != sqrt_target):
        assert fee == _ceil(Fraction(amount_in * fee_pips, 1_000_000 - fee_pips))


# ---------------------------------------------------------------- LiquidityAmounts properties


@given(sqrt_prices, sqrt_prices, sqrt_prices, st.integers(0, 2**100), st.integers(0, 2**100))
@settings(max_examples=500, deadline=None)
def test_liquidity_for_amounts__never_needs_more_than_the_amounts(sqrt_price, sqrt_a, sqrt_b, amount0, amount1):
    assume(sqrt_a != sqrt_b)
    try:
        liquidity = get_liquidity_for_amounts(sqrt_price, sqrt_a, sqrt_b, amount0, amount1)
    except UniswapMathError as error:  # only when the liquidity does not fit in uint128
        assert "uint128" in str(error)
        return
    held0, held1 = get_amounts_for_liquidity(sqrt_price, sqrt_a, sqrt_b, liquidity)
    assert held0 <= amount0
    assert held1 <= amount1


@given(sqrt_prices, ticks, ticks, liquidities)
@settings(max_examples=500, deadline=None)
def test_get_amounts_for_liquidity__equals_the_rounded_down_amount_deltas(sqrt_price, tick_a, tick_b, liquidity):
    sqrt_a, sqrt_b = sorted((get_sqrt_ratio_at_tick(tick_a), get_sqrt_ratio_at_tick(tick_b)))
    clamped = min(max(sqrt_price, sqrt_a), sqrt_b)  # reference formulas: below, inside, above the range
    expected = (
        math.floor(Fraction(liquidity * Q96 * (sqrt_b - clamped), clamped * sqrt_b)),
        math.floor(Fraction(liquidity * (clamped - sqrt_a), Q96)),
    )
    assert get_amounts_for_liquidity(sqrt_price, sqrt_a, sqrt_b, liquidity) == expected


# ---------------------------------------------------------------- where the contracts revert


_V = 20282409603651670423947251286016


@pytest.mark.parametrize(
    ("call", "args", "message"),
    [
        (get_sqrt_ratio_at_tick, (MIN_TICK - 1,), r"tick .*\[-887272, 887272\], got -887273"),
        (get_sqrt_ratio_at_tick, (MAX_TICK + 1,), r"tick .*got 887273"),
        (get_sqrt_ratio_at_tick, (1.5,), r"tick must be an integer"),
        (get_tick_at_sqrt_ratio, (MIN_SQRT_RATIO - 1,), rf"sqrt_price_x96 .*got {MIN_SQRT_RATIO - 1}"),
        (get_tick_at_sqrt_ratio, (MAX_SQRT_RATIO,), rf"sqrt_price_x96 .*{MAX_SQRT_RATIO}\), got {MAX_SQRT_RATIO}"),
        (get_amount0_delta, (enc(1, 1), enc(2, 1), -1, True), r"liquidity must be a uint128 .*got -1"),
        (get_amount1_delta, (enc(1, 1), enc(2, 1), 1 << 128, True), r"liquidity must be a uint128"),
        (get_amount0_delta, (0, enc(2, 1), 1, True), r"sqrt_a, sqrt_b must be > 0"),
        (get_amount0_delta, (enc(1, 1), 1 << 160, 1, True), r"sqrt_b must be a uint160"),
        (get_amount1_delta, (enc(1, 1), enc(2, 1), 1e18, True), r"liquidity must be an integer .*float"),
        (get_next_sqrt_price_from_input, (0, 0, E18 // 10, False), r"sqrt_price must be > 0"),
        (get_next_sqrt_price_from_input, (1, 0, E18 // 10, True), r"liquidity must be > 0"),
        (get_next_sqrt_price_from_input, (MAX_UINT160, 1024, 1024, False), r"overflows uint160"),
        (get_next_sqrt_price_from_input, (enc(1, 1), E18, -1, False), r"amount_in must be a uint256"),
        (get_next_sqrt_price_from_output, (0, 0, E18 // 10, False), r"sqrt_price must be > 0"),
        (get_next_sqrt_price_from_output, (1, 0, E18 // 10, True), r"liquidity must be > 0"),
        (get_next_sqrt_price_from_output, (_V, 1024, 4, False), r"amount 4 of token0 must be below"),
        (get_next_sqrt_price_from_output, (_V, 1024, 5, False), r"token0"),
        (get_next_sqrt_price_from_output, (_V, 1024, 262144, True), r"amount 262144 of token1 must be below"),
        (get_next_sqrt_price_from_output, (_V, 1024, 262145, True), r"token1"),
        (get_next_sqrt_price_from_output, (enc(1, 1), 1, MAX_UINT256, True), r"token1"),
        (get_next_sqrt_price_from_output, (enc(1, 1), 1, MAX_UINT256, False), r"token0"),
        (compute_swap_step, (enc(1, 1), enc(2, 1), E18, E18, 1_000_000), r"fee_pips .*\[0, 999999\], got 1000000"),
        (compute_swap_step, (enc(1, 1), enc(2, 1), -1, E18, 500), r"liquidity must be a uint128"),
        (compute_swap_step, (enc(1, 1), enc(2, 1), E18, 1 << 255, 500), r"amount_remaining must be a int256"),
        (compute_swap_step, (1 << 160, enc(2, 1), E18, E18, 500), r"sqrt_price must be a uint160"),
        (get_liquidity_for_amounts, (enc(1, 1), _A, _A, 100, 200), r"sqrt_a and sqrt_b must differ"),
        (get_liquidity_for_amounts, (enc(1, 1), _A, _B, 2**200, 2**200), r"does not fit in uint128"),
        (get_liquidity_for_amounts, (enc(1, 1), _A, _B, -1, 200), r"amount0 must be a uint256 .*got -1"),
        (get_amounts_for_liquidity, (enc(1, 1), _A, _B, -5), r"liquidity must be a uint128 .*got -5"),
        (get_amounts_for_liquidity, (0, 0, _B, 5), r"must be > 0"),
        (mul_div, (Q128, 5, 0), r"denominator must be > 0"),
        (mul_div, (Q128, Q128, 1), r"overflows uint256"),
        (mul_div, (MAX_UINT256, MAX_UINT256, MAX_UINT256 - 1), r"overflows uint256"),
        (mul_div_rounding_up, (Q128, Q128, 0), r"denominator must be > 0"),
        (
            mul_div_rounding_up,
            (535006138814359, 432862656469423142931042426214547535783388063929571229938474969, 2),
            r"overflows uint256",
        ),
        (
            mul_div_rounding_up,
            (
                115792089237316195423570985008687907853269984659341747863450311749907997002549,
                115792089237316195423570985008687907853269984659341747863450311749907997002550,
                115792089237316195423570985008687907853269984653042931687443039491902864365164,
            ),
            r"rounded up overflows uint256",
        ),
        (encode_price_sqrt, (0, 1), r"reserve1 and reserve0 must be > 0"),
        (modify_position_amounts, (0, Q96, 10, 10, 1), r"tick_lower must be < tick_upper"),
        (modify_position_amounts, (0, Q96, MIN_TICK - 1, 10, 1), r"tick_lower .*got -887273"),
        (modify_position_amounts, (0, Q96, -10, 10, 1 << 127), r"liquidity_delta must be a int128"),
    ],
)
def test_out_of_range_input__raises_a_value_error_naming_the_argument(call, args, message):
    with pytest.raises(ValueError, match=message):
        call(*args)


@given(st.one_of(st.integers(max_value=MIN_TICK - 1), st.integers(min_value=MAX_TICK + 1)))
def test_get_sqrt_ratio_at_tick__refuses_every_tick_outside_the_range(tick):
    with pytest.raises(UniswapMathError, match=rf"got {tick}$"):
        get_sqrt_ratio_at_tick(tick)


@given(st.one_of(st.integers(max_value=MIN_SQRT_RATIO - 1), st.integers(min_value=MAX_SQRT_RATIO)))
def test_get_tick_at_sqrt_ratio__refuses_every_price_outside_the_range(sqrt_price):
    with pytest.raises(UniswapMathError, match=rf"got {sqrt_price}$"):
        get_tick_at_sqrt_ratio(sqrt_price)


@given(st.integers(max_value=-1), st.booleans())
def test_amount_deltas__refuse_negative_liquidity(liquidity, round_up):
    for delta in (get_amount0_delta, get_amount1_delta):
        with pytest.raises(UniswapMathError, match=rf"liquidity must be a uint128 .*got {liquidity}$"):
            delta(enc(1, 1), enc(2, 1), liquidity, round_up)
