"""The decision table against hand computation and Uniswap v3's own amount formulas."""

from __future__ import annotations

import math

import pytest

from hbbatch.config.sim import AgentConf, RailsConf
from hbbatch.planner.decisions import (DecisionModel, agent_liquidity, could_change_decisions, drift_tstat,
                                       fee_gain_usd, fee_gate_usd, gas_usd, plausible_range, range_flips)
from hbbatch.planner.state import CacheState, record
from hbbatch.uniswap import get_amounts_for_liquidity, get_sqrt_ratio_at_tick

MODEL = DecisionModel()
CTX = MODEL.defaults()


def test_agent_liquidity__holds_the_capital_in_a_centred_v3_band():
    # Exact v3 amounts of that liquidity in a 1200-tick band centred at tick 0 (price 1): value = capital.
    liquidity = agent_liquidity(1e12, 1.0, 1200)
    sqrt_p, sqrt_a, sqrt_b = (get_sqrt_ratio_at_tick(t) for t in (0, -600, 600))
    amount0, amount1 = get_amounts_for_liquidity(sqrt_p, sqrt_a, sqrt_b, int(liquidity))
    assert (amount0 + amount1) == pytest.approx(1e12, rel=1e-9)
    # scaling: value of L in a band centred on P is proportional to sqrt(P)
    assert agent_liquidity(1e5, 2270.0, 1200) * math.sqrt(2270.0) == pytest.approx(agent_liquidity(1e5, 1.0, 1200))


def test_fee_gain__hand_computed_for_the_default_agent_and_market():
    # L = 1e5 / (2 sqrt(2270) (1 - 1.0001^-300)) = 35,510.4; share = L / (L + 1.245e7) = 0.0028441;
    # pool fees per hour = 0.0005 x 2.47e8 / 24 = 5,145.8 USD; over the 4-hour horizon: 58.54 USD.
    assert fee_gain_usd(CTX, MODEL) == pytest.approx(58.5416, rel=1e-5)
    assert fee_gate_usd(CTX, MODEL) == 4.0
    assert fee_gain_usd({**CTX, "mev_share": 0.5}, MODEL) == pytest.approx(58.5416 / 2, rel=1e-5)


def test_gas__from_gas_and_eth_prices_like_the_calibration():
    assert gas_usd(CTX, MODEL) == 2.0                       # unknown prices: the agent's belief
    ctx = {**CTX, "gas_price": 2.0, "eth_price": 3000.0}
    assert gas_usd(ctx, MODEL) == pytest.approx(787_760 * 2e-9 * 3000)       # 4.73 USD
    assert fee_gate_usd(ctx, MODEL) == pytest.approx(2 * 787_760 * 2e-9 * 3000)


def test_ev_gate__mev_share_flips_it_near_0_9317():
    flip = 1 - 4.0 / fee_gain_usd(CTX, MODEL)
    assert flip == pytest.approx(0.93167, abs=1e-5)
    assert not range_flips("mev_share", 0.0, flip - 1e-6, 0.01, ["ev_gate"], CTX, MODEL)
    assert range_flips("mev_share", flip - 0.01, flip + 0.01, flip, ["ev_gate"], CTX, MODEL)
    assert not range_flips("mev_share", flip + 1e-6, 1.0, 0.99, ["ev_gate"], CTX, MODEL)


def test_rail_gas_cap__flips_where_gas_spend_reaches_the_cap():
    # 0.5 actions an hour over a 24-hour window: 12 actions; the $60 cap is reached at $5 per action,
    # i.e. 5 / (787,760 x 1e-9 x 3000) = 2.1157 gwei at $3,000.
    ctx = {**CTX, "eth_price": 3000.0, "gas_price": 2.0, "actions_per_hour": 0.5}
    flip_gwei = 5.0 / (787_760e-9 * 3000.0)
    assert range_flips("gas_price", flip_gwei * 0.99, flip_gwei * 1.01, flip_gwei, ["rail_gas_cap"], ctx, MODEL)
    assert not range_flips("gas_price", 1.0, flip_gwei * 0.99, 1.5, ["rail_gas_cap"], ctx, MODEL)
    # unknown actions per hour: cannot show the rail stays put
    assert range_flips("gas_price", 1.0, 1.1, 1.05, ["rail_gas_cap"], CTX, MODEL)


def test_rail_pool_share__binds_below_l_over_max_share():
    flip = agent_liquidity(1e5, 2270.0, 1200) / 0.05          # 710,208
    assert flip == pytest.approx(710_207.6, rel=1e-6)
    assert range_flips("active_liquidity", flip * 0.9, flip * 1.1, flip, ["rail_pool_share"], CTX, MODEL)
    assert not range_flips("active_liquidity", 1e7, 1.5e7, 1.245e7, ["rail_pool_share"], CTX, MODEL)


def test_regime_trend__weekly_drift_tstat():
    # one week of daily returns: t = drift sqrt(7/365) / vol; drift 3.0, vol 0.65 -> 0.639 (no trend floor)
    ctx = {**CTX, "drift": 3.0, "realized_vol": 0.65}
    assert drift_tstat(ctx, MODEL) == pytest.approx(3.0 * math.sqrt(7 / 365) / 0.65)
    flip = 2.0 * 0.65 / math.sqrt(7 / 365)                     # drift 9.39 a year reaches t = 2
    assert range_flips("drift", flip - 0.1, flip + 0.1, flip, ["regime_trend"], ctx, MODEL)
    assert not range_flips("drift", -1.0, 5.0, 3.0, ["regime_trend"], ctx, MODEL)


def test_custom_agent_moves_the_thresholds():
    strict = DecisionModel(agent=AgentConf(fee_gate_usd=57.0, rails=RailsConf()))   # flips at 1 - 57/58.54 = 0.026
    assert range_flips("mev_share", 0.0, 0.05, 0.02, ["ev_gate"], strict.defaults(), strict)   # gate at the edge


def test_plausible_range__k_sigma_of_history_widening_with_age():
    state = CacheState()
    for t, v in enumerate([1.0, 2.0, 3.0]):
        state = record(state, "q", t * 3600.0, 0.0, {"x": v})
    result = state.results["q"]
    assert plausible_range(result, "x", 2.0, 3, age_s=1800, ttl_s=3600) == (1.0, 5.0)      # 3 +- 2 x 1
    lo, hi = plausible_range(result, "x", 2.0, 3, age_s=4 * 3600, ttl_s=3600)                # std x sqrt(4)
    assert (lo, hi) == (0.0, 7.0)                                                              # clipped at 0
    assert plausible_range(result, "x", 2.0, 4, age_s=0, ttl_s=3600) is None                  # too short
    assert plausible_range(result, "y", 2.0, 3, age_s=0, ttl_s=3600) is None                  # never provided


def test_could_change__unmapped_or_unknown_signals_count_as_able():
    state = CacheState()
    for t in range(4):
        state = record(state, "mev_toxicity", t * 3600.0, 0.0, {"mev_share": 0.01 + 0.001 * t})
    result = state.results["mev_toxicity"]
    feeds = {"mev_share": ["ev_gate"]}
    args = dict(ctx=CTX, model=MODEL, k_sigma=2.0, min_history=3, age_s=3600.0, ttl_s=86400.0)
    assert not could_change_decisions(["mev_share"], result, feeds, **args)
    assert could_change_decisions(["mev_share", "liquidity_depth"], result, feeds, **args)   # unmapped
    assert could_change_decisions(["mev_share"], None, feeds, **args)                        # never ran
    assert could_change_decisions(["mev_share"], result, {}, **args)                         # no decision known
