"""Dataclass schemas for every config group, registered in Hydra's ConfigStore.

Registration is a function, not an import side effect: `hbbatch.config.sim` is imported by the pure
simulator, which must not pull in Hydra.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
RESOURCES = ("conf", "expectations", "queries")


def resource_dir(name: str) -> Path:
    """`conf`, `expectations` or `queries`: the checkout's top-level folder, or, in an installation from a
    wheel (`pip install .`), the copy the build puts inside the package (hbbatch/_resources/<name>: setup.py)."""
    if name not in RESOURCES:
        raise ValueError(f"resource_dir({name!r}): one of {', '.join(RESOURCES)}")
    installed = PACKAGE_DIR / "_resources" / name
    return installed if installed.is_dir() else PACKAGE_DIR.parent / name


CONF_DIR = resource_dir("conf")


def register_configs() -> None:
    """Store the typed root `base_config` and the `hb.*` resolvers (idempotent)."""
    from hydra.core.config_store import ConfigStore

    from hbbatch.config.resolvers import register_resolvers
    from hbbatch.config.schema import Config

    ConfigStore.instance().store(name="base_config", node=Config)
    register_resolvers()
