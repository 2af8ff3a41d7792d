"""Value of information: which agent decision each query signal feeds, and whether a query could flip one.

Signals carry the names the catalog's `provides` lists use, in these units:

| signal             | unit                                  | decisions it feeds          |
|--------------------|---------------------------------------|-----------------------------|
| `gas_price`        | gwei                                  | ev_gate, rail_gas_cap       |
| `eth_price`        | USD per ETH                           | ev_gate, rail_gas_cap       |
| `fee_rate`         | LP fee per unit of volume             | ev_gate                     |
| `volume`           | pool volume, USD per day              | ev_gate                     |
| `active_liquidity` | pool liquidity at the price (L, as MarketConf.pool_liquidity) | ev_gate, rail_pool_share |
| `mev_share`        | sandwiched share of pool volume       | ev_gate                     |
| `drift`            | annualised log drift                  | regime_trend                |
| `realized_vol`     | annualised volatility                 | regime_trend                |

Each decision is a yes/no the agent takes from its settings (`hbbatch.config.sim.AgentConf`) and those
numbers, and is monotone in each number:

- `ev_gate`: a fresh in-range band earns at least FEE_GATE over the gate's horizon:
  fee_rate x volume/24 x (1 - mev_share) x share x horizon_h >= fee_gate_usd x gas_usd / agent.gas_usd,
  share = L / (L + active_liquidity), L = capital / (2 sqrt(P) (1 - 1.0001^(-W/4))) the liquidity of a
  band of W ticks (the narrowest floor) centred on P holding the capital; gas_usd = recenter gas units x
  gas_price x 1e-9 x eth_price (the calibration's GAS), and FEE_GATE stays the same multiple of it.
- `rail_gas_cap`: gas_usd x live actions/h x gas window >= the emergency-stop cap (the rail trips).
- `rail_pool_share`: L >= max_pool_share x active_liquidity (the position-size rail binds).
- `regime_trend` (which width floor applies): the drift t-statistic of one classification window of
  daily returns, drift sqrt(window_days / 365) / realized_vol, reaches agent.trend_tstat.

A query *could change decisions* when, for some signal it provides that nothing fresh or planned at P0
already provides, the plausible range of its next value, last +- k_sigma x std(history) x
sqrt(max(1, age/ttl)), holds points on both sides of a decision's threshold. Every decision being
monotone in each input, testing the two ends and the last value, other inputs at their point
estimates, is exact. A signal fed to no decision, with too little history, or whose decision lacks an
input, counts as able to change decisions: a query is skipped only when the answer provably does not
matter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np

from hbbatch.config.calibration import CalibrationConf
from hbbatch.config.sim import AgentConf, FloorsConf, MarketConf
from hbbatch.planner.state import CacheState, CachedResult

TICK_BASE = 1.0001
DAYS_PER_YEAR = 365.0
SIGNAL_BOUNDS = {"mev_share": (0.0, 1.0), "fee_rate": (0.0, 1.0), "drift": (-math.inf, math.inf)}   # else [0, inf)
# Where a query's rows carry a signal in the unit above (median over rows); other signals need the
# fitted value passed to the cache (hbbatch.planner.cache.ResultCache.put(values=...)).
SIGNAL_COLUMNS = {"gas_price": "gas_price_gwei", "eth_price": "eth_price_usd", "fee_rate": "lp_fee_rate",
                  "active_liquidity": "active_liquidity", "mev_share": "mev_share"}


@dataclass(frozen=True)
class DecisionModel:
    """The agent and market settings decisions are taken with (defaults: the simulator's)."""

    agent: AgentConf = field(default_factory=AgentConf)
    market: MarketConf = field(default_factory=MarketConf)
    floors: FloorsConf = field(default_factory=FloorsConf)
    recenter_gas_units: float = CalibrationConf.recenter_gas_units   # exit + swap + mint (calibration.gas)
    window_days: float = 7.0                # the regime classification window (one episode)

    def defaults(self) -> dict[str, float]:
        """Point estimates used until a query result replaces them."""
        return {"fee_rate": self.market.fee_rate, "volume": self.market.volume_usd_per_day,
                "active_liquidity": self.market.pool_liquidity, "mev_share": 0.0}


def agent_liquidity(capital_usd: float, price_usd: float, width_ticks: float) -> float:
    """Liquidity of a band of `width_ticks` centred on `price_usd` worth `capital_usd`."""
    return capital_usd / (2.0 * math.sqrt(price_usd) * (1.0 - TICK_BASE ** (-width_ticks / 4.0)))


def gas_usd(ctx: Mapping[str, float], model: DecisionModel) -> float:
    """Cost of one recenter: measured when gas and ETH prices are known, else the agent's belief."""
    if "gas_price" in ctx and "eth_price" in ctx:
        return model.recenter_gas_units * ctx["gas_price"] * 1e-9 * ctx["eth_price"]
    return model.agent.gas_usd


def _liquidity(ctx: Mapping[str, float], model: DecisionModel) -> float:
    capital = min(model.agent.capital_usd, model.agent.rails.max_capital_usd)
    width = min(model.floors.mean_revert, model.floors.jumpy, model.floors.trend_up)
    return agent_liquidity(capital, ctx.get("eth_price", model.market.price_start_usd), width)


def fee_gain_usd(ctx: Mapping[str, float], model: DecisionModel) -> float:
    liquidity = _liquidity(ctx, model)
    share = liquidity / (liquidity + ctx["active_liquidity"])
    fees_usd_per_hour = ctx["fee_rate"] * ctx["volume"] / 24.0
    return fees_usd_per_hour * (1.0 - ctx["mev_share"]) * share * model.agent.ev_horizon_minutes / 60.0


def fee_gate_usd(ctx: Mapping[str, float], model: DecisionModel) -> float:
    return model.agent.fee_gate_usd * gas_usd(ctx, model) / model.agent.gas_usd


def drift_tstat(ctx: Mapping[str, float], model: DecisionModel) -> float:
    return ctx["drift"] * math.sqrt(model.window_days / DAYS_PER_YEAR) / ctx["realized_vol"]


def _ev_gate(ctx: Mapping[str, float], model: DecisionModel) -> bool:
    return fee_gain_usd(ctx, model) >= fee_gate_usd(ctx, model)


def _rail_gas_cap(ctx: Mapping[str, float], model: DecisionModel) -> bool:
    rails = model.agent.rails
    spend = gas_usd(ctx, model) * ctx["actions_per_hour"] * rails.gas_window_minutes / 60.0
    return spend >= rails.gas_cap_usd_per_window


def _rail_pool_share(ctx: Mapping[str, float], model: DecisionModel) -> bool:
    return _liquidity(ctx, model) >= model.agent.rails.max_pool_share * ctx["active_liquidity"]


def _regime_trend(ctx: Mapping[str, float], model: DecisionModel) -> bool:
    return drift_tstat(ctx, model) >= model.agent.trend_tstat


DECISIONS: dict[str, Callable[[Mapping[str, float], DecisionModel], bool]] = {
    "ev_gate": _ev_gate,
    "rail_gas_cap": _rail_gas_cap,
    "rail_pool_share": _rail_pool_share,
    "regime_trend": _regime_trend,
}


def point_estimates(state: CacheState, model: DecisionModel, live: Mapping[str, float | None]) -> dict[str, float]:
    """Model defaults, replaced by the newest stored value of each signal, plus the live numbers."""
    ctx = model.defaults()
    for result in sorted(state.results.values(), key=lambda r: r.fetched_at_s):
        ctx.update(result.values)
    ctx.update({k: v for k, v in live.items() if v is not None})
    return ctx


def plausible_range(result: CachedResult, signal: str, k_sigma: float, min_history: int,
                    age_s: float, ttl_s: float) -> tuple[float, float] | None:
    """[lo, hi] of the signal's next value, or None when its history is too short to say."""
    if signal not in result.values:
        return None
    history = [v for _, v in result.history.get(signal, ())]
    if len(history) < max(2, min_history):
        return None
    spread = float(np.std(history, ddof=1)) * math.sqrt(max(1.0, age_s / ttl_s if ttl_s > 0 else 1.0))
    last = result.values[signal]
    lo_bound, hi_bound = SIGNAL_BOUNDS.get(signal, (0.0, math.inf))
    return max(lo_bound, last - k_sigma * spread), min(hi_bound, last + k_sigma * spread)


def range_flips(signal: str, lo: float, hi: float, last: float, decisions: Iterable[str],
                ctx: Mapping[str, float], model: DecisionModel) -> bool:
    """Whether any decision differs across [lo, hi] (monotone decisions: the ends and `last` suffice)."""
    for name in decisions:
        try:
            answers = {DECISIONS[name]({**ctx, signal: x}, model) for x in (lo, last, hi)}
        except (KeyError, ZeroDivisionError):
            return True     # an input it needs is unknown: cannot show the answer does not matter
        if len(answers) > 1:
            return True
    return False


def could_change_decisions(signals: Iterable[str], result: CachedResult | None, feeds: Mapping[str, Iterable[str]],
                           ctx: Mapping[str, float], model: DecisionModel, k_sigma: float, min_history: int,
                           age_s: float, ttl_s: float) -> bool:
    """False only when every signal is mapped, has a known range and flips no decision."""
    signals = tuple(signals)
    if result is None:
        return True
    for signal in signals:
        decisions = tuple(feeds.get(signal, ()))
        if not decisions:
            return True
        bounds = plausible_range(result, signal, k_sigma, min_history, age_s, ttl_s)
        if bounds is None:
            return True
        if range_flips(signal, bounds[0], bounds[1], result.values[signal], decisions, ctx, model):
            return True
    return False
