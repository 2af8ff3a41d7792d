"""Each config composed once per command, and kept between commands: a reused composition is the config
Hydra would compose again, and anything a composition reads misses."""

import shutil

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import OmegaConf

from hbbatch import cli
from hbbatch.config import CONF_DIR, register_configs
from hbbatch.config.compose import CACHE_VAR, composed_once

JOB = ["+experiment=three_way", "campaign=C", "world=historical", "n_episodes=8"]


@pytest.fixture
def loader():
    register_configs()
    return ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONF_DIR)))


@pytest.fixture(autouse=True)
def stored(tmp_path, monkeypatch):
    """The folder of compositions kept between commands: one of the test's own."""
    folder = tmp_path / "compositions"
    monkeypatch.setenv(CACHE_VAR, str(folder))
    return folder


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


def _same_tree(a, b, parent_a=None, parent_b=None, path="cfg"):
    """Node by node: types, keys in order, values, metadata and flags, each child's parent its own copy's."""
    from omegaconf.base import Node

    assert type(a) is type(b), path
    if not isinstance(a, Node):
        assert a == b, path
        return
    assert set(vars(a)) == set(vars(b)), path
    if parent_a is not None:
        assert vars(a)["_parent"] is parent_a and vars(b)["_parent"] is parent_b, path
    for name in sorted(set(vars(a)) - {"_parent", "_flags_cache", "_content"}):   # the flags' cache refills
        if name == "_metadata":
            meta_a, meta_b = vars(a)[name], vars(b)[name]
            for field in meta_a.__dataclass_fields__:
                assert getattr(meta_a, field) == getattr(meta_b, field), f"{path}: {field}"
        else:
            assert vars(a)[name] == vars(b)[name] and type(vars(a)[name]) is type(vars(b)[name]), f"{path}: {name}"
    content_a, content_b = vars(a).get("_content"), vars(b).get("_content")
    if isinstance(content_a, dict):
        assert list(content_a) == list(content_b), path
        for key in content_a:
            _same_tree(content_a[key], content_b[key], a, b, f"{path}.{key}")
    elif isinstance(content_a, list):
        assert len(content_a) == len(content_b), path
        for i, (x, y) in enumerate(zip(content_a, content_b)):
            _same_tree(x, y, a, b, f"{path}[{i}]")
    else:
        assert content_a == content_b and type(content_a) is type(content_b), path


def test_copied__is_the_same_tree_as_a_deep_copy_and_shares_nothing(loader):
    import copy

    from hbbatch.config.compose import copied

    config = loader.load_configuration("config", JOB, RunMode.MULTIRUN)   # with its hydra node
    copy_ = copied(config)
    _same_tree(copy.deepcopy(config), copy_)
    assert OmegaConf.is_struct(copy_) and OmegaConf.to_yaml(copy_) == OmegaConf.to_yaml(config)
    copy_.hydra.job.num = 7
    copy_.agent.rules.enabled.append("x")
    assert config.hydra.job.get("num") != 7 and "x" not in config.agent.rules.enabled


# ---------------------------------------------------------------- kept between commands

def test_stored__a_later_command_reads_back_the_tree_hydra_composes_and_composes_nothing(loader, compositions,
                                                                                          stored):
    fresh = loader.load_configuration("config", JOB, RunMode.MULTIRUN)   # Hydra's own, outside any command
    with composed_once():
        loader.load_configuration("config", JOB, RunMode.MULTIRUN)
    assert len(compositions) == 2 and len(list(stored.glob("*.pkl"))) == 1
    with composed_once():                                                 # a later command
        again = loader.load_configuration("config", JOB, RunMode.MULTIRUN)
        other = loader.load_configuration("config", [*JOB[:-1], "n_episodes=9"], RunMode.MULTIRUN)
    assert len(compositions) == 3                                         # only the other overrides composed
    # Hydra's composition resolves ${now:} into the config's resolver cache; a kept one holds nothing resolved,
    # so a later command's run folder takes that command's own time
    assert "now" in fresh._metadata.resolver_cache and not again._metadata.resolver_cache
    OmegaConf.clear_cache(fresh)
    _same_tree(fresh, again)
    assert OmegaConf.is_struct(again) and again.n_episodes == 8 and other.n_episodes == 9
    assert OmegaConf.to_yaml(again) == OmegaConf.to_yaml(fresh)


def test_stored__an_edited_config_file_misses(tmp_path, compositions):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    register_configs()
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(conf)))
    with composed_once():
        before = loader.load_configuration("config", JOB, RunMode.RUN)
    (conf / "config.yaml").write_text((conf / "config.yaml").read_text().replace(
        f"n_steps: {before.n_steps}", f"n_steps: {before.n_steps + 1}"))
    with composed_once():
        after = loader.load_configuration("config", JOB, RunMode.RUN)
    assert len(compositions) == 2 and after.n_steps == before.n_steps + 1
    (conf / "campaign" / "extra.yaml").write_text("# a new file: the search path holds another config\n")
    with composed_once():
        loader.load_configuration("config", JOB, RunMode.RUN)
    assert len(compositions) == 3


def test_stored__a_copied_environment_variable_that_changed_composes_again(loader, compositions, monkeypatch):
    job = [*JOB, "hydra.job.env_copy=[HBBATCH_TEST_COPIED]"]
    monkeypatch.setenv("HBBATCH_TEST_COPIED", "first")
    with composed_once():
        loader.load_configuration("config", job, RunMode.RUN)
    with composed_once():
        same = loader.load_configuration("config", job, RunMode.RUN)
    assert len(compositions) == 1 and same.hydra.job.env_set.HBBATCH_TEST_COPIED == "first"
    monkeypatch.setenv("HBBATCH_TEST_COPIED", "second")
    with composed_once():
        changed = loader.load_configuration("config", job, RunMode.RUN)
    assert len(compositions) == 2 and changed.hydra.job.env_set.HBBATCH_TEST_COPIED == "second"


def test_stored__a_damaged_file_is_composed_again_and_replaced(loader, compositions, stored):
    with composed_once():
        expected = loader.load_configuration("config", JOB, RunMode.RUN)
    (path,) = stored.glob("*.pkl")
    path.write_bytes(b"not a config")
    with composed_once():
        again = loader.load_configuration("config", JOB, RunMode.RUN)
    assert len(compositions) == 2 and OmegaConf.to_yaml(again) == OmegaConf.to_yaml(expected)
    assert path.read_bytes() != b"not a config"


def test_stored__off_where_the_variable_is_empty(loader, compositions, stored, monkeypatch):
    monkeypatch.setenv(CACHE_VAR, "")
    for _ in range(2):
        with composed_once():
            loader.load_configuration("config", JOB, RunMode.RUN)
    assert len(compositions) == 2 and not stored.exists()


def test_cli__a_repeated_sweep_composes_nothing_and_runs_in_a_new_folder(tmp_path, compositions, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["+experiment=three_way", "-m", "experiment.worlds=[historical]", "n_episodes=4", "n_steps=20",
            "world.validate=false", "rule_values.enabled=false", "report.html=false", "report.table=false",
            "criteria.enabled=false", f"paths.output_dir={tmp_path / 'out'}"]
    for _ in range(2):
        with pytest.raises(SystemExit) as done:
            cli.main(argv)
        assert done.value.code == 0
    assert len(compositions) == 4   # the first command's: the second read all four back
    runs = sorted((tmp_path / "out" / "three_way").iterdir())
    assert len(runs) == 2 and all(len(list(run.glob("*campaign=*"))) == 3 for run in runs)



def test_stored__a_search_path_it_cannot_read_composes_as_before_and_keeps_nothing(loader, compositions, stored,
                                                                                  monkeypatch):
    from hbbatch.config import compose

    def unreadable(_loader):
        raise ModuleNotFoundError("pkg://not.a.package")

    monkeypatch.setattr(compose, "_sources_digest", unreadable)
    with composed_once():
        config = loader.load_configuration("config", JOB, RunMode.RUN)
    assert len(compositions) == 1 and config.n_episodes == 8 and not stored.exists()


def test_stored__a_keyed_url_typed_as_an_override_never_reaches_the_disk(loader, stored):
    """shadow.rpc_url=https://node.example/v3/KEY (the README redacts it in every log and .hydra/ file):
    the composition holding it is used within the command but not kept."""
    secret = "k3y-7c1e9f0a"
    keyed = ["task=shadow", "shadow.source=rpc", f"shadow.rpc_url=https://node.example/v3/{secret}"]
    with composed_once():
        assert loader.load_configuration("config", keyed, RunMode.RUN).shadow.rpc_url.endswith(secret)
        loader.load_configuration("config", JOB, RunMode.RUN)      # the control: a composition without a URL
    files = list(stored.glob("*.pkl"))
    assert len(files) == 1 and not any(secret.encode() in f.read_bytes() for f in files)
