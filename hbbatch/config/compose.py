"""Each config composed once per command: Hydra's repeated compositions of the same config reuse the first.

Hydra composes the primary config twice (to read `hydra.mode`, then to run) and, in a basic sweep, every
job three times: in our check before any folder is made (hbbatch.config.callback), in the sweeper's check
that the batch composes, and in the launcher. Each composition reads and merges every YAML file and the
typed schema (about 0.13 CPU-s here). A composition is a function of the config loader, the config name,
the overrides, the run mode and the working folder, so inside `composed_once()` the first result for those
is kept and every later request gets a deep copy of it: the same config a fresh composition gives (a test
compares them), never an object another caller changed. A composition that raises is not kept, so a bad
input fails each time exactly as before, and the sweep-override check Hydra runs on request
(`validate_sweep_overrides`) runs on every request, also when the config is reused.

This wraps `ConfigLoaderImpl.load_configuration` of hydra-core 1.3 (pinned in pyproject.toml) for the
duration of one command only.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pickle
from collections.abc import Iterator
from typing import Any


def copied(config: Any) -> Any:
    """A kept composition, for one caller to change as its own: a pickle round trip, the same tree of
    nodes, values, metadata and flags as `copy.deepcopy` gives (tests/config/test_compose.py) in half the
    time (6 against 12 ms for a job's config; a three-job sweep copies 11 times). A config holding
    something pickle cannot carry is deep-copied."""
    try:
        return pickle.loads(pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(config)


@contextlib.contextmanager
def composed_once() -> Iterator[dict[tuple[Any, ...], Any]]:
    """Within the block, a repeated composition returns a copy of the first (module docstring); yields the
    kept configs (keyed by loader, config name, overrides, run mode, from_shell and working folder)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.override_parser.overrides_parser import OverridesParser

    original = ConfigLoaderImpl.load_configuration
    kept: dict[tuple[Any, ...], Any] = {}

    def load_configuration(self: Any, config_name: str | None, overrides: list[str], run_mode: Any,
                           from_shell: bool = True, validate_sweep_overrides: bool = True) -> Any:
        key = (self, config_name, tuple(overrides), run_mode, from_shell, os.getcwd())
        if key not in kept:
            kept[key] = original(self, config_name=config_name, overrides=overrides, run_mode=run_mode,
                                 from_shell=from_shell, validate_sweep_overrides=validate_sweep_overrides)
        elif validate_sweep_overrides:   # the first composition may have skipped this check
            parsed = OverridesParser.create().parse_overrides(overrides=list(overrides))
            self.validate_sweep_overrides_legal(overrides=parsed, run_mode=run_mode, from_shell=from_shell)
        return copied(kept[key])

    ConfigLoaderImpl.load_configuration = load_configuration
    try:
        yield kept
    finally:
        ConfigLoaderImpl.load_configuration = original
        kept.clear()
