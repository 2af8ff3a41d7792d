"""Traced programs kept between runs, so a repeated run does not trace its batch in Python again.

JAX's persistent compilation cache (which the command line switches on: `JAX_COMPILATION_CACHE_DIR`)
saves XLA's compile, but every process still traces the Python program to find the cache key: about
0.7 s a process for the rollout here, the largest part of a warm run's compile time. This cache sits one
step earlier. It keeps a jitted function's traced program as a serialized `jax.export` module (StableHLO,
the portable form JAX documents for this) under a key made of everything the trace can depend on; a
later process with the same key lowers that module (its XLA compile still comes from JAX's cache) instead
of tracing again. (Keeping the compiled executable itself, by `jax.experimental.serialize_executable`,
would also save the lowering, about 0.05 s a program here, but an executable that JAX had read from its
own cache serialized without its kernels: the next process loaded it and failed with "Function ... not
found". The portable module has no such failure.)

The key: the text of every hbbatch source file (any edit anywhere misses), the jax, jaxlib and numpy versions,
the caller's static key (the rollout's spec), the arguments' tree structure, shapes, dtypes and
shardings, JAX's configuration, XLA_FLAGS and the devices. It is on where JAX's persistent cache is (a
sub-folder `traced/` of it) and off where that is off, as in the test suite. A file that cannot be read
is traced again and rewritten: a run never fails on this cache. Like JAX's own cache, the folder must
be the user's own (its files are unpickled). It keeps the MAX_ENTRIES programs used last (a hit refreshes
a file's time; a write removes the oldest beyond it), so every edit's new keys never pile up: a program is
about 0.1 MB, and the command line bounds JAX's own cache too (`JAX_COMPILATION_CACHE_MAX_SIZE`).

Programs can also be compiled ahead (`prepare`): a job knows its programs' shapes before it validates its
world, so their tracing and XLA compiles run on worker threads meanwhile (XLA's compile releases the GIL
and uses one core), and the first `call` with that key waits for its program instead of compiling it. This
part works with or without the folder.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import pickle
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from hbbatch import io as hbio

log = logging.getLogger(__name__)
FOLDER = "traced"
MAX_ENTRIES = 256
_loaded: dict[str, tuple[Callable, Any]] = {}   # key -> (jitted call of the module, output tree), this process
AHEAD_WORKERS = 2   # programs compiled ahead at once: a job's rollout and its rule values' re-run program
AHEAD_KEPT = 8   # compiled-ahead programs a process keeps (the oldest dropped: a later call compiles as usual)
_ahead: dict[str, Future] = {}   # key -> its compile ahead: the compiled call of the same arguments
_ahead_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def cache_dir() -> Path | None:
    """Where traced programs are kept: beside JAX's persistent compilation cache; None when that is off."""
    import jax

    jax_dir = jax.config.jax_compilation_cache_dir   # JAX's own state (an environment set after import is not)
    return Path(jax_dir) / FOLDER if jax_dir else None


@functools.lru_cache(maxsize=1)
def _process_fingerprint() -> str:
    """What is fixed for the process: hbbatch's sources, jax, jaxlib and numpy versions, XLA flags, devices."""
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
    for part in (*versions, os.environ.get("XLA_FLAGS", ""), repr(devices)):
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


def _export(jitted: Callable, leaves: list, treedef) -> tuple[bytes, Any]:
    """jitted traced on flat arguments: (the serialized module, the output's tree structure)."""
    import jax
    from jax import export

    out_tree = []

    def flat(*flat_args):
        out_leaves, tree = jax.tree.flatten(jitted(*jax.tree.unflatten(treedef, flat_args)))
        out_tree.append(tree)
        return out_leaves

    exported = export.export(jax.jit(flat))(*leaves)
    return bytes(exported.serialize()), out_tree[0]


def _callable(blob: bytes) -> Callable:
    import jax
    from jax import export

    return jax.jit(export.deserialize(bytearray(blob)).call)


def _entry(jitted: Callable, static_key: str, leaves: list, treedef, folder: Path) -> tuple[Callable, Any]:
    """(the module's jitted call, the output's tree) for a call's key: from this process, the folder, or traced."""
    key = key_of(static_key, leaves, treedef)
    if key not in _loaded:
        path = folder / f"{key}.pkl"
        entry = None
        if path.exists():
            try:
                blob, out_tree = pickle.loads(path.read_bytes())
                entry = (_callable(blob), out_tree)
                os.utime(path)   # used now: the last to be evicted
            except Exception as exc:   # stale or damaged: trace again and replace it
                log.debug("traced-program cache: %s unreadable (%s); tracing", path, exc)
        if entry is None:
            blob, out_tree = _export(jitted, leaves, treedef)
            entry = (_callable(blob), out_tree)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                hbio.write_bytes(path, pickle.dumps((blob, out_tree)))
                hbio.evict(folder, MAX_ENTRIES)
            except OSError as exc:   # a read-only folder: this process keeps it in memory only
                log.debug("traced-program cache: %s not written (%s)", path, exc)
        _loaded[key] = entry
    return _loaded[key]


def _compile(jitted: Callable, static_key: str, args: tuple, folder: Path | None,
             context: Callable[[], contextlib.AbstractContextManager]) -> Callable:
    """`jitted` compiled for exactly the form of `args`, as a function of such arguments: the program `call`
    would run (the traced program through the folder where there is one, else `jitted` itself)."""
    import jax

    with context():
        if folder is not None:
            leaves, treedef = jax.tree.flatten(args)
            try:
                fn, out_tree = _entry(jitted, static_key, leaves, treedef, folder)
                compiled = fn.lower(*leaves).compile()
                return lambda *a: jax.tree.unflatten(out_tree, compiled(*jax.tree.leaves(a)))
            except Exception as exc:   # as in `call`: the ordinary path
                log.debug("traced-program cache: not used ahead (%s)", exc)
        return jitted.lower(*args).compile()


def prepare(jitted: Callable, static_key: str, *args,
            context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> None:
    """Start compiling `jitted` for arguments of the form of `args` (their shapes, dtypes and shardings;
    the values do not matter) on a worker thread, inside `context()` (the caller's JAX settings: a worker
    thread does not inherit them); the first `call` with the same static key and form uses it. Once per
    key per process; a failure is only logged (that call then compiles as usual)."""
    import jax

    global _pool
    leaves, treedef = jax.tree.flatten(args)
    key = key_of(static_key, leaves, treedef)
    with _ahead_lock:
        if key in _ahead:
            return
        if _pool is None:
            _pool = ThreadPoolExecutor(AHEAD_WORKERS, thread_name_prefix="hbbatch-compile")
        _ahead[key] = _pool.submit(_compile, jitted, static_key, args, cache_dir(), context)
        for old in list(_ahead)[:-AHEAD_KEPT]:
            del _ahead[old]


def compiling() -> bool:
    """Whether a compile ahead is still under way (a worker thread the process would wait for at exit)."""
    with _ahead_lock:
        return any(not future.done() for future in _ahead.values())


def _compiled_ahead(key: str) -> Callable | None:
    """The program compiled ahead for a key (waiting for it if it is still compiling), or None."""
    with _ahead_lock:
        future = _ahead.get(key)
    if future is None:
        return None
    try:
        return future.result()
    except Exception as exc:
        log.debug("compile ahead failed (%s); compiling now", exc)
        with _ahead_lock:
            _ahead.pop(key, None)
        return None


def call(jitted: Callable, static_key: str, *args):
    """`jitted(*args)`, through a program compiled ahead (`prepare`) or a traced program from the cache when
    the key matches (traced and saved when it does not). Without a cache folder, or where the program
    cannot be exported, `jitted(*args)`."""
    import jax

    leaves, treedef = jax.tree.flatten(args)
    if _ahead:
        compiled = _compiled_ahead(key_of(static_key, leaves, treedef))
        if compiled is not None:
            return compiled(*args)
    folder = cache_dir()
    if folder is None:
        return jitted(*args)
    try:
        fn, out_tree = _entry(jitted, static_key, leaves, treedef, folder)
    except Exception as exc:   # e.g. a program jax.export cannot serialise: the ordinary path
        log.debug("traced-program cache: not used (%s)", exc)
        return jitted(*args)
    return jax.tree.unflatten(out_tree, fn(*leaves))
