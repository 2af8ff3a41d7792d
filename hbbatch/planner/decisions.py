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
| `realized_vol`     | annualised volatility                 | ev_gate, regime_trend       |

Each decision is a yes/no the agent takes from its settings (`hbbatch.config.sim.AgentConf`) and those
numbers, and is monotone in each number:

- `ev_gate`: the simulator's own EV gate (`hbbatch.sim.policy.expected_gain_usd`, the swap cost of
  `hbbatch.sim.pool`) would let a fresh band through: a band of the narrowest floor centred on P, sized
  by the position-size rail (`hbbatch.sim.rails.deployable_liquidity`), replacing an out-of-range
  position held in USD, earns expected fees net of expected LVR over the gate's horizon, less the swap
  into the band, of at least FEE_GATE and more than GAS. The pool's volume is the signal's volume less
  the sandwiched share (`mev_share`: the planner's reading; the simulator has no MEV); the variance is
  `realized_vol`'s when known, else the market's regime-mix average. GAS = recenter gas units x
  gas_price x 1e-9 x eth_price (the calibration's), and FEE_GATE stays the same multiple of it.
- `rail_gas_cap`: gas_usd x live actions/h x gas window >= the emergency-stop cap (the rail trips).
- `rail_pool_share`: the position-size rail binds: `deployable_liquidity` gives the band less than
  the capital would buy (the agent's share of active liquidity would pass max_pool_share).
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

import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Mapping

import jax.numpy as jnp
import numpy as np

from hbbatch.config.calibration import CalibrationConf
from hbbatch.config.sim import REGIMES, AgentConf, FloorsConf, MarketConf, RegimeMixConf
from hbbatch.sim import pool, precision
from hbbatch.sim.params import regime_weights
from hbbatch.sim.price import MINUTES_PER_YEAR
from hbbatch.planner.state import CacheState, CachedResult

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
    regime_mix: RegimeMixConf = field(default_factory=RegimeMixConf)

    def defaults(self) -> dict[str, float]:
        """Point estimates used until a query result replaces them."""
        return {"fee_rate": self.market.fee_rate, "volume": self.market.volume_usd_per_day,
                "active_liquidity": self.market.pool_liquidity, "mev_share": 0.0}

    @functools.cached_property
    def params(self):
        """The simulator's parameters for these settings (hbbatch.sim.params.make_params, float64)."""
        from hbbatch.sim import make_params

        return make_params(asdict(self.market), asdict(self.agent), asdict(self.floors), asdict(self.regime_mix),
                           dtype="float64")

    @property
    def band_width_ticks(self) -> float:
        return min(self.floors.mean_revert, self.floors.jumpy, self.floors.trend_up)

    def variance_per_step(self, ctx: Mapping[str, float]) -> float:
        """Variance of ln P per simulator step: realized_vol's when known, else the regime-mix average."""
        dt_years = self.market.step_minutes / MINUTES_PER_YEAR
        if "realized_vol" in ctx:
            return ctx["realized_vol"] ** 2 * dt_years
        weights = regime_weights(asdict(self.regime_mix))
        vols = [getattr(self.market.vol_annual, r) for r in REGIMES]
        return float(sum(w * v * v for w, v in zip(weights, vols))) * dt_years


def _band(price_usd: float, width_ticks: float):
    """A band of `width_ticks` centred on `price_usd` (the simulator's Position, ticks relative to the price)."""
    from hbbatch.sim.policy import make_position

    return make_position(jnp.float64(0.0), jnp.float64(-width_ticks / 2.0), jnp.float64(width_ticks / 2.0),
                         jnp.float64(math.sqrt(price_usd)))


def agent_liquidity(capital_usd: float, price_usd: float, width_ticks: float) -> float:
    """Liquidity of a band of `width_ticks` centred on `price_usd` worth `capital_usd` (sim.pool's value)."""
    with precision.scope():
        band = _band(price_usd, width_ticks)
        return float(capital_usd / pool.value_per_liquidity(jnp.float64(math.sqrt(price_usd)), band.sqrt_lower,
                                                            band.sqrt_upper))


def _capital_usd(model: DecisionModel) -> float:
    return min(model.agent.capital_usd, model.agent.rails.max_capital_usd)


def _price(ctx: Mapping[str, float], model: DecisionModel) -> float:
    return ctx.get("eth_price", model.market.price_start_usd)


def deployed_liquidity(ctx: Mapping[str, float], model: DecisionModel) -> float:
    """The liquidity the simulator would deploy in the band: capital, capped by the position-size rail."""
    from hbbatch.sim.rails import deployable_liquidity

    price = _price(ctx, model)
    with precision.scope():
        unit_value = _capital_usd(model) / agent_liquidity(_capital_usd(model), price, model.band_width_ticks)
        return float(deployable_liquidity(jnp.float64(_capital_usd(model)), jnp.float64(unit_value),
                                          jnp.float64(ctx["active_liquidity"]), model.params.agent))


def gas_usd(ctx: Mapping[str, float], model: DecisionModel) -> float:
    """Cost of one recenter: measured when gas and ETH prices are known, else the agent's belief."""
    if "gas_price" in ctx and "eth_price" in ctx:
        return model.recenter_gas_units * ctx["gas_price"] * 1e-9 * ctx["eth_price"]
    return model.agent.gas_usd


def fee_gate_usd(ctx: Mapping[str, float], model: DecisionModel) -> float:
    """FEE_GATE, kept the same multiple of GAS when GAS is measured."""
    if model.agent.gas_usd <= 0:
        return model.agent.fee_gate_usd
    return model.agent.fee_gate_usd * gas_usd(ctx, model) / model.agent.gas_usd


def fee_gain_usd(ctx: Mapping[str, float], model: DecisionModel) -> float:
    """What the simulator's EV gate expects a fresh band to gain over its horizon, net of the swap into it."""
    from hbbatch.sim.policy import expected_gain_usd, initial_memory
    from hbbatch.sim.types import Position

    price = _price(ctx, model)
    steps_per_day = 1440.0 / model.market.step_minutes
    with precision.scope():
        f = jnp.float64
        sqrt_price = f(math.sqrt(price))
        proposed = _band(price, model.band_width_ticks)._replace(liquidity=f(deployed_liquidity(ctx, model)))
        current = Position(liquidity=f(0.0), tick_lower=f(1e6), tick_upper=f(1e6 + 1.0),
                           sqrt_lower=f(1e6), sqrt_upper=f(1e6))        # out of range, held as USD
        memory = initial_memory(f(model.variance_per_step(ctx)),
                                f(ctx["volume"] * (1.0 - ctx["mev_share"]) / steps_per_day))
        eth_target, _ = pool.amounts_for_liquidity(sqrt_price, proposed.sqrt_lower, proposed.sqrt_upper,
                                                   proposed.liquidity)
        gain = expected_gain_usd(f(0.0), sqrt_price, current, proposed, eth_target, jnp.int32(REGIMES.index("mean_revert")),
                                 memory, model.params.agent, f(ctx["fee_rate"]), f(ctx["active_liquidity"]))
        swap = pool.swap_cost_usd(eth_target * price, f(ctx["fee_rate"]), sqrt_price, f(ctx["active_liquidity"]))
        return float(gain - swap)


def drift_tstat(ctx: Mapping[str, float], model: DecisionModel) -> float:
    return ctx["drift"] * math.sqrt(model.window_days / DAYS_PER_YEAR) / ctx["realized_vol"]


def _ev_gate(ctx: Mapping[str, float], model: DecisionModel) -> bool:
    gain = fee_gain_usd(ctx, model)   # the simulator's test (policy.passes_gate), GAS and FEE_GATE as measured
    return gain - gas_usd(ctx, model) >= fee_gate_usd(ctx, model)


def _rail_gas_cap(ctx: Mapping[str, float], model: DecisionModel) -> bool:
    rails = model.agent.rails
    spend = gas_usd(ctx, model) * ctx["actions_per_hour"] * rails.gas_window_minutes / 60.0
    return spend >= rails.gas_cap_usd_per_window


def _rail_pool_share(ctx: Mapping[str, float], model: DecisionModel) -> bool:
    wanted = agent_liquidity(_capital_usd(model), _price(ctx, model), model.band_width_ticks)
    return deployed_liquidity(ctx, model) < wanted * (1.0 - 1e-12)


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
