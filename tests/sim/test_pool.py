"""The float (JAX) position math against the exact integer port of Uniswap's contracts."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from hbbatch import uniswap
from hbbatch.sim import pool, precision

Q96 = 2**96
POSITIONS = (Path(__file__).resolve().parents[1] / "data" / "mainnet_usdc_weth_2024-01-05"
             / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05-2024-01-05.positions.csv")   # embedded


@pytest.fixture(autouse=True)
def float64():
    """The float math checked in float64 (the simulator's precision scope, as make_params and simulate use)."""
    with precision.scope():
        yield


def test_pool__sqrt_price_at_tick_matches_tickmath():
    ticks = np.array([-887_000, -200_000, -50_000, -1000, -50, 0, 50, 1000, 50_000, 199_050, 200_000, 887_000])
    exact = np.array([uniswap.get_sqrt_ratio_at_tick(int(t)) / Q96 for t in ticks])
    np.testing.assert_allclose(np.asarray(pool.sqrt_price_at_tick(jnp.asarray(ticks, jnp.float64))), exact, rtol=1e-9)


def test_pool__amounts_and_liquidity_match_the_exact_port_on_real_positions():
    rows = pd.read_csv(POSITIONS, dtype=str)
    rows = rows[rows["tx_type"].isin(["MINT", "BURN"]) & (rows["liquidity"].map(lambda v: int(float(v))) > 0)]
    assert len(rows) == 109
    for _, row in rows.iterrows():
        lower, upper = int(float(row["tick_lower"])), int(float(row["tick_upper"]))
        liquidity, sqrt_x96 = int(row["liquidity"]), int(row["sqrtPriceX96"])
        sqrt_a, sqrt_b = uniswap.get_sqrt_ratio_at_tick(lower), uniswap.get_sqrt_ratio_at_tick(upper)
        exact0, exact1 = uniswap.get_amounts_for_liquidity(sqrt_x96, sqrt_a, sqrt_b, liquidity)
        s, sa, sb = (jnp.float64(v / Q96) for v in (sqrt_x96, sqrt_a, sqrt_b))
        amount0, amount1 = pool.amounts_for_liquidity(s, sa, sb, jnp.float64(liquidity))
        # exact amounts are floored integers: allow 1 unit of rounding besides 1e-9 relative
        for got, want in ((amount0, exact0), (amount1, exact1)):
            assert abs(float(got) - want) <= 1e-9 * max(want, 1) + 1.0
        if exact0 > 0 and exact1 > 0:
            float_l = pool.liquidity_for_amounts(s, sa, sb, jnp.float64(exact0), jnp.float64(exact1))
            exact_l = uniswap.get_liquidity_for_amounts(sqrt_x96, sqrt_a, sqrt_b, exact0, exact1)
            assert float(float_l) == pytest.approx(exact_l, rel=1e-9)
