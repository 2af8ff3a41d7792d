"""Uniswap v3's integer math on Python ints: TickMath, SqrtPriceMath, SwapMath, LiquidityAmounts, FullMath.

A port of the v3-core 1.0.0 libraries and v3-periphery's LiquidityAmounts, so that amounts and prices
match the chain to the wei. Names are Uniswap's in snake_case, arguments come in Uniswap's order, and
results are what the contracts return. Where a contract reverts (tick or price out of range, a value
that does not fit its uint type, an overflow the contract checks), UniswapMathError (a ValueError)
names the argument, its value and the allowed range.

Python ints never wrap, so each uint256/uint160 overflow the contracts detect by wrap-around is
checked here as an explicit bound; the branches the contracts take to avoid phantom overflow compute
the same number either way and are kept only where the result differs.
"""

from __future__ import annotations

import math
import operator

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739  # get_sqrt_ratio_at_tick(MIN_TICK)
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342  # get_sqrt_ratio_at_tick(MAX_TICK)

RESOLUTION = 96
Q96 = 1 << 96
Q128 = 1 << 128
FEE_PIPS_DENOMINATOR = 1_000_000  # fees are in hundredths of a basis point: 500 pips = 0.05 %

MAX_UINT128 = (1 << 128) - 1
MAX_UINT160 = (1 << 160) - 1
MAX_UINT256 = (1 << 256) - 1
MAX_UINT24 = (1 << 24) - 1
MIN_INT256 = -(1 << 255)
MAX_INT256 = (1 << 255) - 1
MIN_INT128 = -(1 << 127)
MAX_INT128 = (1 << 127) - 1

# TickMath.getSqrtRatioAtTick: 1/sqrt(1.0001)^(2^i) as Q128.128, for bits i = 1..19 of |tick|.
_TICK_BIT_FACTORS = (
    (0x2, 0xFFF97272373D413259A46990580E213A),
    (0x4, 0xFFF2E50F5F656932EF12357CF3C7FDCC),
    (0x8, 0xFFE5CACA7E10E4E61C3624EAA0941CD0),
    (0x10, 0xFFCB9843D60F6159C9DB58835C926644),
    (0x20, 0xFF973B41FA98C081472E6896DFB254C0),
    (0x40, 0xFF2EA16466C96A3843EC78B326B52861),
    (0x80, 0xFE5DEE046A99A2A811C461F1969C3053),
    (0x100, 0xFCBE86C7900A88AEDCFFC83B479AA3A4),
    (0x200, 0xF987A7253AC413176F2B074CF7815E54),
    (0x400, 0xF3392B0822B70005940C7A398E4B70F3),
    (0x800, 0xE7159475A2C29B7443B29C7FA6E889D9),
    (0x1000, 0xD097F3BDFD2022B8845AD8F792AA5825),
    (0x2000, 0xA9F746462D870FDF8A65DC1F90E061E5),
    (0x4000, 0x70D869A156D2A1B890BB3DF62BAF32F7),
    (0x8000, 0x31BE135F97D08FD981231505542FCFA6),
    (0x10000, 0x9AA508B5B7A84E1C677DE54F3E99BC9),
    (0x20000, 0x5D6AF8DEDB81196699C329225EE604),
    (0x40000, 0x2216E584F5FA1EA926041BEDFE98),
    (0x80000, 0x48A170391F7DC42444E8FA2),
)
_TICK_BIT0_FACTOR = 0xFFFCB933BD6FAD37AA2D162D1A594001

# TickMath.getTickAtSqrtRatio: log_sqrt(1.0001)(2) as Q128.128 and the error bounds of the log estimate.
_LOG_SQRT10001_OF_2 = 255738958999603826347141
_TICK_LOW_ERROR = 3402992956809132418596140100660247210
_TICK_HIGH_ERROR = 291339464771989622907027621153398088495


class UniswapMathError(ValueError):
    """An input where the Uniswap v3 contract would revert."""


# ---------------------------------------------------------------- argument checks


def _as_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise UniswapMathError(f"{name} must be an integer, got bool {value!r}")
    try:
        return operator.index(value)  # accepts int and numpy integers, refuses floats
    except TypeError:
        raise UniswapMathError(
            f"{name} must be an integer (read big amounts as Python int, not float), "
            f"got {type(value).__name__} {value!r}"
        ) from None


def _check_range(name: str, value: object, low: int, high: int, kind: str) -> int:
    number = _as_int(name, value)
    if not low <= number <= high:
        raise UniswapMathError(f"{name} must be a {kind} in [{low}, {high}], got {number}")
    return number


def _uint(name: str, value: object, bits: int) -> int:
    return _check_range(name, value, 0, (1 << bits) - 1, f"uint{bits}")


def _int(name: str, value: object, bits: int) -> int:
    return _check_range(name, value, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, f"int{bits}")


def _positive(name: str, value: int, where: str) -> None:
    if value <= 0:
        raise UniswapMathError(f"{name} must be > 0 in {where}, got {value}")


# ---------------------------------------------------------------- FullMath / UnsafeMath


def _mul_div(a: int, b: int, denominator: int) -> int:
    if denominator == 0:
        raise UniswapMathError(f"mul_div: denominator must be > 0, got 0 (a={a}, b={b})")
    result = a * b // denominator
    if result > MAX_UINT256:
        raise UniswapMathError(
            f"mul_div: result {result} of {a} * {b} / {denominator} overflows uint256 (max {MAX_UINT256})"
        )
    return result


def _mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    result = _mul_div(a, b, denominator)
    if (a * b) % denominator:
        if result >= MAX_UINT256:
            raise UniswapMathError(
                f"mul_div_rounding_up: result of {a} * {b} / {denominator} rounded up overflows uint256 "
                f"(max {MAX_UINT256})"
            )
        result += 1
    return result


def _div_rounding_up(x: int, y: int) -> int:
    return -(-x // y)


def mul_div(a: int, b: int, denominator: int) -> int:
    """FullMath.mulDiv: floor(a * b / denominator) with a 512-bit product; reverts if the result needs > 256 bits."""
    return _mul_div(_uint("a", a, 256), _uint("b", b, 256), _uint("denominator", denominator, 256))


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """FullMath.mulDivRoundingUp: ceil(a * b / denominator); reverts if the result needs > 256 bits."""
    return _mul_div_rounding_up(
        _uint("a", a, 256), _uint("b", b, 256), _uint("denominator", denominator, 256)
    )


# ---------------------------------------------------------------- TickMath


def _sqrt_ratio_at_tick(tick: int) -> int:
    abs_tick = -tick if tick < 0 else tick
    ratio = _TICK_BIT0_FACTOR if abs_tick & 0x1 else Q128
    for bit, factor in _TICK_BIT_FACTORS:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = MAX_UINT256 // ratio
    # Q128.128 -> Q64.96, rounding up so that get_tick_at_sqrt_ratio of the result is tick itself
    return (ratio >> 32) + (1 if ratio & 0xFFFFFFFF else 0)


def get_sqrt_ratio_at_tick(tick: int) -> int:
    """TickMath.getSqrtRatioAtTick: sqrt(1.0001^tick) * 2^96 as a Q64.96 uint160."""
    tick = _as_int("tick", tick)
    if not MIN_TICK <= tick <= MAX_TICK:
        raise UniswapMathError(f"tick must be in [MIN_TICK, MAX_TICK] = [{MIN_TICK}, {MAX_TICK}], got {tick}")
    return _sqrt_ratio_at_tick(tick)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """TickMath.getTickAtSqrtRatio: the greatest tick whose sqrt ratio is <= sqrt_price_x96."""
    sqrt_price_x96 = _as_int("sqrt_price_x96", sqrt_price_x96)
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise UniswapMathError(
            f"sqrt_price_x96 must be in [MIN_SQRT_RATIO, MAX_SQRT_RATIO) = "
            f"[{MIN_SQRT_RATIO}, {MAX_SQRT_RATIO}), got {sqrt_price_x96}"
        )
    ratio = sqrt_price_x96 << 32
    msb = ratio.bit_length() - 1  # the contract's binary search for the most significant bit
    r = ratio >> (msb - 127) if msb >= 128 else ratio << (127 - msb)
    log_2 = (msb - 128) << 64
    # 14 fractional bits of log2 by repeated squaring of the mantissa, as in the contract
    for shift in range(63, 49, -1):
        r = (r * r) >> 127
        f = r >> 128
        log_2 |= f << shift
        r >>= f
    log_sqrt10001 = log_2 * _LOG_SQRT10001_OF_2  # Q128.128
    tick_low = (log_sqrt10001 - _TICK_LOW_ERROR) >> 128
    tick_high = (log_sqrt10001 + _TICK_HIGH_ERROR) >> 128
    if tick_low == tick_high:
        return tick_low
    return tick_high if _sqrt_ratio_at_tick(tick_high) <= sqrt_price_x96 else tick_low


# ---------------------------------------------------------------- SqrtPriceMath


def _next_sqrt_price_from_amount0_rounding_up(sqrt_price: int, liquidity: int, amount: int, add: bool) -> int:
    if amount == 0:
        return sqrt_price
    numerator1 = liquidity << RESOLUTION
    product = amount * sqrt_price
    if add:
        if product <= MAX_UINT256 and numerator1 + product <= MAX_UINT256:
            return _mul_div_rounding_up(numerator1, sqrt_price, numerator1 + product)
        # the contract's fallback when L * 2^96 + amount * sqrtP overflows: L / (L / sqrtP + amount)
        denominator = numerator1 // sqrt_price + amount
        if denominator > MAX_UINT256:
            raise UniswapMathError(
                f"amount {amount} of token0 overflows uint256 in L / (L / sqrtP + amount) "
                f"(sqrt_price={sqrt_price}, liquidity={liquidity})"
            )
        return _div_rounding_up(numerator1, denominator)
    if product > MAX_UINT256 or numerator1 <= product:
        raise UniswapMathError(
            f"amount {amount} of token0 must be below the virtual reserve L * 2^96 / sqrtP = "
            f"{numerator1 / sqrt_price:.6g} (sqrt_price={sqrt_price}, liquidity={liquidity})"
        )
    result = _mul_div_rounding_up(numerator1, sqrt_price, numerator1 - product)
    if result > MAX_UINT160:
        raise UniswapMathError(
            f"next sqrt price {result} after removing {amount} of token0 overflows uint160 (max {MAX_UINT160})"
        )
    return result


def _next_sqrt_price_from_amount1_rounding_down(sqrt_price: int, liquidity: int, amount: int, add: bool) -> int:
    # the contract avoids a mulDiv when amount fits in 160 bits; both paths give the same quotient
    if add:
        result = sqrt_price + (amount << RESOLUTION) // liquidity
        if result > MAX_UINT160:
            raise UniswapMathError(
                f"next sqrt price {result} after adding {amount} of token1 overflows uint160 (max {MAX_UINT160})"
            )
        return result
    quotient = _div_rounding_up(amount << RESOLUTION, liquidity)
    if sqrt_price <= quotient:
        raise UniswapMathError(
            f"amount {amount} of token1 must be below the virtual reserve L * sqrtP / 2^96 = "
            f"{liquidity * sqrt_price / Q96:.6g} (sqrt_price={sqrt_price}, liquidity={liquidity})"
        )
    return sqrt_price - quotient


def _check_next_price_args(sqrt_price: object, liquidity: object, amount_name: str, amount: object, where: str):
    sqrt_price = _uint("sqrt_price", sqrt_price, 160)
    liquidity = _uint("liquidity", liquidity, 128)
    amount = _uint(amount_name, amount, 256)
    _positive("sqrt_price", sqrt_price, where)
    _positive("liquidity", liquidity, where)
    return sqrt_price, liquidity, amount


def get_next_sqrt_price_from_input(sqrt_price: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromInput: the price after amount_in of token0 (zero_for_one) or token1 goes in.

    Rounds so that the price never passes the exact one: the pool never gives out more than it was paid for.
    """
    sqrt_price, liquidity, amount_in = _check_next_price_args(
        sqrt_price, liquidity, "amount_in", amount_in, "get_next_sqrt_price_from_input"
    )
    if zero_for_one:
        return _next_sqrt_price_from_amount0_rounding_up(sqrt_price, liquidity, amount_in, True)
    return _next_sqrt_price_from_amount1_rounding_down(sqrt_price, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(sqrt_price: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromOutput: the price after amount_out of token1 (zero_for_one) or token0 left."""
    sqrt_price, liquidity, amount_out = _check_next_price_args(
        sqrt_price, liquidity, "amount_out", amount_out, "get_next_sqrt_price_from_output"
    )
    if zero_for_one:
        return _next_sqrt_price_from_amount1_rounding_down(sqrt_price, liquidity, amount_out, False)
    return _next_sqrt_price_from_amount0_rounding_up(sqrt_price, liquidity, amount_out, False)


def _amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_a == 0:
        raise UniswapMathError("the lower of sqrt_a, sqrt_b must be > 0 in get_amount0_delta, got 0")
    numerator1 = liquidity << RESOLUTION
    numerator2 = sqrt_b - sqrt_a
    if round_up:
        return _div_rounding_up(_mul_div_rounding_up(numerator1, numerator2, sqrt_b), sqrt_a)
    return _mul_div(numerator1, numerator2, sqrt_b) // sqrt_a


def _amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    diff = sqrt_b - sqrt_a if sqrt_b > sqrt_a else sqrt_a - sqrt_b
    if round_up:
        return _mul_div_rounding_up(liquidity, diff, Q96)
    return _mul_div(liquidity, diff, Q96)


def get_amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """SqrtPriceMath.getAmount0Delta: token0 held by `liquidity` between two sqrt prices (either order).

    L * 2^96 * (sqrtB - sqrtA) / sqrtB / sqrtA, rounded up (what the pool takes) or down (what it pays).
    """
    return _amount0_delta(
        _uint("sqrt_a", sqrt_a, 160), _uint("sqrt_b", sqrt_b, 160), _uint("liquidity", liquidity, 128), bool(round_up)
    )


def get_amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """SqrtPriceMath.getAmount1Delta: token1 held by `liquidity` between two sqrt prices: L * |sqrtB - sqrtA| / 2^96."""
    return _amount1_delta(
        _uint("sqrt_a", sqrt_a, 160), _uint("sqrt_b", sqrt_b, 160), _uint("liquidity", liquidity, 128), bool(round_up)
    )


def _signed_delta(amount_delta, sqrt_a: int, sqrt_b: int, liquidity_delta: int) -> int:
    # SqrtPriceMath's int128 overloads: round up what the pool receives, down what it pays out
    if liquidity_delta < 0:
        return -amount_delta(sqrt_a, sqrt_b, -liquidity_delta, False)
    return amount_delta(sqrt_a, sqrt_b, liquidity_delta, True)


# ---------------------------------------------------------------- pool: _modifyPosition's amounts


def modify_position_amounts(
    tick: int, sqrt_price: int, tick_lower: int, tick_upper: int, liquidity_delta: int
) -> tuple[int, int]:
    """The (amount0, amount1) UniswapV3Pool._modifyPosition settles for liquidity_delta on [tick_lower, tick_upper).

    tick and sqrt_price are the pool's slot0 (current tick and price). Positive amounts are owed to the
    pool (mint, rounded up), negative ones paid out (burn, rounded down); the Mint and Burn events carry
    their absolute values.
    """
    tick = _check_range("tick", tick, MIN_TICK, MAX_TICK, "tick")
    sqrt_price = _uint("sqrt_price", sqrt_price, 160)
    tick_lower = _check_range("tick_lower", tick_lower, MIN_TICK, MAX_TICK, "tick")
    tick_upper = _check_range("tick_upper", tick_upper, MIN_TICK, MAX_TICK, "tick")
    if tick_lower >= tick_upper:
        raise UniswapMathError(f"tick_lower must be < tick_upper, got tick_lower={tick_lower}, tick_upper={tick_upper}")
    liquidity_delta = _int("liquidity_delta", liquidity_delta, 128)
    sqrt_lower = _sqrt_ratio_at_tick(tick_lower)
    sqrt_upper = _sqrt_ratio_at_tick(tick_upper)
    if tick < tick_lower:  # range above the price: token0 only
        return _signed_delta(_amount0_delta, sqrt_lower, sqrt_upper, liquidity_delta), 0
    if tick < tick_upper:  # in range: token0 above the price, token1 below it
        return (
            _signed_delta(_amount0_delta, sqrt_price, sqrt_upper, liquidity_delta),
            _signed_delta(_amount1_delta, sqrt_lower, sqrt_price, liquidity_delta),
        )
    return 0, _signed_delta(_amount1_delta, sqrt_lower, sqrt_upper, liquidity_delta)  # range below: token1 only


# ---------------------------------------------------------------- SwapMath


def compute_swap_step(
    sqrt_price: int, sqrt_target: int, liquidity: int, amount_remaining: int, fee_pips: int
) -> tuple[int, int, int, int]:
    """SwapMath.computeSwapStep: one swap step towards sqrt_target within one liquidity range.

    amount_remaining >= 0 is an exact input (fee included), < 0 an exact output. Returns
    (sqrt_next, amount_in, amount_out, fee_amount); the direction is zero_for_one when
    sqrt_price >= sqrt_target.
    """
    sqrt_price = _uint("sqrt_price", sqrt_price, 160)
    sqrt_target = _uint("sqrt_target", sqrt_target, 160)
    liquidity = _uint("liquidity", liquidity, 128)
    amount_remaining = _int("amount_remaining", amount_remaining, 256)
    fee_pips = _check_range("fee_pips", fee_pips, 0, FEE_PIPS_DENOMINATOR - 1, "fee in pips (1e-6)")

    zero_for_one = sqrt_price >= sqrt_target
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0

    if exact_in:
        remaining_less_fee = _mul_div(amount_remaining, FEE_PIPS_DENOMINATOR - fee_pips, FEE_PIPS_DENOMINATOR)
        amount_in = (
            _amount0_delta(sqrt_target, sqrt_price, liquidity, True)
            if zero_for_one
            else _amount1_delta(sqrt_price, sqrt_target, liquidity, True)
        )
        if remaining_less_fee >= amount_in:
            sqrt_next = sqrt_target
        else:
            sqrt_next = get_next_sqrt_price_from_input(sqrt_price, liquidity, remaining_less_fee, zero_for_one)
    else:
        amount_out = (
            _amount1_delta(sqrt_target, sqrt_price, liquidity, False)
            if zero_for_one
            else _amount0_delta(sqrt_price, sqrt_target, liquidity, False)
        )
        if -amount_remaining >= amount_out:
            sqrt_next = sqrt_target
        else:
            sqrt_next = get_next_sqrt_price_from_output(sqrt_price, liquidity, -amount_remaining, zero_for_one)

    reached_target = sqrt_target == sqrt_next
    if zero_for_one:
        if not (reached_target and exact_in):
            amount_in = _amount0_delta(sqrt_next, sqrt_price, liquidity, True)
        if not (reached_target and not exact_in):
            amount_out = _amount1_delta(sqrt_next, sqrt_price, liquidity, False)
    else:
        if not (reached_target and exact_in):
            amount_in = _amount1_delta(sqrt_price, sqrt_next, liquidity, True)
        if not (reached_target and not exact_in):
            amount_out = _amount0_delta(sqrt_price, sqrt_next, liquidity, False)

    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining  # never pay out more than asked for

    if exact_in and sqrt_next != sqrt_target:
        fee_amount = amount_remaining - amount_in  # target not reached: the rest of the input is fee
    else:
        fee_amount = _mul_div_rounding_up(amount_in, fee_pips, FEE_PIPS_DENOMINATOR - fee_pips)
    return sqrt_next, amount_in, amount_out, fee_amount


# ---------------------------------------------------------------- LiquidityAmounts (v3-periphery)


def _to_uint128(name: str, value: int) -> int:
    if value > MAX_UINT128:
        raise UniswapMathError(f"{name} {value} does not fit in uint128 (max {MAX_UINT128})")
    return value


def _liquidity_for_amount0(sqrt_a: int, sqrt_b: int, amount0: int) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_a == sqrt_b:
        raise UniswapMathError(f"sqrt_a and sqrt_b must differ to price liquidity from amount0, both are {sqrt_a}")
    intermediate = _mul_div(sqrt_a, sqrt_b, Q96)
    return _to_uint128("liquidity for amount0", _mul_div(amount0, intermediate, sqrt_b - sqrt_a))


def _liquidity_for_amount1(sqrt_a: int, sqrt_b: int, amount1: int) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_a == sqrt_b:
        raise UniswapMathError(f"sqrt_a and sqrt_b must differ to price liquidity from amount1, both are {sqrt_a}")
    return _to_uint128("liquidity for amount1", _mul_div(amount1, Q96, sqrt_b - sqrt_a))


def get_liquidity_for_amounts(sqrt_price: int, sqrt_a: int, sqrt_b: int, amount0: int, amount1: int) -> int:
    """LiquidityAmounts.getLiquidityForAmounts: the most liquidity amount0 and amount1 can fund on [sqrt_a, sqrt_b]."""
    sqrt_price = _uint("sqrt_price", sqrt_price, 160)
    sqrt_a = _uint("sqrt_a", sqrt_a, 160)
    sqrt_b = _uint("sqrt_b", sqrt_b, 160)
    amount0 = _uint("amount0", amount0, 256)
    amount1 = _uint("amount1", amount1, 256)
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_price <= sqrt_a:
        return _liquidity_for_amount0(sqrt_a, sqrt_b, amount0)
    if sqrt_price < sqrt_b:
        return min(
            _liquidity_for_amount0(sqrt_price, sqrt_b, amount0),
            _liquidity_for_amount1(sqrt_a, sqrt_price, amount1),
        )
    return _liquidity_for_amount1(sqrt_a, sqrt_b, amount1)


def _amount0_for_liquidity(sqrt_a: int, sqrt_b: int, liquidity: int) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_a == 0:
        raise UniswapMathError("the lower of sqrt_a, sqrt_b must be > 0 in get_amounts_for_liquidity, got 0")
    return _mul_div(liquidity << RESOLUTION, sqrt_b - sqrt_a, sqrt_b) // sqrt_a


def get_amounts_for_liquidity(sqrt_price: int, sqrt_a: int, sqrt_b: int, liquidity: int) -> tuple[int, int]:
    """LiquidityAmounts.getAmountsForLiquidity: (amount0, amount1) of `liquidity` on [sqrt_a, sqrt_b], rounded down."""
    sqrt_price = _uint("sqrt_price", sqrt_price, 160)
    sqrt_a = _uint("sqrt_a", sqrt_a, 160)
    sqrt_b = _uint("sqrt_b", sqrt_b, 160)
    liquidity = _uint("liquidity", liquidity, 128)
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_price <= sqrt_a:
        return _amount0_for_liquidity(sqrt_a, sqrt_b, liquidity), 0
    if sqrt_price < sqrt_b:
        return (
            _amount0_for_liquidity(sqrt_price, sqrt_b, liquidity),
            _mul_div(liquidity, sqrt_price - sqrt_a, Q96),
        )
    return 0, _mul_div(liquidity, sqrt_b - sqrt_a, Q96)


# ---------------------------------------------------------------- test helper of v3-core / v3-periphery


def encode_price_sqrt(reserve1: int, reserve0: int) -> int:
    """encodePriceSqrt from the v3 tests: floor(sqrt(reserve1 / reserve0) * 2^96), computed exactly."""
    reserve1 = _as_int("reserve1", reserve1)
    reserve0 = _as_int("reserve0", reserve0)
    if reserve1 <= 0 or reserve0 <= 0:
        raise UniswapMathError(f"reserve1 and reserve0 must be > 0, got reserve1={reserve1}, reserve0={reserve0}")
    # floor(sqrt(floor(x))) == floor(sqrt(x)) for x >= 0, so one integer square root is exact
    return math.isqrt((reserve1 << (2 * RESOLUTION)) // reserve0)
