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

Across commands, a composition is also kept on disk (`$HBBATCH_COMPOSITION_CACHE_DIR`, default
`$XDG_CACHE_HOME/hbbatch/compositions`; empty: off), so a repeated command does not compose at all: the
four compositions of a three-job sweep cost a warm three-way about 0.45 s, reading them back about 0.03.
The file's key is everything a composition reads: the config name, the overrides, the run mode, the working
folder, the job's name, Hydra's and OmegaConf's versions, Python's, and the content of every source on
the search path (every file of each `file://` folder and `pkg://` package, by name and bytes, and the
typed configs of Hydra's ConfigStore: hbbatch's schema and the plugins', pickled). A config that copies
environment variables (`hydra.job.env_copy`) is read back only while they still hold the values it
copied; one that names its own search path (`hydra.searchpath`), or a search path of another kind, is not
kept, nor one whose overrides hold a URL (a keyed endpoint typed on the command line stays off the disk). A file that cannot be read is composed again and replaced: a command never fails on this cache.
Like the other caches, the folder must be the user's own (its files are unpickled); it keeps the
MAX_STORED compositions used last.

This wraps `ConfigLoaderImpl.load_configuration` of hydra-core 1.3 (pinned in pyproject.toml) for the
duration of one command only.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.resources
import logging
import os
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
CACHE_VAR = "HBBATCH_COMPOSITION_CACHE_DIR"
MAX_STORED = 128


def copied(config: Any) -> Any:
    """A kept composition, for one caller to change as its own: a pickle round trip, the same tree of
    nodes, values, metadata and flags as `copy.deepcopy` gives (tests/config/test_compose.py) in half the
    time (6 against 12 ms for a job's config; a three-job sweep copies 11 times). A config holding
    something pickle cannot carry is deep-copied."""
    try:
        return pickle.loads(pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(config)


def _add_folder(digest: Any, folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(f"{path.relative_to(folder)}\0{path.stat().st_size}\0".encode())
            digest.update(path.read_bytes())


def _sources_digest(loader: Any) -> str | None:
    """sha256 of everything the loader's search path holds (module docstring); None for a source of
    another kind than file://, pkg:// and the ConfigStore's structured://."""
    from hydra.core.config_store import ConfigStore

    digest = hashlib.sha256()
    for source in loader.repository.get_sources():
        scheme = source.scheme()
        digest.update(f"{scheme}://{source.path}\0".encode())
        if scheme == "structured":
            digest.update(pickle.dumps(ConfigStore.instance().repo, protocol=pickle.HIGHEST_PROTOCOL))
            continue
        if scheme == "file":
            folder = Path(source.path)
        elif scheme == "pkg":
            folder = Path(str(importlib.resources.files(source.path)))
        else:
            return None
        if not folder.is_dir():
            return None
        _add_folder(digest, folder)
    return digest.hexdigest()


def _readable_sources_digest(loader: Any) -> str | None:
    """`_sources_digest`, or None where a source cannot be read (a package path it cannot resolve)."""
    try:
        return _sources_digest(loader)
    except Exception as exc:
        log.debug("composition cache: search path not hashed (%s); composing", exc)
        return None


def _stored_key(config_name: str | None, overrides: list[str], run_mode: Any, from_shell: bool,
                sources: str | None) -> str | None:
    """The file name of a composition kept on disk, or None where it is not kept (module docstring);
    `sources`: the loader's `_readable_sources_digest`."""
    import hydra
    import omegaconf
    from hydra import version
    from hydra.core.utils import JobRuntime
    from hydra.types import RunMode

    if sources is None or any(item.lstrip("+~").startswith("hydra.searchpath") for item in overrides):
        return None
    if any("://" in item for item in overrides):
        return None   # a URL typed as an override may carry a key (/v3/KEY, a webhook's token): never on disk
    text = repr((config_name, tuple(overrides), RunMode(run_mode).name, from_shell, os.getcwd(),
                 JobRuntime().get("name"), hydra.__version__, version.getbase(), omegaconf.__version__,
                 sys.version, sources))
    return hashlib.sha256(text.encode()).hexdigest()


def _read_stored(path: Path) -> Any | None:
    """A kept composition, or None when there is none, it cannot be read, or the environment variables it
    copied changed since."""
    if not path.exists():
        return None
    try:
        config = pickle.loads(path.read_bytes())
        job = config.hydra.job
        if any(os.environ.get(str(key)) != job.env_set.get(key) for key in job.env_copy):
            return None
        os.utime(path)   # used now: the last to be evicted
        return config
    except Exception as exc:   # stale or damaged: composed again and replaced
        log.debug("composition cache: %s unreadable (%s); composing", path, exc)
        return None


def _store(path: Path, config: Any) -> None:
    from omegaconf import OmegaConf

    from hbbatch import io as hbio   # here, not at the top: the command line's import stays NumPy-free

    if config.hydra.get("searchpath"):
        return   # its own search path: folders the key does not cover
    try:
        kept = copied(config)
        OmegaConf.clear_cache(kept)   # nothing resolved yet is kept (a ${now:} stays unresolved)
        path.parent.mkdir(parents=True, exist_ok=True)
        hbio.write_bytes(path, pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL))
        hbio.evict(path.parent, MAX_STORED)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:   # costs time, not correctness
        log.debug("composition cache: %s not written (%s)", path, exc)


@contextlib.contextmanager
def composed_once() -> Iterator[dict[tuple[Any, ...], Any]]:
    """Within the block, a repeated composition returns a copy of the first (module docstring); yields the
    kept configs (keyed by loader, config name, overrides, run mode, from_shell and working folder)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hbbatch import io as hbio

    original = ConfigLoaderImpl.load_configuration
    kept: dict[tuple[Any, ...], Any] = {}
    folder = hbio.user_cache_dir("compositions", CACHE_VAR)
    digests: dict[Any, str | None] = {}   # loader -> its search path's digest: the files are read once a command

    def sources_of(loader: Any) -> str | None:
        if loader not in digests:
            digests[loader] = _readable_sources_digest(loader)
        return digests[loader]

    def validate(self: Any, overrides: list[str], run_mode: Any, from_shell: bool) -> None:
        parsed = OverridesParser.create().parse_overrides(overrides=list(overrides))
        self.validate_sweep_overrides_legal(overrides=parsed, run_mode=run_mode, from_shell=from_shell)

    def compose(self: Any, config_name: str | None, overrides: list[str], run_mode: Any, from_shell: bool,
                validate_sweep_overrides: bool) -> Any:
        name = _stored_key(config_name, overrides, run_mode, from_shell, sources_of(self)) if folder else None
        if name is not None:
            config = _read_stored(folder / f"{name}.pkl")
            if config is not None:
                if validate_sweep_overrides:   # the stored composition may have skipped this check
                    validate(self, overrides, run_mode, from_shell)
                return config
        config = original(self, config_name=config_name, overrides=overrides, run_mode=run_mode,
                          from_shell=from_shell, validate_sweep_overrides=validate_sweep_overrides)
        if name is not None:
            _store(folder / f"{name}.pkl", config)
        return config

    def load_configuration(self: Any, config_name: str | None, overrides: list[str], run_mode: Any,
                           from_shell: bool = True, validate_sweep_overrides: bool = True) -> Any:
        key = (self, config_name, tuple(overrides), run_mode, from_shell, os.getcwd())
        if key not in kept:
            kept[key] = compose(self, config_name, overrides, run_mode, from_shell, validate_sweep_overrides)
        elif validate_sweep_overrides:   # the first composition may have skipped this check
            validate(self, overrides, run_mode, from_shell)
        return copied(kept[key])

    ConfigLoaderImpl.load_configuration = load_configuration
    try:
        yield kept
    finally:
        ConfigLoaderImpl.load_configuration = original
        kept.clear()
