"""The parametric world's price process: GARCH clustering, its long-run level, CRN, and LVR with jumps."""

import numpy as np
import pytest

from hbbatch.sim import RolloutSpec, make_params, simulate

ONLY = lambda regime: {r: float(r == regime) for r in ("mean_revert", "jumpy", "trend_up")}  # noqa: E731
NO_RULES = {"rules": {"enabled": []}}
GARCH = {"garch_alpha": 0.09, "garch_beta": 0.9, "garch_start_log_sd": 0.0}


def _paths(n_episodes, n_steps, market, agent=None, seed=3, mix=ONLY("mean_revert"), gating="off"):
    spec = RolloutSpec(n_episodes=n_episodes, n_steps=n_steps, gating=gating, dtype="float64", record_path=True)
    base = {"drift_annual": {"mean_revert": 0.0},
            "mean_reversion_per_day": {"mean_revert": 0.0}, "pool_liquidity_dispersion": 0.0,
            "garch_alpha": 0.0, "garch_beta": 0.0, "garch_start_log_sd": 0.0,
            "drift_dispersion_annual": {"mean_revert": 0.0, "jumpy": 0.0, "trend_up": 0.0},
            "jumps_per_day": {"mean_revert": 0.0, "jumpy": 0.0, "trend_up": 0.0}}
    params = make_params(market={**base, **market}, agent=agent or NO_RULES, regime_mix=mix, dtype="float64")
    return simulate(spec, params, seed)


def _hourly_returns(result):
    price = np.concatenate([result.episodes["price_start"][:, None], result.path.price_usd], axis=1)
    return np.diff(np.log(price[:, ::60]), axis=1)


def _acf(x, lag):
    x = x - x.mean(axis=1, keepdims=True)
    return float(np.sum(x[:, lag:] * x[:, :-lag]) / np.sum(x * x))


def test_price__garch_clusters_volatility_and_constant_vol_does_not():
    clustered = np.abs(_hourly_returns(_paths(48, 10_080, {**GARCH, "vol_annual": {"mean_revert": 0.8}})))
    constant = np.abs(_hourly_returns(_paths(48, 10_080, {"vol_annual": {"mean_revert": 0.8}})))
    assert _acf(clustered, 1) > 0.1 and _acf(clustered, 24) > 0.05      # real ETH: 0.30 and 0.20
    assert abs(_acf(constant, 1)) < 0.03 and abs(_acf(constant, 24)) < 0.03


def test_price__garch_keeps_the_regimes_long_run_volatility():
    # omega is set so the long-run diffusive variance is vol_annual^2 (start spread 0: the level itself);
    # a less persistent GARCH than the fitted one, whose realised variance is too noisy to check at this size
    quicker = {"garch_alpha": 0.05, "garch_beta": 0.9}
    returns = _hourly_returns(_paths(64, 10_080, {**quicker, "vol_annual": {"mean_revert": 0.6}}))
    realised = float(np.sqrt(np.mean(returns**2) * 8760))
    assert realised == pytest.approx(0.6, rel=0.05)


def test_price__garch_market_paths_do_not_depend_on_agent_settings():
    # cheap gas and narrow bands for the busy agent, so that it acts within the half day where the calm one holds
    market = {**GARCH, "garch_start_log_sd": 0.8, "drift_dispersion_annual": {"trend_up": 5.0},
              "gas_vol_elasticity": 0.3, "gas_usd_median": 1.0}
    mix = {"mean_revert": 0.4, "jumpy": 0.3, "trend_up": 0.3}
    calm = _paths(32, 720, market, agent={"gas_usd": 2.0}, mix=mix, gating="ev")
    busy = _paths(32, 720, market, agent={"gas_usd": 9.0, "width": {"mean_revert": 200, "jumpy": 300, "trend_up": 400},
                                          "rules": {"cooldown_minutes": 5, "edge_fraction": 0.3,
                                                    "enabled": ["out_of_range", "edge"]}},
                  mix=mix, gating="off")
    np.testing.assert_array_equal(calm.path.price_usd, busy.path.price_usd)
    assert not np.array_equal(calm.episodes["actions"], busy.episodes["actions"])


def test_price__drift_is_drawn_per_episode_both_ways():
    result = _paths(400, 1440, {"vol_annual": {"trend_up": 0.05}, "drift_annual": {"trend_up": 0.0},
                                "drift_dispersion_annual": {"trend_up": 20.0}, "jumps_per_day": {"trend_up": 0.0}},
                    mix=ONLY("trend_up"))
    day_return = np.log(result.episodes["price_end"] / result.episodes["price_start"])
    # drift ~ N(0, 20/yr): one day moves by N(0, 20/365) plus small noise
    assert np.std(day_return) == pytest.approx(20 / 365, rel=0.12)
    assert 0.4 < np.mean(day_return > 0) < 0.6


def _hedged_loss(result, params_market, capital):
    """The loss of the LP position hedged each step by shorting the ETH it holds at the step's start,
    computed from the recorded path and the whitepaper's amounts (no simulator code)."""
    p0 = result.episodes["price_start"][:, None]
    price = np.concatenate([p0, result.path.price_usd], axis=1)
    lower, upper = result.path.tick_lower[:, :1], result.path.tick_upper[:, :1]
    sa, sb = np.sqrt(p0 * 1.0001**lower), np.sqrt(p0 * 1.0001**upper)
    s0 = np.sqrt(p0)
    liquidity = capital / (2 * s0 - p0 / sb - sa)         # V = L (2 sqrt P - P / sqrt Pb - sqrt Pa), all deployed
    s = np.clip(np.sqrt(price), sa, sb)
    eth = liquidity * (1 / s - 1 / sb)
    value = liquidity * (eth / liquidity * price + (s - sa))
    hedge_pnl = np.diff(value, axis=1) - eth[:, :-1] * np.diff(price, axis=1)
    root = np.sqrt(price[:, :-1])
    in_range = (root > sa) & (root < sb)
    return -hedge_pnl.sum(axis=1), liquidity, in_range, s


def test_lvr__equals_the_loss_of_a_hedged_position_in_a_jumpy_world():
    sigma, jumps_per_day, jump_std = 0.5, 24.0, 0.01
    market = {"fee_rate": 0.0, "gas_usd_median": 0.0, "vol_annual": {"jumpy": sigma},
              "jumps_per_day": {"jumpy": jumps_per_day}, "jump_size_std": {"jumpy": jump_std},
              "drift_annual": {"jumpy": 0.0}, "mean_reversion_per_day": {"jumpy": 0.0}}
    result = _paths(64, 1440, market, mix=ONLY("jumpy"))
    ep = result.episodes
    assert np.all(ep["actions"] == 1) and np.all(ep["fees_usd"] == 0)   # the opening band only
    loss, liquidity, in_range, s = _hedged_loss(result, market, float(ep["capital_usd"][0]))
    np.testing.assert_allclose(ep["lvr_usd"], loss, rtol=1e-7, atol=1e-7)
    # ... and its expectation is the closed form with the jumps' variance: L sqrt(P)/4 (sigma^2 dt + p s^2)
    dt = 1 / 525_600
    jump_prob = jumps_per_day * 365 * dt
    expected = 0.25 * liquidity * s[:, :-1] * (sigma**2 * dt + jump_prob * jump_std**2) * in_range
    assert ep["lvr_usd"].mean() == pytest.approx(expected.sum(axis=1).mean(), rel=0.1)
    # the diffusion alone (the old lvr_usd) misses most of it in this world
    diffusive_only = (0.25 * liquidity * s[:, :-1] * sigma**2 * dt * in_range).sum(axis=1)
    assert ep["lvr_usd"].mean() > 2.0 * diffusive_only.mean()
