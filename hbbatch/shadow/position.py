"""The paper position, in the pool's own integers: exact Uniswap v3 math (hbbatch.uniswap), nothing sent.

The policy keeps its band in USD-per-ETH ticks relative to the opening tick; the pool's ticks run the
other way (USD per ETH = 10^12 / 1.0001^tick), so a band maps onto the pool's tick grid by
    pool_tick = 12 ln 10 / ln 1.0001 - usd_tick,
snapped to the pool's spacing with its width kept. Mints, burns and swaps settle exactly as the
contracts would at the observed price (a rebalancing swap within the active liquidity range:
SwapMath.computeSwapStep with the pool's fee); fees accrue from what was swapped into the pool during
each step, by our share of active liquidity, for the part of the step's move inside the band (the
simulator's weighting, on pool ticks). Gas is charged in USD at the observed gas price.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from hbbatch import uniswap
from hbbatch.shadow.observation import DECIMALS_USDC, DECIMALS_WETH, Observation

USD_TICK_OFFSET = (DECIMALS_WETH - DECIMALS_USDC) * math.log(10) / math.log(1.0001)   # 276324.02...
SCALE0, SCALE1 = 10**DECIMALS_USDC, 10**DECIMALS_WETH


def pool_band(lower_rel: float, upper_rel: float, start_usd_tick: float, tick_spacing: int) -> tuple[int, int]:
    """The policy's band (USD ticks relative to the opening tick) on the pool's tick grid."""
    width = int(round(upper_rel - lower_rel))
    lower = int(round((USD_TICK_OFFSET - start_usd_tick - upper_rel) / tick_spacing)) * tick_spacing
    return lower, lower + width


def in_range_fraction(tick_from: int, tick_to: int, tick_lower: int, tick_upper: int) -> float:
    """The part of a step's move from tick_from to tick_to inside [tick_lower, tick_upper)."""
    low, high = min(tick_from, tick_to), max(tick_from, tick_to)
    if high == low:
        return float(tick_lower <= tick_from < tick_upper)
    return max(min(high, tick_upper) - max(low, tick_lower), 0) / (high - low)


@dataclass
class PaperPosition:
    """A v3 position and the account around it, all token amounts raw integers."""

    capital_usd: float
    hodl0: int                 # tokens held at the open (HODL benchmark)
    hodl1: int
    tick_lower: int = 0
    tick_upper: int = 0
    liquidity: int = 0
    idle0: int = 0             # tokens outside the position
    idle1: int = 0
    fees0: int = 0             # fees earned, not yet collected
    fees1: int = 0
    fees_usd: float = 0.0      # fees earned, valued when earned
    gas_usd: float = 0.0
    swap_cost_usd: float = 0.0

    # --------------------------------------------------------------- valuation
    def amounts(self, sqrt_price_x96: int) -> tuple[int, int]:
        if self.liquidity == 0:
            return 0, 0
        return uniswap.get_amounts_for_liquidity(sqrt_price_x96, uniswap.get_sqrt_ratio_at_tick(self.tick_lower),
                                                 uniswap.get_sqrt_ratio_at_tick(self.tick_upper), self.liquidity)

    @staticmethod
    def usd(amount0: int, amount1: int, price_usd: float) -> float:
        return amount0 / SCALE0 + amount1 / SCALE1 * price_usd

    def equity_usd(self, obs: Observation) -> float:
        a0, a1 = self.amounts(obs.sqrt_price_x96)
        return self.usd(a0 + self.idle0 + self.fees0, a1 + self.idle1 + self.fees1, obs.price_usd) - self.gas_usd

    def hodl_usd(self, obs: Observation) -> float:
        return self.usd(self.hodl0, self.hodl1, obs.price_usd)

    def values(self, obs: Observation) -> dict[str, float]:
        equity = self.equity_usd(obs)
        a0, a1 = self.amounts(obs.sqrt_price_x96)
        return {"equity_usd": equity, "net_pnl_usd": equity - self.capital_usd,
                "pnl_vs_hodl_usd": equity - self.hodl_usd(obs), "position_usd": self.usd(a0, a1, obs.price_usd),
                "amount0": a0, "amount1": a1}

    # --------------------------------------------------------------- events
    def accrue_fees(self, tick_from: int, obs: Observation, fee_pips: int) -> None:
        """Fees of one step: pool fee on what was swapped in x our share x the part of the move in range."""
        if self.liquidity == 0:
            return
        fraction = in_range_fraction(tick_from, obs.tick, self.tick_lower, self.tick_upper)
        total = self.liquidity + obs.pool_liquidity_raw
        earned = []
        for amount_in in (obs.amount0_in, obs.amount1_in):
            pool_fee = amount_in * fee_pips // uniswap.FEE_PIPS_DENOMINATOR
            earned.append(int(pool_fee * self.liquidity // total * fraction))
        self.fees0 += earned[0]
        self.fees1 += earned[1]
        self.fees_usd += self.usd(earned[0], earned[1], obs.price_usd)

    def _withdraw(self, obs: Observation) -> None:
        a0, a1 = self.amounts(obs.sqrt_price_x96)
        self.idle0 += a0 + self.fees0
        self.idle1 += a1 + self.fees1
        self.liquidity, self.fees0, self.fees1 = 0, 0, 0

    def _swap_to(self, obs: Observation, want1: int, fee_pips: int) -> None:
        """Swap idle tokens so that exactly `want1` WETH is held (the rest in USDC, as the simulator's cash)."""
        before = self.usd(self.idle0, self.idle1, obs.price_usd)
        if self.idle1 < want1:          # token0 in, exact token1 out: the price (token1 per token0) falls
            _, paid, got, fee = uniswap.compute_swap_step(obs.sqrt_price_x96, uniswap.MIN_SQRT_RATIO + 1,
                                                          obs.pool_liquidity_raw, -(want1 - self.idle1), fee_pips)
            self.idle0, self.idle1 = self.idle0 - paid - fee, self.idle1 + got
        elif self.idle1 > want1:        # exact token1 in, token0 out: the price rises
            _, paid, got, fee = uniswap.compute_swap_step(obs.sqrt_price_x96, uniswap.MAX_SQRT_RATIO - 1,
                                                          obs.pool_liquidity_raw, self.idle1 - want1, fee_pips)
            self.idle0, self.idle1 = self.idle0 + got, self.idle1 - paid - fee
        self.swap_cost_usd += before - self.usd(self.idle0, self.idle1, obs.price_usd)

    def _mint(self, obs: Observation, tick_lower: int, tick_upper: int, liquidity: int) -> None:
        sqrt_a, sqrt_b = uniswap.get_sqrt_ratio_at_tick(tick_lower), uniswap.get_sqrt_ratio_at_tick(tick_upper)
        affordable = uniswap.get_liquidity_for_amounts(obs.sqrt_price_x96, sqrt_a, sqrt_b,
                                                       max(self.idle0, 0), max(self.idle1, 0))
        liquidity = max(min(liquidity, affordable), 0)
        paid0, paid1 = (uniswap.modify_position_amounts(obs.tick, obs.sqrt_price_x96, tick_lower, tick_upper, liquidity)
                        if liquidity else (0, 0))
        self.tick_lower, self.tick_upper, self.liquidity = tick_lower, tick_upper, liquidity
        self.idle0, self.idle1 = self.idle0 - paid0, self.idle1 - paid1

    def rebalance(self, obs: Observation, tick_lower: int, tick_upper: int, liquidity: int, fee_pips: int,
                  gas_usd: float) -> None:
        """Burn, collect, swap to the new band's WETH, mint `liquidity` (or what the tokens allow); what the
        band does not take stays in USDC, like the simulator's cash."""
        self._withdraw(obs)
        _, need1 = uniswap.modify_position_amounts(obs.tick, obs.sqrt_price_x96, tick_lower, tick_upper, liquidity)
        self._swap_to(obs, need1, fee_pips)
        self._mint(obs, tick_lower, tick_upper, liquidity)
        self.gas_usd += gas_usd

    def exit(self, obs: Observation, fee_pips: int, gas_usd: float) -> None:
        """Burn, collect and sell the WETH for USDC (the simulator's exit)."""
        self._withdraw(obs)
        self._swap_to(obs, 0, fee_pips)
        self.gas_usd += gas_usd

    # --------------------------------------------------------------- persistence
    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PaperPosition":
        kinds = {f.name: f.type for f in fields(cls)}
        return cls(**{k: (int(v) if kinds[k] == "int" else float(v)) for k, v in data.items()})


def open_position(obs: Observation, tick_lower: int, tick_upper: int, liquidity: int, capital_usd: float) -> PaperPosition:
    """The opening position: liquidity minted from exactly the tokens it needs, the rest of the capital
    idle in USDC; HODL holds the same tokens from the open (the simulator's convention)."""
    paid0, paid1 = uniswap.modify_position_amounts(obs.tick, obs.sqrt_price_x96, tick_lower, tick_upper, liquidity)
    capital0 = int(round(capital_usd * SCALE0))
    idle0 = capital0 - paid0 - int(math.ceil(paid1 / SCALE1 * obs.price_usd * SCALE0))
    position = PaperPosition(capital_usd=capital_usd, hodl0=0, hodl1=paid1, tick_lower=tick_lower,
                             tick_upper=tick_upper, liquidity=liquidity, idle0=0, idle1=0)
    position.hodl0 = paid0 + idle0
    position.idle0 = idle0
    return position
