"""conf/planner/*.yaml compose onto the schema and pass validation against the repository's catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore

from hbbatch.config.planner import PlannerConf
from hbbatch.planner.catalog import load_catalog
from hbbatch.planner.settings import settings_from

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


@dataclass
class PlannerRoot:
    """A primary config holding only the typed planner group, as the tool's schema does."""

    defaults: List[Any] = field(default_factory=lambda: ["_self_", {"planner": "default"}])
    planner: PlannerConf = field(default_factory=PlannerConf)


ConfigStore.instance().store(name="planner_root_for_tests", node=PlannerRoot)


def planner_node(option: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose(config_name="planner_root_for_tests", overrides=[f"planner={option}", *overrides])
    return cfg.planner


@pytest.mark.parametrize("option, mode", [("default", "auto"), ("normal", "normal"), ("high_churn", "high_churn")])
def test_each_option_composes_and_validates(option, mode):
    settings = settings_from(planner_node(option), load_catalog())
    assert settings.mode == mode
    assert settings.limits["normal"].max_priority == "P1" and settings.limits["normal"].max_expensive == 1
    assert settings.limits["high_churn"].max_expensive == 0
    assert settings.ttl_s(load_catalog()["liquidity_depth"]) == 21600


def test_overrides_reach_the_settings():
    node = planner_node("high_churn", "planner.signals.gas_regime=high", "planner.budget_credits_per_day=600")
    assert node.signals.gas_regime == "high"
    assert settings_from(node, load_catalog()).budget_credits_per_day == 600
