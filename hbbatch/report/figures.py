"""report.html's figures, each drawn once per content: a PNG is kept under a key of everything it shows.

Drawing the report's three figures costs a warm run about 0.55 CPU-s, 0.32 of it importing matplotlib. A
figure is a pure function of what it plots (the values, labels and title: its `spec`), of the code that
draws it, of matplotlib's version and of the matplotlibrc files matplotlib reads. The key is a sha256 of
all of them, so a repeated run with the same inputs reads the PNG it drew before (the same bytes: tested)
and does not import matplotlib at all, while any changed value, label, drawing code, matplotlib version or
rc file draws again (the system's font files are not in the key: a matplotlibrc that names a system font
keeps its pictures until the rc file, matplotlib or the figure changes). A kept file that is not a whole PNG is drawn again and replaced: a run never fails on
this cache.

Entries live in `$HBBATCH_FIGURE_CACHE_DIR` (default `$XDG_CACHE_HOME/hbbatch/figures`; empty: off). The
MAX_ENTRIES figures used last are kept (a hit refreshes a file's time; a write removes the oldest beyond).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hbbatch import io as hbio

log = logging.getLogger(__name__)
CACHE_VAR = "HBBATCH_FIGURE_CACHE_DIR"
MAX_ENTRIES = 512   # a figure is 15-40 KB
PNG_START, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


def cache_dir() -> Path | None:
    """Where figures are kept: $HBBATCH_FIGURE_CACHE_DIR (empty: nowhere), else under XDG_CACHE_HOME."""
    return hbio.user_cache_dir("figures", CACHE_VAR)


def _feed(digest: Any, value: Any) -> None:
    """Everything of `value` into the hash, with its type and length, so no two specs collide."""
    if isinstance(value, np.ndarray) or hasattr(value, "to_numpy"):
        array = np.ascontiguousarray(value.to_numpy() if hasattr(value, "to_numpy") else value)
        digest.update(f"array{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes() if array.dtype != object else repr(array.tolist()).encode())
    elif isinstance(value, Mapping):
        digest.update(f"map{len(value)}".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"seq{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    elif value is None or isinstance(value, (str, bool, int, float, np.generic)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise TypeError(f"figure spec: cannot key a {type(value).__name__}")


def _rc_files() -> list[Path]:
    """The matplotlibrc files matplotlib would read besides its own (matplotlib.matplotlib_fname's order)."""
    found = []
    if os.environ.get("MATPLOTLIBRC"):
        path = Path(os.environ["MATPLOTLIBRC"])
        found.append(path / "matplotlibrc" if path.is_dir() else path)
    found.append(Path.cwd() / "matplotlibrc")
    config_home = os.environ.get("MPLCONFIGDIR") or str(
        Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "matplotlib")
    found.append(Path(config_home) / "matplotlibrc")
    return found


@functools.lru_cache(maxsize=None)
def _source(path: str) -> bytes:
    return Path(path).read_bytes()


@functools.lru_cache(maxsize=None)
def _matplotlib_version() -> str:
    from importlib.metadata import version   # without importing matplotlib; about 20 ms a look-up

    return version("matplotlib")


def environment_digest(code_files: Sequence[str]) -> str:
    """What a picture depends on besides its spec: the drawing code's text, matplotlib's version and the
    rc files' contents (read for every figure: a changed style draws again)."""
    digest = hashlib.sha256(f"matplotlib {_matplotlib_version()}".encode())
    for path in (__file__, *code_files):
        digest.update(_source(str(path)))
    for path in _rc_files():
        try:
            digest.update(str(path).encode() + path.read_bytes())
        except OSError:
            digest.update(str(path).encode() + b" absent")
    return digest.hexdigest()


def key_of(name: str, spec: Any, code_files: Sequence[str]) -> str:
    digest = hashlib.sha256(environment_digest(code_files).encode() + name.encode())
    _feed(digest, spec)
    return digest.hexdigest()


def png_bytes(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def img(data: bytes) -> str:
    return f"<img alt='figure' src='data:image/png;base64,{base64.b64encode(data).decode()}'>"


def _read(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not (data.startswith(PNG_START) and data.endswith(PNG_END)):
        log.debug("figure cache: %s is not a whole PNG; drawing again", path)
        return None
    try:
        os.utime(path)   # used now: kept by the eviction
    except OSError:
        pass
    return data


def drawn(name: str, spec: Any, draw: Callable[[Any], Any], code_files: Sequence[str] = ()) -> str:
    """The <img> of the figure `draw(spec)` builds (a matplotlib Figure), read back when the same spec was
    drawn before by the same code, matplotlib and rc files (module docstring). `code_files`: the source
    files of `draw` and what it calls."""
    folder = cache_dir()
    path = folder / f"{key_of(name, spec, code_files)}.png" if folder is not None else None
    data = _read(path) if path is not None else None
    if data is None:
        data = png_bytes(draw(spec))
        if path is not None:
            try:
                hbio.write_bytes(path, data)
                hbio.evict(folder, MAX_ENTRIES, "*.png")
            except OSError as exc:   # a read-only folder: drawn every time
                log.debug("figure cache: %s not written (%s)", path, exc)
    return img(data)
