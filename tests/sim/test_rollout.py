import dataclasses

import numpy as np
import pytest

from hbbatch.sim import REGIMES, RolloutSpec, compiled_batch, make_params, simulate

CAMPAIGNS = {  # the roadmap's A, B, C agent settings
    "A": dict(gating="off", agent={"gas_usd": 2.0, "fee_gate_usd": 4.0}),
    "B": dict(gating="ev", agent={"gas_usd": 2.0, "fee_gate_usd": 4.0}),
    "C": dict(gating="ev", agent={"gas_usd": 4.2, "fee_gate_usd": 8.4}, floors={"mean_revert": 1000}),
}


def _run(spec, seed=42, gating="ev", **sections):
    # the cheap gas the roadmap's settings were written for (the fitted world's $70 gates nearly every action)
    sections = {**sections, "market": {"gas_usd_median": 4.7, **sections.get("market", {})}}
    return simulate(dataclasses.replace(spec, gating=gating, record_path=True), make_params(**sections), seed)


def test_rollout__market_paths_do_not_depend_on_agent_settings(tiny):
    results = {name: _run(tiny, **settings) for name, settings in CAMPAIGNS.items()}
    base = results["A"]
    for name in "BC":
        np.testing.assert_array_equal(results[name].path.price_usd, base.path.price_usd)
        np.testing.assert_array_equal(results[name].episodes["regime"], base.episodes["regime"])
        np.testing.assert_array_equal(results[name].episodes["realized_vol"], base.episodes["realized_vol"])
    # ... while the agents did act differently
    assert not np.array_equal(results["A"].episodes["actions"], results["B"].episodes["actions"])


def test_rollout__regime_mix_changes_regimes_not_the_path_of_a_shared_regime(tiny):
    roadmap = _run(tiny, regime_mix={"mean_revert": 0.4, "jumpy": 0.3, "trend_up": 0.3})
    calibrated = _run(tiny, regime_mix={"mean_revert": 0.49, "jumpy": 0.14, "trend_up": 0.36})
    same = roadmap.episodes["regime"] == calibrated.episodes["regime"]
    assert 0.6 < same.mean() < 1.0   # inverse-CDF coupling: 84 % of episodes share a regime in expectation
    np.testing.assert_array_equal(roadmap.path.price_usd[same], calibrated.path.price_usd[same])


def test_rollout__compiles_once_across_param_values(tiny):
    spec = dataclasses.replace(tiny, n_episodes=16, n_steps=50)
    compiled_batch.cache_clear()
    for gas in (1.0, 2.5, 7.0):
        simulate(spec, make_params(agent={"gas_usd": gas, "fee_gate_usd": 2 * gas}, floors={"jumpy": 1600}), 1)
    fn = compiled_batch(spec)[0]
    assert fn._cache_size() == 1
    simulate(spec, make_params(market={"fee_rate": 0.003}), 2)
    assert fn._cache_size() == 1


def test_rollout__gate_off_as_a_traced_flag_decides_as_the_gate_compiled_out(tiny):
    """Campaign A (floors only) and B share one compiled batch: the traced ev_gate flag switches the gate off
    with the same decisions as a spec that compiles the gate out (money to float64 rounding)."""
    spec = dataclasses.replace(tiny, n_episodes=32, n_steps=1440, dtype="float64")
    sections = dict(agent={"gas_usd": 2.0, "fee_gate_usd": 4.0}, market={"gas_usd_median": 4.7})
    compiled_out = simulate(dataclasses.replace(spec, gating="off"), make_params(**sections), 42)
    compiled_batch.cache_clear()
    flag_off = simulate(spec, make_params(**sections, gating="off"), 42)
    gate_on = simulate(spec, make_params(**sections, gating="ev"), 42)
    assert compiled_batch.cache_info().misses == 1 and compiled_batch(spec)[0]._cache_size() == 1
    for key in ("actions", "widens", "emergency_stops"):
        np.testing.assert_array_equal(flag_off.episodes[key], compiled_out.episodes[key])
    np.testing.assert_array_equal(flag_off.rules["actions"], compiled_out.rules["actions"])
    np.testing.assert_allclose(flag_off.episodes["net_pnl_usd"], compiled_out.episodes["net_pnl_usd"], rtol=1e-12)
    assert flag_off.episodes["actions"].sum() > gate_on.episodes["actions"].sum()   # the gate blocked some


def test_rollout__same_seed_reproduces_and_another_seed_changes(tiny):
    a, b, c = (simulate(tiny, make_params(), seed) for seed in (42, 42, 43))
    for key in ("net_pnl_usd", "fees_usd", "actions", "price_end"):
        np.testing.assert_array_equal(a.episodes[key], b.episodes[key])
    assert not np.array_equal(a.episodes["price_end"], c.episodes["price_end"])


def test_rollout__regimes_follow_the_mix():
    spec = RolloutSpec(n_episodes=4000, n_steps=2)
    regimes = simulate(spec, make_params(regime_mix={"mean_revert": 0.49, "jumpy": 0.14, "trend_up": 0.36}), 5)
    shares = [np.mean(regimes.episodes["regime"] == r) for r in REGIMES]
    np.testing.assert_allclose(shares, [0.49, 0.14, 0.36], atol=0.025)   # 3 s.e. at n = 4000


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rollout__dtype_switch(tiny, dtype):
    spec = dataclasses.replace(tiny, n_episodes=8, n_steps=30, dtype=dtype)
    result = simulate(spec, make_params(), 3)
    assert result.episodes["net_pnl_usd"].dtype == np.dtype(dtype)
    assert np.all(np.isfinite(result.episodes["equity_usd"]))


def test_rollout__rule_table_has_one_row_per_episode_and_owner(tiny):
    result = simulate(tiny, make_params(), 42)
    rules = result.rules
    assert len(rules["episode"]) == tiny.n_episodes * 8
    per_episode_actions = np.bincount(rules["episode"], weights=rules["actions"], minlength=tiny.n_episodes)
    np.testing.assert_array_equal(per_episode_actions, result.episodes["actions"])
