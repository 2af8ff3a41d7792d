"""One observation of the pool per step: what a source (bars or JSON-RPC) hands the shadow loop.

Raw integers stay integers (the paper position uses exact v3 math); the floats are what the policy sees.
Pool convention (USDC token0, 6 decimals / WETH token1, 18 decimals): USD per ETH = 10^12 / 1.0001^tick.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Optional

from hbbatch import uniswap

DECIMALS_USDC, DECIMALS_WETH = 6, 18
RAW_LIQUIDITY_PER_UNIT = 10 ** ((DECIMALS_USDC + DECIMALS_WETH) // 2)   # raw L = 1e12 x L in sqrt(ETH*USD)


def usd_per_eth_at_sqrt_price(sqrt_price_x96: int) -> float:
    """USD per ETH at a pool sqrtPriceX96: (2^96 / sqrtP)^2 x 10^12."""
    return (uniswap.Q96 / sqrt_price_x96) ** 2 * 10.0 ** (DECIMALS_WETH - DECIMALS_USDC)


@dataclass(frozen=True)
class Observation:
    """The pool at the close of one step and what traded during it."""

    time: datetime                 # close of the step (bar timestamp, or the step's last block time), UTC
    sqrt_price_x96: int            # pool price at the close
    tick: int                      # pool tick at the close
    price_usd: float               # USD per ETH at the close
    log_return: float              # ln(price / previous close): the step's move as the policy sees it
    amount0_in: int                # raw USDC swapped into the pool during the step
    amount1_in: int                # raw WETH swapped into the pool during the step
    volume_usd: float              # amount0_in + amount1_in at the close price, in USD
    pool_liquidity_raw: int        # active liquidity at the close (raw)
    block: Optional[int] = None    # the step's last block (JSON-RPC)
    gas_price_wei: Optional[int] = None   # base fee + tip at the close (JSON-RPC); None: the market's median
    gap_steps: int = 0             # steps with no data just before this one (reported, never filled)

    @property
    def pool_liquidity(self) -> float:
        """Active liquidity in sqrt(ETH*USD), the simulator's unit."""
        return self.pool_liquidity_raw / RAW_LIQUIDITY_PER_UNIT

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["time"] = self.time.isoformat()
        for key in ("sqrt_price_x96", "amount0_in", "amount1_in", "pool_liquidity_raw"):
            out[key] = str(out[key])     # beyond 2^53: exact as strings
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Observation":
        data = dict(data)
        data["time"] = datetime.fromisoformat(data["time"])
        for key in ("sqrt_price_x96", "amount0_in", "amount1_in", "pool_liquidity_raw"):
            data[key] = int(data[key])
        return cls(**data)
