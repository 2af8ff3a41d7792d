"""Per-episode and per-rule metrics from an episode's final state; the registry of titles with units."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from hbbatch.sim.types import REGIMES, SimParams, SimState


class Metric(NamedTuple):
    title: str
    unit: str


METRICS: dict[str, Metric] = {
    "price_start": Metric("Start price", "USD/ETH"),
    "price_end": Metric("End price", "USD/ETH"),
    "realized_vol": Metric("Realised volatility", "1/yr"),
    "fees_usd": Metric("Fees", "USD"),
    "gas_usd": Metric("Gas", "USD"),
    "swap_cost_usd": Metric("Swap cost", "USD"),
    "capital_usd": Metric("Capital", "USD"),
    "equity_usd": Metric("Final equity", "USD"),
    "net_pnl_usd": Metric("Net PnL", "USD"),
    "return": Metric("Return", "fraction"),
    "hodl_usd": Metric("HODL value", "USD"),
    "pnl_vs_hodl_usd": Metric("PnL vs HODL", "USD"),
    "lvr_usd": Metric("LVR", "USD"),
    "actions": Metric("Actions", "count"),
    "widens": Metric("Widens", "count"),
    "time_in_range": Metric("Time in range", "fraction"),
    "max_drawdown": Metric("Max drawdown", "fraction"),
    "emergency_stops": Metric("Emergency stops", "count"),
    "drawdown_exit": Metric("Drawdown exit", "bool"),
    **{f"steps_classified_{regime}": Metric(f"Steps classified {regime}", "count") for regime in REGIMES},
}
RULE_METRICS: dict[str, Metric] = {
    "fires": Metric("Fires", "count"),
    "actions": Metric("Actions", "count"),
    "gas_usd": Metric("Gas", "USD"),
    "attributed_pnl_usd": Metric("Attributed PnL vs HODL", "USD"),
}


def episode_metrics(state: SimState, params: SimParams) -> dict[str, jax.Array]:
    """Every per-episode metric of design.md from one episode's final state."""
    tot, ep = state.totals, state.episode
    n_steps = state.t.astype(tot.fees_usd.dtype)
    price_end = state.sqrt_price**2
    price_start = ep.sqrt_price_start**2
    equity = state.equity_usd
    capital = params.agent.capital_usd
    hodl = ep.hodl_eth * price_end + ep.hodl_usd
    return {
        "regime": ep.regime,
        "price_start": price_start,
        "price_end": price_end,
        "realized_vol": jnp.sqrt(tot.sum_sq_return / (n_steps * params.market.dt_years)),
        "fees_usd": tot.fees_usd,
        "gas_usd": tot.gas_usd,
        "swap_cost_usd": tot.swap_cost_usd,
        "capital_usd": capital,
        "equity_usd": equity,
        "net_pnl_usd": equity - capital,
        "return": (equity - capital) / capital,
        "hodl_usd": hodl,
        "pnl_vs_hodl_usd": equity - hodl,
        "lvr_usd": tot.lvr_usd,
        "actions": state.rails.actions,
        "widens": tot.widens,
        "time_in_range": tot.steps_in_range / n_steps,
        "max_drawdown": tot.max_drawdown,
        "emergency_stops": tot.emergency_stops,
        "drawdown_exit": tot.drawdown_exit,
        "rule_fires": tot.rule_fires,
        "rule_actions": tot.rule_actions,
        "rule_gas_usd": tot.rule_gas_usd,
        "rule_pnl_usd": tot.rule_pnl_usd,
        **{f"steps_classified_{regime}": tot.classified_steps[i] for i, regime in enumerate(REGIMES)},
    }
