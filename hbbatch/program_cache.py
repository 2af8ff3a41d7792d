"""Compiled programs kept between runs, so a repeated run neither traces nor lowers its batch again.

JAX's persistent compilation cache (which the command line switches on: `JAX_COMPILATION_CACHE_DIR`)
saves XLA's compile, but every process still traces the Python program and lowers it to find the cache
key (about 0.7 s a process for the rollout here), then reads the executable back. This cache sits before
all of that. It keeps a jitted function's compiled executable, serialized by JAX's own
`jax.experimental.serialize_executable`, under a key made of everything the program can depend on; a
later process with the same key loads that executable and calls it: no tracing, no lowering, no look-up
in JAX's cache. (It used to keep the traced `jax.export` module, which a later process still had to
deserialize, lower and find in JAX's cache: about 0.25 s a program more, measured in bench/README.md.)

The key: the text of every hbbatch source file (any edit anywhere misses), the jax, jaxlib and numpy versions,
the caller's static key (the rollout's spec), the arguments' tree structure, shapes, dtypes and
shardings, JAX's configuration, XLA_FLAGS, the devices and the CPU's model and instruction-set flags (an
executable is machine code for this CPU: a cache folder copied to another machine misses instead of
running code the CPU lacks). It is on where JAX's persistent cache is (a sub-folder `compiled/` of it)
and off where that is off, as in the test suite. A file that cannot be read is compiled again and
rewritten: a run never fails on this cache. Like JAX's own cache, the folder must be the user's own (its
files are unpickled and hold machine code). It keeps the MAX_ENTRIES programs used last (a hit refreshes
a file's time; a write removes the oldest beyond it): a rollout's executable is 2-3 MB, so at most
about 200 MB, and the command line bounds JAX's own cache too (`JAX_COMPILATION_CACHE_MAX_SIZE`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import platform
from pathlib import Path
from typing import Any, Callable

from hbbatch import io as hbio

log = logging.getLogger(__name__)
FOLDER = "compiled"
MAX_ENTRIES = 64
_loaded: dict[str, tuple[Callable, Any]] = {}   # key -> (jitted call of the module, output tree), this process


def cache_dir() -> Path | None:
    """Where compiled programs are kept: beside JAX's persistent compilation cache; None when that is off."""
    import jax

    jax_dir = jax.config.jax_compilation_cache_dir   # JAX's own state (an environment set after import is not)
    return Path(jax_dir) / FOLDER if jax_dir else None


def _cpu_features() -> str:
    """The CPU's model and instruction-set flags (Linux's /proc/cpuinfo; elsewhere the platform's names)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    wanted = [line for line in lines if line.split(":")[0].strip() in ("model name", "flags", "Features")]
    return "\n".join(sorted(set(wanted))) or f"{platform.machine()} {platform.processor()}"


@functools.lru_cache(maxsize=1)
def _process_fingerprint() -> str:
    """What is fixed for the process: hbbatch's sources, jax, jaxlib and numpy versions, XLA flags, devices, CPU."""
    import jax
    import jaxlib
    import numpy

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    devices = [(d.platform, d.device_kind, d.id) for d in jax.devices()]
    versions = (jax.__version__, jaxlib.__version__, numpy.__version__)
    for part in (*versions, os.environ.get("XLA_FLAGS", ""), repr(devices), _cpu_features()):
        digest.update(part.encode())
    return digest.hexdigest()


def key_of(static_key: str, leaves: list, treedef) -> str:
    """The cache key of a call: the process's fingerprint, the caller's static key, the arguments' form."""
    import jax

    shapes = [(tuple(x.shape), str(x.dtype), bool(getattr(x, "weak_type", False)), repr(getattr(x, "sharding", None)))
              for x in leaves]
    config = sorted((k, repr(v)) for k, v in jax.config.values.items())
    text = repr((_process_fingerprint(), static_key, str(treedef), shapes, config))
    return hashlib.sha256(text.encode()).hexdigest()


def _compile(jitted: Callable, leaves: list, treedef) -> tuple[tuple, Any, Callable]:
    """jitted traced and compiled on flat arguments: (the serialized executable and its flat trees, the
    output's tree structure, the compiled call)."""
    import jax
    from jax.experimental import serialize_executable

    out_tree = []

    def flat(*flat_args):
        out_leaves, tree = jax.tree.flatten(jitted(*jax.tree.unflatten(treedef, flat_args)))
        out_tree.append(tree)
        return out_leaves

    compiled = jax.jit(flat).lower(*leaves).compile()
    return serialize_executable.serialize(compiled), out_tree[0], compiled


def _callable(serialized: tuple) -> Callable:
    from jax.experimental import serialize_executable

    return serialize_executable.deserialize_and_load(*serialized)


def _entry(jitted: Callable, static_key: str, leaves: list, treedef, folder: Path) -> tuple[Callable, Any]:
    """(the compiled call, the output's tree) for a call's key: from this process, the folder, or compiled."""
    key = key_of(static_key, leaves, treedef)
    if key not in _loaded:
        path = folder / f"{key}.pkl"
        entry = None
        if path.exists():
            try:
                serialized, out_tree = pickle.loads(path.read_bytes())
                entry = (_callable(serialized), out_tree)
                os.utime(path)   # used now: the last to be evicted
            except Exception as exc:   # stale or damaged: compile again and replace it
                log.debug("compiled-program cache: %s unreadable (%s); compiling", path, exc)
        if entry is None:
            serialized, out_tree, compiled = _compile(jitted, leaves, treedef)
            entry = (compiled, out_tree)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                hbio.write_bytes(path, pickle.dumps((serialized, out_tree)))
                hbio.evict(folder, MAX_ENTRIES)
            except OSError as exc:   # a read-only folder: this process keeps it in memory only
                log.debug("compiled-program cache: %s not written (%s)", path, exc)
        _loaded[key] = entry
    return _loaded[key]


def call(jitted: Callable, static_key: str, *args):
    """`jitted(*args)`, through a compiled program from the cache when the key matches (compiled and saved
    when it does not). Without a cache folder, or where the program cannot be serialized, `jitted(*args)`."""
    import jax

    folder = cache_dir()
    if folder is None:
        return jitted(*args)
    leaves, treedef = jax.tree.flatten(args)
    try:
        fn, out_tree = _entry(jitted, static_key, leaves, treedef, folder)
    except Exception as exc:   # e.g. a program JAX cannot serialise: the ordinary path
        log.debug("compiled-program cache: not used (%s)", exc)
        return jitted(*args)
    return jax.tree.unflatten(out_tree, fn(*leaves))
