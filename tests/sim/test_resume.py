"""Counterfactual re-runs resumed from a factual run's checkpoints against whole re-runs of the same episodes."""

import dataclasses
from dataclasses import asdict

import numpy as np
import pytest

from hbbatch.campaign.stream import _sim_params, build_world, rollout_spec
from hbbatch.config.sim import RULES, AgentConf, MarketConf, RegimeMixConf
from hbbatch.config.world import WorldConf
from hbbatch.sim import simulate
from hbbatch.sim.resume import compile_ahead, pack, simulate_resumed, unit_steps
from hbbatch.sim.rollout import simulate_episodes

N_EPISODES, N_STEPS, SEED = 40, 1440, 3
DECISIONS = ("actions", "widens", "emergency_stops", "drawdown_exit", "regime")
MONEY = ("net_pnl_usd", "pnl_vs_hodl_usd", "equity_usd", "fees_usd", "gas_usd", "swap_cost_usd", "price_start",
         "price_end", "max_drawdown", "time_in_range")
SUMS = ("lvr_usd", "realized_vol")   # a step's square added every step: float32 rounding grows to about 2e-5


def _job(world_name: str, dtype: str):
    """A busy agent (short cooldowns, low vol thresholds) in a small world: (spec, params)."""
    world = asdict(WorldConf())
    if world_name == "regimes":
        world.update(name="regimes", kind="parametric")
    agent = asdict(AgentConf())
    agent["warmup_minutes"] = 120
    agent["rules"].update({"cooldown_minutes": 10, "rebalance_after_minutes": 5, "vol_widen_ratio": 1.05,
                           "vol_narrow_ratio": 0.9, "vol_persist_minutes": 20})
    config = {"n_steps": N_STEPS, "n_episodes": N_EPISODES, "seed": SEED, "dtype": dtype, "gating": {"mode": "ev"},
              "market": asdict(MarketConf()), "agent": agent, "regime_mix": asdict(RegimeMixConf()), "world": world,
              "floors": {"mean_revert": 300, "jumpy": 300, "trend_up": 300}}
    spec, world = rollout_spec(config, N_EPISODES), build_world(config)
    bar = int(world.params.steps_per_bar) if world_name == "historical" else 1
    return dataclasses.replace(spec, checkpoint_steps=unit_steps(N_STEPS, bar)), _sim_params(config, world, spec.dtype)


def _fired_runs(rules: dict, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every enabled rule's fired episodes, with that rule switched off (as rule values re-run them)."""
    fires = rules["fires"].reshape(N_EPISODES, -1)
    episodes, masks = [], []
    for index in np.flatnonzero(own):
        fired = np.flatnonzero(fires[:, 1 + index] > 0)
        mask = np.repeat(own[None], len(fired), axis=0)
        mask[:, index] = False
        episodes.append(fired)
        masks.append(mask)
    return np.concatenate(episodes), np.concatenate(masks)


@pytest.fixture(scope="module", params=[("historical", "float32"),
                                        pytest.param(("historical", "float64"), marks=pytest.mark.slow),
                                        ("regimes", "float32"),
                                        pytest.param(("regimes", "float64"), marks=pytest.mark.slow)],
                ids=lambda p: "-".join(p))   # float64: five compiles each, in the slow run
def runs(request):
    resume_spec, params = _job(*request.param)
    spec = dataclasses.replace(resume_spec, checkpoint_steps=0)
    plain = simulate(spec, params, SEED)
    saved = simulate(resume_spec, params, SEED)
    own = np.asarray(params.agent.rule_enabled, bool)
    episodes, masks = _fired_runs(plain.rules, own)
    whole = list(simulate_episodes(spec, params, SEED, episodes, masks))
    whole = {k: np.concatenate([part.episodes[k] for part in whole]) for k in whole[0].episodes}
    resumed = simulate_resumed(resume_spec, params, SEED, saved.checkpoints, episodes, masks).episodes
    one_unit = simulate_resumed(resume_spec, params, SEED, saved.checkpoints, episodes, masks, call_units=1).episodes
    from_open = simulate_resumed(resume_spec, params, SEED, saved.checkpoints, episodes, masks, from_open=True).episodes
    return dict(world=request.param, plain=plain, saved=saved, episodes=episodes, masks=masks, whole=whole,
                resumed=resumed, one_unit=one_unit, from_open=from_open)


def test_resume__unit_steps_cut_episodes_into_whole_draw_blocks_and_bars():
    assert unit_steps(10_080) == 1008 and unit_steps(480) == 48 and unit_steps(1440) == 144
    assert unit_steps(10_080, 60) == 720 and unit_steps(1440, 60) == 240   # hourly bars of minute steps
    assert unit_steps(100) == 0 and unit_steps(16) == 0   # no whole blocks, or one unit only: not resumed


def test_resume__pack_gives_every_segment_its_own_units_and_balances_the_lanes():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 11, size=230)
    lane, offset, most = pack(lengths, 100)
    busy = np.zeros((100, most), int)
    for l, o, n in zip(lane, offset, lengths):
        busy[l, o:o + n] += 1
    assert busy.max() == 1 and busy.sum() == lengths.sum()   # no two segments share a lane's unit
    assert most <= -(-lengths.sum() // 100) + lengths.max()   # within a segment of the perfect packing
    assert most == -(-lengths.sum() // 100)                   # here it is perfect


def test_resume__the_checkpointing_factual_run_is_the_plain_run(runs):
    """Saving the carry every K steps changes no metric of the historical world (the default three-way's),
    to the last bit; in the parametric world money rounds differently (last bits), counts are the same."""
    for key, value in runs["plain"].episodes.items():
        if runs["world"][0] == "regimes" and np.issubdtype(value.dtype, np.floating):
            np.testing.assert_allclose(runs["saved"].episodes[key], value, rtol=1e-5, atol=0.05, err_msg=key)
        else:
            np.testing.assert_array_equal(runs["saved"].episodes[key], value, err_msg=key)
    np.testing.assert_array_equal(runs["saved"].rules["fires"], runs["plain"].rules["fires"])


def test_resume__how_the_segments_are_packed_changes_no_bit(runs):
    """Lanes of one unit a call (a carry handed from call to call at every unit) and of half an episode give
    the same numbers: the loads at unit boundaries and the hand-over between calls are exact."""
    assert len(runs["episodes"]) >= 8
    for key, value in runs["resumed"].items():
        np.testing.assert_array_equal(runs["one_unit"][key], value, err_msg=key)


def test_resume__resumed_runs_equal_whole_re_runs_from_the_start(runs):
    """Against whole re-runs from the start (the oracle: the job's own compiled batch with the rule off) and
    the same runs from the open in the resumed program. In the historical world: every metric to the last
    bit. In the parametric world (where the campaign does not resume, stream.checkpoint_steps): every count
    and label, and money to float rounding of the other compiled program."""
    whole, resumed = runs["whole"], runs["resumed"]
    np.testing.assert_array_equal(resumed["episode"], runs["episodes"])
    for other in (whole, runs["from_open"]):
        if runs["world"][0] == "historical":
            for key, value in other.items():
                np.testing.assert_array_equal(resumed[key], value, err_msg=key)
            continue
        rtol, atol = (1e-5, 0.05) if runs["world"][1] == "float32" else (1e-12, 1e-9)
        for key in DECISIONS:
            np.testing.assert_array_equal(resumed[key], other[key], err_msg=key)
        for key in MONEY:
            np.testing.assert_allclose(resumed[key], other[key], rtol=rtol, atol=atol, err_msg=key)
        for key in SUMS:
            np.testing.assert_allclose(resumed[key], other[key], rtol=10 * rtol, err_msg=key)
    # and a re-run is not simply the factual episode: switching the rule off changed money in most
    factual = {k: v[runs["episodes"]] for k, v in runs["plain"].episodes.items()}
    assert (resumed["net_pnl_usd"] != factual["net_pnl_usd"]).mean() > 0.5


def test_resume__a_run_can_only_switch_rules_off_and_must_resume_at_a_bar_boundary():
    spec, params = _job("historical", "float32")
    spec = dataclasses.replace(spec, n_episodes=4)
    own = np.ones(len(RULES), bool)
    own[0] = False   # the factual run without the first rule: a run with it on is not its checkpoints' episode
    params = params._replace(agent=params.agent._replace(rule_enabled=own))
    saved = simulate(spec, params, SEED)
    with pytest.raises(ValueError, match="switch rules off"):
        simulate_resumed(spec, params, SEED, saved.checkpoints, [0], np.ones((1, len(RULES)), bool))
    off_bars = dataclasses.replace(spec, checkpoint_steps=48)   # not a whole number of 60-step bars
    saved = simulate(off_bars, params, SEED)
    with pytest.raises(ValueError, match="whole number of the world's bars"):
        simulate_resumed(off_bars, params, SEED, saved.checkpoints, [0], own[None])


@pytest.mark.parametrize("runs", [("historical", "float32")], indirect=True, ids=["historical-float32"])
def test_resume__a_re_run_program_compiled_ahead_gives_the_same_bits_and_is_not_compiled_again(runs, monkeypatch):
    """`compile_ahead` knows the re-run program's form before the factual run (a checkpoint has the form of
    an opening carry): the resumed runs then compile nothing of their own and equal the ordinary ones. In the
    world the campaign resumes in (the form does not depend on the world)."""
    import threading

    import jax

    from hbbatch import program_cache

    monkeypatch.setattr(program_cache, "_ahead", {})
    resume_spec, params = _job("historical", "float32")
    spec = dataclasses.replace(resume_spec, n_episodes=N_EPISODES - 3)   # lanes of a form not compiled yet
    compiles = []

    def listener(event, seconds, fun_name="", **_):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append((threading.current_thread().name.startswith("hbbatch-compile"), fun_name))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        compile_ahead(spec, params, SEED)
        resumed = simulate_resumed(spec, params, SEED, runs["saved"].checkpoints, runs["episodes"], runs["masks"])
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    ahead = [name for on_worker, name in compiles if on_worker]
    assert len(ahead) == 1 and ahead[0] not in [name for on_worker, name in compiles if not on_worker], compiles
    for key, value in runs["resumed"].items():   # other lanes: packing changes no bit
        np.testing.assert_array_equal(resumed.episodes[key], value, err_msg=key)
