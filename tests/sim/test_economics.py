"""The simulator's cash flows against closed forms and hand computations (float64)."""

import numpy as np
import pytest

from hbbatch.sim import RolloutSpec, make_params, simulate

QUIET_MARKET = {  # one regime, driftless GBM, no jumps, no mean reversion, constant vol: the LVR setting
    "vol_annual": {"mean_revert": 0.8}, "drift_annual": {"mean_revert": 0.0},
    "mean_reversion_per_day": {"mean_revert": 0.0}, "pool_liquidity_dispersion": 0.0,
    "jumps_per_day": {"mean_revert": 0.0}, "garch_alpha": 0.0, "garch_beta": 0.0, "garch_start_log_sd": 0.0,
    "gas_vol_elasticity": 0.0,
}
ONLY_MEAN_REVERT = {"mean_revert": 1.0, "jumpy": 0.0, "trend_up": 0.0}
NO_RULES = {"rules": {"enabled": []}}


def _sim(n_episodes, n_steps, seed=11, gating="off", market=None, agent=None, floors=None, mix=ONLY_MEAN_REVERT):
    if floors:   # the band at the floor: the bot's width per regime set to it
        agent = {"width": floors, **(agent or {})}
    spec = RolloutSpec(n_episodes=n_episodes, n_steps=n_steps, gating=gating, dtype="float64")
    params = make_params(market={**QUIET_MARKET, **(market or {})}, agent=agent, floors=floors, regime_mix=mix)
    return simulate(spec, params, seed).episodes


def test_economics__lp_loss_equals_lvr_and_its_closed_form():
    width_ticks, sigma, n_steps = 1200, 0.8, 60
    ep = _sim(50_000, n_steps, market={"fee_rate": 0.0}, agent=NO_RULES, floors={"mean_revert": width_ticks})
    assert np.all(ep["time_in_range"] == 1.0)
    # the LP's loss against HODL, without the opening's gas and swap (paid once, at t = 0)
    mean_loss = -(ep["pnl_vs_hodl_usd"] + ep["gas_usd"] + ep["swap_cost_usd"]).mean()
    mean_lvr = ep["lvr_usd"].mean()
    assert mean_loss == pytest.approx(mean_lvr, rel=0.02)
    # closed form for a centred band (Milionis et al.): l/V = sigma^2 / (8 (1 - 1.0001^(-W/4))) per year
    rate_per_year = sigma**2 / (8 * (1 - 1.0001 ** (-width_ticks / 4)))
    horizon_years = n_steps / 525_600
    assert mean_lvr / (ep["capital_usd"][0] * horizon_years) == pytest.approx(rate_per_year, rel=0.02)


def test_economics__flat_price_has_no_impermanent_loss():
    ep = _sim(8, 500, market={"vol_annual": {"mean_revert": 0.0}}, agent=NO_RULES)
    np.testing.assert_allclose(ep["price_end"], ep["price_start"], rtol=1e-12)
    # with the price flat, equity - hodl is exactly the fees earned less the opening's gas and swap
    np.testing.assert_allclose(ep["pnl_vs_hodl_usd"], ep["fees_usd"] - ep["gas_usd"] - ep["swap_cost_usd"], rtol=1e-9)
    assert np.all(ep["fees_usd"] > 0)


def test_economics__fees_match_hand_computation_on_a_flat_price():
    volume_per_day, fee_rate, pool_l = 1.44e8, 0.0005, 1.0e7
    market = {"vol_annual": {"mean_revert": 0.0}, "volume_vol_share": 0.0, "fee_rate": fee_rate,
              "volume_usd_per_day": volume_per_day, "pool_liquidity": pool_l}
    ep = _sim(4000, 100, market=market, agent=NO_RULES)
    # L of $100k on a centred 1200-tick band at P0 (hand formula), share L/(L+L_pool), E[volume noise] = 1
    p0 = 1.0001 ** (round(np.log(2270.0) / np.log(1.0001) / 10) * 10)
    sa, sb, s = np.sqrt(p0 * 1.0001**-600), np.sqrt(p0 * 1.0001**600), np.sqrt(p0)
    liquidity = 100_000 / ((1 / s - 1 / sb) * p0 + (s - sa))
    expected = fee_rate * volume_per_day / 1440 * 100 * liquidity / (liquidity + pool_l)
    assert ep["fees_usd"].mean() == pytest.approx(expected, rel=0.005)


def test_economics__out_of_range_position_earns_no_fees():
    # a strong trend carries the price out of a narrow band; with no rules the agent never follows
    market = {**QUIET_MARKET, "drift_annual": {"mean_revert": 400.0}, "vol_annual": {"mean_revert": 0.05}}
    params = make_params(market=market, agent={**NO_RULES, "width": {"mean_revert": 20}}, floors={"mean_revert": 20},
                         regime_mix=ONLY_MEAN_REVERT)
    long, short = (simulate(RolloutSpec(n_episodes=16, n_steps=n, gating="off", dtype="float64", record_path=True),
                            params, 11) for n in (600, 300))
    lower, upper = long.path.tick_lower[:, 0], long.path.tick_upper[:, 0]
    ticks = np.log(long.path.price_usd / long.episodes["price_start"][:, None]) / np.log(1.0001)
    # the price at step k is the end of step k; step k earns fees on the move from the end of step k-1
    out_after_short = np.all((ticks[:, 299:] >= upper[:, None]) | (ticks[:, 299:] < lower[:, None]), axis=1)
    assert out_after_short.sum() >= 8
    np.testing.assert_array_equal(long.episodes["fees_usd"][out_after_short], short.episodes["fees_usd"][out_after_short])
    assert np.all(short.episodes["fees_usd"] > 0)


def test_economics__gas_is_charged_once_per_action():
    market = {"gas_dispersion": 0.0, "gas_spell_multiplier": 1.0, "gas_usd_median": 3.0, "vol_annual": {"mean_revert": 1.5}}
    ep = _sim(64, 1440, market=market, agent={"rules": {"cooldown_minutes": 5}}, floors={"mean_revert": 100})
    assert ep["actions"].sum() > 100
    np.testing.assert_allclose(ep["gas_usd"], 3.0 * ep["actions"], rtol=1e-12)


def test_economics__attributions_plus_initial_sum_to_pnl_vs_hodl():
    spec = RolloutSpec(n_episodes=64, n_steps=1440, gating="ev", dtype="float64")
    result = simulate(spec, make_params(floors={"mean_revert": 400, "jumpy": 400, "trend_up": 400}), 9)
    per_episode = np.bincount(result.rules["episode"], weights=result.rules["attributed_pnl_usd"])
    assert result.episodes["actions"].sum() > 0
    np.testing.assert_allclose(per_episode, result.episodes["pnl_vs_hodl_usd"], rtol=1e-9, atol=1e-6)
    gas_by_rule = np.bincount(result.rules["episode"], weights=result.rules["gas_usd"])
    np.testing.assert_allclose(gas_by_rule, result.episodes["gas_usd"], rtol=1e-12)


def test_economics__a_floor_off_the_tick_grid_is_rounded_up_not_down():
    ep = _sim(1, 2, market={"vol_annual": {"mean_revert": 0.0}}, agent=NO_RULES, floors={"mean_revert": 1205})
    # a 1210-tick band (the floor rounded up to the 10-tick spacing) holds less liquidity per dollar than 1200
    narrower = _sim(1, 2, market={"vol_annual": {"mean_revert": 0.0}}, agent=NO_RULES, floors={"mean_revert": 1200})
    assert ep["fees_usd"][0] < narrower["fees_usd"][0]


def test_economics__the_initial_position_is_credited_exactly_what_it_earned_before_the_first_action():
    # Independent of the per-step bookkeeping: rebuild HODL from the episode's two prices (it is linear in P)
    # and read equity off the recorded path just before the first action.
    spec = RolloutSpec(n_episodes=64, n_steps=1440, gating="off", dtype="float64", record_path=True)
    narrow = {"mean_revert": 200, "jumpy": 200, "trend_up": 200}
    result = simulate(spec, make_params(agent={"width": narrow}, floors=narrow,
                                        market={"gas_usd_median": 4.7}), 5)   # cheap gas: the agent acts
    ep, path = result.episodes, result.path
    initial = result.rules["attributed_pnl_usd"][result.rules["rule"] == "initial"]
    checked = 0
    for i in range(spec.n_episodes):
        acted = np.flatnonzero(path.action[i] != 0)
        if len(acted) == 0 or acted[0] == 0 or ep["price_end"][i] == ep["price_start"][i]:
            continue
        first = acted[0]
        eth0 = (ep["hodl_usd"][i] - ep["capital_usd"][i]) / (ep["price_end"][i] - ep["price_start"][i])
        usd0 = ep["capital_usd"][i] - eth0 * ep["price_start"][i]
        before = first - 1                      # the path holds the state after each step's move
        expected = path.equity_usd[i, before] - (eth0 * path.price_usd[i, before] + usd0)
        assert initial[i] == pytest.approx(expected, rel=1e-6, abs=1e-6)
        checked += 1
    assert checked >= 20
