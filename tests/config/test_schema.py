"""Every experiment composes; typos fail at compose time naming the key; campaigns set what the roadmap says."""

import numpy as np
import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from hbbatch.config import CONF_DIR

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def _sweep_jobs(cfg):
    """The overrides of each job a multirun of this config launches (cartesian product of sweeper.params)."""
    import itertools

    params = cfg.hydra.sweeper.params or {}
    axes = [[f"{k}={v.strip()}" for v in str(values).split(",")] for k, values in params.items()]
    return [list(combo) for combo in itertools.product(*axes)]


def test_experiments__include_the_roadmap_three():
    assert {"long_run", "narrowing", "three_way"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment__composes_with_every_job_of_its_sweep(compose_cfg, experiment):
    cfg = compose_cfg([f"+experiment={experiment}"])
    assert cfg.experiment_name == experiment
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    if not str(cfg.hydra.sweeper.get("_target_", "")).endswith("BasicSweeper"):
        return   # an Optuna search picks its values as it runs (its own tests run one)
    jobs = _sweep_jobs(cfg)
    assert len(jobs) >= 3
    for job in jobs:
        job_cfg = compose_cfg([f"+experiment={experiment}", *job])
        for key in job_cfg:   # every interpolation of the job's own config resolves
            if key != "hydra":
                OmegaConf.to_container(job_cfg[key], resolve=True) if OmegaConf.is_config(job_cfg[key]) else job_cfg[key]


def test_three_way__campaigns_are_a_b_c_as_the_roadmap_defines(compose_cfg):
    a, b, c = (compose_cfg(["+experiment=three_way", f"campaign={x}"]) for x in "ABC")
    assert (a.gating.mode, b.gating.mode, c.gating.mode) == ("off", "ev", "ev")
    assert (b.agent.gas_usd, b.agent.fee_gate_usd) == (2.0, 4.0)
    assert (c.agent.gas_usd, c.agent.fee_gate_usd) == (4.2, 8.4)
    # one world for the three settings: C's calibrated mix belongs to the calibrated world, a scenario
    assert dict(a.regime_mix) == dict(b.regime_mix) == dict(c.regime_mix) == {"mean_revert": 0.4, "jumpy": 0.3,
                                                                               "trend_up": 0.3}
    assert a.seed == b.seed == c.seed == 42
    assert dict(a.floors) == dict(c.floors) == {"mean_revert": 1200, "jumpy": 1400, "trend_up": 1600}


def test_three_way__only_campaign_c_is_calibrated(compose_cfg):
    a, b, c = (compose_cfg(["+experiment=three_way", f"campaign={x}"]) for x in "ABC")
    assert c.calibration.source == "default" and a.calibration.source == b.calibration.source == "none"


def test_narrowing__sweeps_mean_revert_floor_on_campaign_c(compose_cfg):
    cfg = compose_cfg(["+experiment=narrowing", "floors.mean_revert=800"])
    assert cfg.campaign == "C" and cfg.floors.mean_revert == 800
    assert (cfg.floors.jumpy, cfg.floors.trend_up) == (1400, 1600)
    assert cfg.criteria.baseline == "floors.mean_revert=1200"
    assert str(cfg.hydra.sweeper.params["floors.mean_revert"]) == "1200,1000,800"


@pytest.mark.parametrize("experiment, overrides", [
    ("narrowing", ["floors.mean_revert=800"]),
    ("optimise", ["floors.mean_revert=800", "floors.jumpy=900", "floors.trend_up=1000"])])
def test_narrowing__a_narrower_floor_narrows_the_band(compose_cfg, experiment, overrides):
    """A band is max(agent.width, floors) wide: with agent.width at its default (the default floors) a floor
    below it changed nothing, and the three variants of the narrowing experiment were the same episodes."""
    from hbbatch.campaign.stream import SIM_SECTIONS
    from hbbatch.sim import make_params

    cfg = compose_cfg([f"+experiment={experiment}", *overrides])
    params = make_params(**{s: OmegaConf.to_container(cfg[s], resolve=True) for s in SIM_SECTIONS})
    floors = [float(o.split("=")[1]) for o in overrides]
    np.testing.assert_array_equal(np.asarray(params.agent.width_ticks)[:len(floors)], floors)


def test_long_run__defaults_to_500_episodes_and_accepts_1000(compose_cfg):
    assert compose_cfg(["+experiment=long_run"]).n_episodes == 500
    assert compose_cfg(["+experiment=long_run", "n_episodes=1000"]).n_episodes == 1000


def test_defaults__one_campaign_of_a_week_of_minutes(compose_cfg):
    cfg = compose_cfg()
    assert (cfg.task, cfg.campaign, cfg.n_episodes, cfg.n_steps, cfg.seed) == ("campaign", "default", 1000, 10080, 42)
    assert "experiment" not in cfg.hydra.runtime.choices   # `+experiment=` appends it


@pytest.mark.parametrize("override, key", [
    ("agent.gass_usd=3", "gass_usd"),
    ("floors.mean_reverts=800", "mean_reverts"),
    ("market.vol_annual.jumpyy=0.5", "jumpyy"),
    ("criteria.thresholds.widen_share_maxx=0.3", "widen_share_maxx"),
    ("n_episode=10", "n_episode"),
])
def test_typo__fails_at_compose_time_naming_the_key(compose_cfg, override, key):
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg([override])
    assert key in str(info.value) + str(info.value.__cause__)


def test_wrong_type__fails_at_compose_time(compose_cfg):
    with pytest.raises(ConfigCompositionException, match="n_episodes"):
        compose_cfg(["n_episodes=many"])


def test_overrides__reach_the_config(compose_cfg):
    cfg = compose_cfg(["agent.gas_usd=3", "n_episodes=12", "n_steps=99", "floors.mean_revert=1000",
                       "regime_mix=calibrated"])
    assert (cfg.agent.gas_usd, cfg.n_episodes, cfg.n_steps, cfg.floors.mean_revert) == (3.0, 12, 99, 1000)
    assert cfg.regime_mix.mean_revert == 0.49


def test_hb_regime_mix__sets_the_world_every_campaign_runs_in(compose_cfg, monkeypatch):
    monkeypatch.setenv("HB_REGIME_MIX", "mean_revert:0.5, trend_up:0.25,jumpy:0.25")
    for campaign in "AC":   # the mix is the world's: campaigns differ only by their settings
        mix = OmegaConf.to_container(compose_cfg([f"campaign={campaign}"]).regime_mix, resolve=True)
        assert mix == {"mean_revert": 0.5, "jumpy": 0.25, "trend_up": 0.25}


def test_sweep_folders__are_numbered_and_name_their_overrides(compose_cfg):
    from hbbatch.config.resolvers import job_dir

    assert job_dir(2, "campaign=C") == "2_campaign=C"
    assert job_dir(0, "calibration.path=/a/b.json") == "0_calibration.path=_a_b.json"
    assert job_dir(1, "") == "1"
