"""The world group: every option composes under its own name, historical is the default everywhere."""

import pytest

from hbbatch.config import CONF_DIR

WORLDS = sorted(p.stem for p in (CONF_DIR / "world").glob("*.yaml"))


def test_world__historical_is_the_default_of_every_campaign_and_experiment(compose_cfg):
    assert compose_cfg().world.name == "historical"
    # the optimiser is walk-forward by design: it fits on earlier real windows and scores on later ones
    walk_forward = {"optimise": "replay"}
    for experiment in sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")):
        expected = walk_forward.get(experiment, "historical")
        assert compose_cfg([f"+experiment={experiment}"]).world.name == expected, experiment
    for campaign in ("A", "B", "C"):
        assert compose_cfg([f"campaign={campaign}"]).world.name == "historical", campaign


@pytest.mark.parametrize("world", WORLDS)
def test_world__each_option_sets_its_own_name(compose_cfg, world):
    cfg = compose_cfg([f"world={world}"])
    assert cfg.world.name == world and cfg.world.kind in ("historical", "replay", "parametric")
    assert cfg.world.description


def test_world__the_stress_worlds_are_named_options():
    assert {"stress_down_trend", "stress_high_gas", "stress_fee_switch", "stress_l2_gas", "historical", "replay",
            "regimes"} <= set(WORLDS)


def test_world__a_misspelt_world_key_fails_at_compose_time(compose_cfg):
    with pytest.raises(Exception, match="block_hour"):
        compose_cfg(["world.block_hour=12"])


def test_world__the_replay_worlds_default_window_starts_on_the_pools_first_day(compose_cfg):
    from hbbatch.worlds import pool

    # earlier windows are refused (hbbatch.worlds.build): the default must be the first day with a pool level
    assert compose_cfg(["world=replay"]).world.history_start == "2021-06-03" == str(pool.levels(5)["date"][0].date())
