"""Each config composed once per command: a reused composition is the config Hydra would compose again."""

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import OmegaConf

from hbbatch import cli
from hbbatch.config import CONF_DIR, register_configs
from hbbatch.config.compose import composed_once

JOB = ["+experiment=three_way", "campaign=C", "world=historical", "n_episodes=8"]


@pytest.fixture
def loader():
    register_configs()
    return ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONF_DIR)))


@pytest.fixture
def compositions(monkeypatch):
    """Every composition Hydra itself carries out (the original load_configuration)."""
    calls = []
    original = ConfigLoaderImpl.load_configuration

    def counted(self, *args, **kwargs):
        calls.append(list(kwargs.get("overrides", args[1] if len(args) > 1 else [])))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ConfigLoaderImpl, "load_configuration", counted)
    return calls


def test_composed_once__a_repeat_is_a_private_copy_of_what_hydra_composes(loader, compositions):
    fresh = loader.load_configuration("config", JOB, RunMode.RUN)
    with composed_once():
        first = loader.load_configuration("config", JOB, RunMode.RUN)
        first.n_episodes = 99                     # a caller changing its config changes nobody else's
        second = loader.load_configuration("config", list(JOB), RunMode.RUN)
        other = loader.load_configuration("config", [*JOB[:-1], "n_episodes=9"], RunMode.RUN)
    assert len(compositions) == 3                 # fresh, the first inside, the other overrides
    assert OmegaConf.to_yaml(second) == OmegaConf.to_yaml(fresh)
    assert second is not first and second.n_episodes == 8 and other.n_episodes == 9
    assert OmegaConf.to_container(second.agent, resolve=True) == OmegaConf.to_container(fresh.agent, resolve=True)
    after = loader.load_configuration("config", JOB, RunMode.RUN)   # outside the block: Hydra's own again
    assert len(compositions) == 4 and OmegaConf.to_yaml(after) == OmegaConf.to_yaml(fresh)


def test_composed_once__a_bad_override_fails_every_time(loader, compositions):
    with composed_once():
        for _ in range(2):
            with pytest.raises(ConfigCompositionException):
                loader.load_configuration("config", ["campaign=Z"], RunMode.RUN)
    assert len(compositions) == 2


def test_composed_once__the_sweep_override_check_runs_on_a_reused_config(loader):
    overrides = ["hydra.verbose=true,false"]      # sweeping Hydra's own configuration: refused in a multirun
    with composed_once():
        loader.load_configuration("config", overrides, RunMode.MULTIRUN, validate_sweep_overrides=False)
        with pytest.raises(ConfigCompositionException, match="Sweeping over Hydra's configuration"):
            loader.load_configuration("config", overrides, RunMode.MULTIRUN)


def test_cli__a_three_job_sweep_composes_the_sweep_and_each_job_once(tmp_path, compositions, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        cli.main(["+experiment=three_way", "-m", "experiment.worlds=[historical]", "n_episodes=4", "n_steps=20",
                  "world.validate=false", "rule_values.enabled=false", "report.html=false", "report.table=false",
                  "criteria.enabled=false", f"paths.output_dir={tmp_path / 'out'}"])
    assert done.value.code == 0
    jobs = [c for c in compositions if any(o.startswith("campaign=") for o in c)]
    assert len(compositions) == 4 and sorted(o for c in jobs for o in c if o.startswith("campaign=")) == [
        "campaign=A", "campaign=B", "campaign=C"]
