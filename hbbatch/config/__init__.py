"""Dataclass schemas for every config group, registered in Hydra's ConfigStore.

Registration is a function, not an import side effect: `hbbatch.config.sim` is imported by the pure
simulator, which must not pull in Hydra.
"""

from __future__ import annotations

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def register_configs() -> None:
    """Store the typed root `base_config` and the `hb.*` resolvers (idempotent)."""
    from hydra.core.config_store import ConfigStore

    from hbbatch.config.resolvers import register_resolvers
    from hbbatch.config.schema import Config

    ConfigStore.instance().store(name="base_config", node=Config)
    register_resolvers()
