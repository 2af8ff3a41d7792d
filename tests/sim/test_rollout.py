import dataclasses

import numpy as np
import pytest

from hbbatch.sim import REGIMES, RolloutSpec, compiled_batch, make_params, simulate
from hbbatch.sim.rollout import simulate_episodes
from hbbatch.sim.types import RULES

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


def _same_rows(result, other, order):
    """Every episode and rule column of `result` equals `other`'s rows `order`, bit for bit."""
    for key, value in result.episodes.items():
        np.testing.assert_array_equal(value, np.asarray(other.episodes[key])[order], err_msg=key)
    rows = (np.asarray(order)[:, None] * 8 + np.arange(8)).reshape(-1)   # 8 owners per episode
    for key, value in result.rules.items():
        np.testing.assert_array_equal(value, np.asarray(other.rules[key])[rows], err_msg=key)


def test_rollout__explicit_episodes_are_the_full_runs_episodes_bit_for_bit_at_its_layout(tiny):
    """A subset of episodes, in any order and padded to the full run's shape, is the full run's episodes."""
    spec = dataclasses.replace(tiny, n_episodes=40, n_steps=600)
    params = make_params(market={"gas_usd_median": 4.7})
    full = simulate(spec, params, 42)
    order = np.array([37, 2, 19, 5, 30, 11, 23])
    parts = list(simulate_episodes(spec, params, 42, order))
    assert len(parts) == 1 and list(parts[0].episodes["episode"]) == list(order)
    _same_rows(parts[0], full, order)
    assert full.episodes["actions"][order].sum() > 0   # the agent acted in them: more than the path is compared
    # calls of 3 (another layout): the same episodes, rows in the order given, across calls
    small = dataclasses.replace(spec, n_episodes=3)
    parts = list(simulate_episodes(small, params, 42, order))
    assert [len(p.episodes["episode"]) for p in parts] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([p.episodes["episode"] for p in parts]), order)
    np.testing.assert_array_equal(np.concatenate([p.episodes["price_end"] for p in parts]),
                                  full.episodes["price_end"][order])


def test_rollout__per_episode_rule_masks_equal_whole_runs_with_those_rules(tiny):
    """One call in which some episodes run without a rule equals separate runs of each rule set."""
    spec = dataclasses.replace(tiny, n_episodes=24, n_steps=720)
    sections = dict(market={"gas_usd_median": 4.7}, agent={"rules": {"vol_widen_ratio": 1.05, "cooldown_minutes": 10}})
    params = make_params(**sections)
    enabled = np.asarray(params.agent.rule_enabled)
    without_widen = enabled & (np.asarray(RULES) != "vol_widen")
    assert enabled.sum() == without_widen.sum() + 1
    off = simulate(spec, make_params(**{**sections, "agent": {"rules": {
        **sections["agent"]["rules"], "enabled": [r for r, on in zip(RULES, without_widen) if on]}}}), 42)
    on = simulate(spec, params, 42)
    masks = np.where((np.arange(spec.n_episodes) % 3 == 0)[:, None], without_widen, enabled)
    mixed = simulate(spec, params, 42, rule_enabled=masks)
    picked = np.arange(spec.n_episodes) % 3 == 0
    for key in ("net_pnl_usd", "pnl_vs_hodl_usd", "actions", "widens", "equity_usd"):
        np.testing.assert_array_equal(mixed.episodes[key][picked], off.episodes[key][picked], err_msg=key)
        np.testing.assert_array_equal(mixed.episodes[key][~picked], on.episodes[key][~picked], err_msg=key)
    assert not np.array_equal(on.episodes["widens"][picked], off.episodes["widens"][picked])   # the rule mattered


@pytest.mark.parametrize("episodes, masks, message", [
    ([1, 2], None, "2 episode indices for a batch of 3"),
    ([1, -2, 3], None, "in \\[0, 2\\^32\\)"),
    ([1.0, 2.0, 3.0], None, "integers"),
    ([1, 2, 3], np.ones((3, 2), bool), "rule_enabled has shape"),
])
def test_rollout__explicit_episodes_and_masks_are_checked_before_anything_runs(episodes, masks, message):
    with pytest.raises(ValueError, match=message):
        simulate(RolloutSpec(n_episodes=3, n_steps=4), make_params(), 1, episodes=episodes, rule_enabled=masks)


INTERRUPTED_BATCH = """
import os, signal, sys, threading, time
from hbbatch.sim import RolloutSpec, make_params, rollout
import jax
spec, params = RolloutSpec(n_episodes=999, n_steps=40_000), make_params()   # padded to 1,000 lanes
rollout.compile_ahead(spec, params, 1)
rollout._dispatch(spec, params, 1)   # waits for the compile ahead
computing = []
real_dispatch = rollout._dispatch
def dispatch(*args, **kwargs):
    out = real_dispatch(*args, **kwargs)   # dispatched: computing on XLA's threads
    computing.append(out)
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()   # Ctrl-C, as a terminal sends it
    return out
rollout._dispatch = dispatch
try:
    rollout.simulate(spec, params, 2)
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted while computing:", not all(x.is_ready() for x in jax.tree.leaves(computing)), flush=True)
os._exit(0)   # as the command's cancel does: XLA's threads may still run the batch
"""


def test_rollout__a_ctrl_c_is_raised_while_a_batch_computes_not_after_it():
    """Python raises a signal only between bytecodes of the main thread: `simulate` waits for its batch in
    steps of WAIT_S (`fetch`), so a Ctrl-C during a long batch (here 40 M episode-steps, seconds) is a
    KeyboardInterrupt at once (dropping the padding on the device first, it came once the batch was done)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", INTERRUPTED_BATCH], capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith("interrupted while computing: True"), done.stdout + done.stderr[-2000:]
