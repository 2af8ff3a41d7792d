"""The decision table against hand computation (the simulator's own EV gate, worked by hand) and Uniswap v3's
own amount formulas."""

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


def _hand_gain(vol: float, mev_share: float = 0.0, fee_gate_ctx=None) -> float:
    """The simulator's EV gate for a fresh 1200-tick band at $2,270, worked by hand (design.md; sim/policy.py):
    H x L x P(in range) x (fee_rate x volume per step / (L + L_pool) - sigma^2 sqrt(P) / 4), less the swap of
    the band's ETH (pool fee + price impact), with the default agent and market; H the band's expected
    holding time, (half-width in ln P)^2 / sigma^2 steps, at most the gate's horizon (a week)."""
    price, width = 2270.0, 1200.0
    var = vol**2 / 525_600.0
    horizon = min((width / 2 * math.log(1.0001)) ** 2 / var, 10_080.0)
    liquidity = 1e5 / (2 * math.sqrt(price) * (1 - 1.0001 ** (-width / 4)))   # the band holding the capital
    sd = math.sqrt(var * 0.5 * horizon) + 1e-12
    edge = width / 2 * math.log(1.0001)
    sigmoid = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    p_in = sigmoid(1.702 * edge / sd) - sigmoid(-1.702 * edge / sd)
    fees = 0.0005 * 2.47e8 * (1 - mev_share) / 1440 / (liquidity + 1.245e7)
    lvr = 0.25 * var * math.sqrt(price)
    eth = liquidity * (1 / math.sqrt(price) - 1 / (math.sqrt(price) * 1.0001 ** (width / 4)))
    swap_usd = eth * price
    swap = swap_usd * (0.0005 + swap_usd / (1.245e7 * math.sqrt(price)))
    return horizon * liquidity * p_in * (fees - lvr) - swap


def _flip(f, lo: float, hi: float) -> float:
    """Where the monotone f(x) changes sign on [lo, hi] (bisection)."""
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (f(mid) > 0) == (f(lo) > 0) else (lo, mid)
    return (lo + hi) / 2


def test_fee_gain__is_the_simulators_ev_gate_worked_by_hand():
    mix_vol = math.sqrt(MODEL.variance_per_step(CTX) * 525_600.0)   # the regime mix's variance of the market
    assert fee_gain_usd(CTX, MODEL) == pytest.approx(_hand_gain(mix_vol), rel=1e-6)
    assert fee_gain_usd(CTX, MODEL) < 0   # expected LVR and the swap exceed the fees
    for vol, mev in ((0.2, 0.0), (0.2, 0.5), (0.4, 0.1), (1.0, 0.0)):
        assert fee_gain_usd({**CTX, "realized_vol": vol, "mev_share": mev}, MODEL) == pytest.approx(
            _hand_gain(vol, mev), rel=1e-6)
    assert fee_gate_usd(CTX, MODEL) == 4.0


def test_gas__from_gas_and_eth_prices_like_the_calibration():
    assert gas_usd(CTX, MODEL) == 2.0                       # unknown prices: the agent's belief
    ctx = {**CTX, "gas_price": 2.0, "eth_price": 3000.0}
    assert gas_usd(ctx, MODEL) == pytest.approx(787_760 * 2e-9 * 3000)       # 4.73 USD
    assert fee_gate_usd(ctx, MODEL) == pytest.approx(2 * 787_760 * 2e-9 * 3000)


def test_ev_gate__closed_at_the_default_volatility_whatever_the_toxicity():
    # the simulator's gate refuses a fresh band at 65 % volatility: no toxic share can open it
    assert not range_flips("mev_share", 0.0, 1.0, 0.01, ["ev_gate"], CTX, MODEL)


def test_ev_gate__realized_vol_flips_it_where_the_hand_computed_gain_meets_fee_gate():
    flip = _flip(lambda v: _hand_gain(v) - 2.0 - 4.0, 0.05, 1.0)     # gain - GAS >= FEE_GATE
    assert 0.05 < flip < 0.65
    assert range_flips("realized_vol", flip * 0.99, flip * 1.01, flip, ["ev_gate"], CTX, MODEL)
    assert not range_flips("realized_vol", 0.05, flip * 0.99, 0.2, ["ev_gate"], CTX, MODEL)
    assert not range_flips("realized_vol", flip * 1.01, 1.5, 0.65, ["ev_gate"], CTX, MODEL)


def test_ev_gate__mev_share_flips_it_in_a_calm_market():
    calm = {**CTX, "realized_vol": 0.2}
    flip = _flip(lambda m: _hand_gain(0.2, m) - 2.0 - 4.0, 0.0, 1.0)
    assert range_flips("mev_share", flip - 0.01, flip + 0.01, flip, ["ev_gate"], calm, MODEL)
    assert not range_flips("mev_share", 0.0, flip - 0.01, 0.01, ["ev_gate"], calm, MODEL)


def test_rail_gas_cap__flips_where_gas_spend_reaches_the_cap():
    # 0.5 actions an hour over a 24-hour window: 12 actions; the $60 cap is reached at $5 per action,
    # i.e. 5 / (787,760 x 1e-9 x 3000) = 2.1157 gwei at $3,000.
    ctx = {**CTX, "eth_price": 3000.0, "gas_price": 2.0, "actions_per_hour": 0.5}
    flip_gwei = 5.0 / (787_760e-9 * 3000.0)
    assert range_flips("gas_price", flip_gwei * 0.99, flip_gwei * 1.01, flip_gwei, ["rail_gas_cap"], ctx, MODEL)
    assert not range_flips("gas_price", 1.0, flip_gwei * 0.99, 1.5, ["rail_gas_cap"], ctx, MODEL)
    # unknown actions per hour: cannot show the rail stays put
    assert range_flips("gas_price", 1.0, 1.1, 1.05, ["rail_gas_cap"], CTX, MODEL)


def test_rail_pool_share__binds_where_the_band_would_pass_max_pool_share_of_active_liquidity():
    # the band's L = 35,510.4 is 5 % of all active liquidity (its own included) at L_pool = L x 0.95 / 0.05
    flip = agent_liquidity(1e5, 2270.0, 1200) * 0.95 / 0.05          # 674,697
    assert flip == pytest.approx(674_697.3, rel=1e-6)
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
    calm = {**CTX, "realized_vol": 0.2}
    gain, gain_toxic = _hand_gain(0.2), _hand_gain(0.2, 0.05)
    assert gain_toxic - 2.0 > 4.0                                  # passes the default FEE_GATE = 4 throughout
    # a FEE_GATE just under the non-toxic gain less GAS: 5 % toxic flow closes the gate
    strict = DecisionModel(agent=AgentConf(fee_gate_usd=(gain + gain_toxic) / 2 - 2.0, rails=RailsConf()))
    assert range_flips("mev_share", 0.0, 0.05, 0.02, ["ev_gate"], calm, strict)          # gate at the edge
    assert not range_flips("mev_share", 0.0, 0.05, 0.02, ["ev_gate"], calm, MODEL)


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
    args = dict(ctx={**CTX, "realized_vol": 0.2}, model=MODEL, k_sigma=2.0, min_history=3, age_s=3600.0, ttl_s=86400.0)
    assert not could_change_decisions(["mev_share"], result, feeds, **args)
    assert could_change_decisions(["mev_share", "liquidity_depth"], result, feeds, **args)   # unmapped
    assert could_change_decisions(["mev_share"], None, feeds, **args)                        # never ran
    assert could_change_decisions(["mev_share"], result, {}, **args)                         # no decision known
