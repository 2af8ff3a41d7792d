import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from hbbatch.config import CONF_DIR, register_configs


@pytest.fixture
def compose_cfg():
    """compose(overrides) -> the job config with Hydra's section, as the CLI would build it."""
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield lambda overrides=(): compose("config", overrides=list(overrides), return_hydra_config=True)
    GlobalHydra.instance().clear()
