"""The floor every room stands on: atomic writes and content hashes (imports nothing of hbbatch).

Atomic writes: every file goes to a temporary name in its folder, is flushed to disk, then takes its
name by rename, so a killed run leaves each artifact either complete or absent, never half-written.

Content hashes: sha256 over a canonical JSON form (sorted keys, no whitespace, no NaN). With
`significant_digits`, every float is first rounded to that many significant digits (`round_floats`),
so numbers fitted on another CPU, whose last bits differ by summation order or vector width, hash the
same; ints, strings and booleans are hashed exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


_UMASK = os.umask(0)
os.umask(_UMASK)


def user_cache_dir(name: str, variable: str) -> Path | None:
    """A cache's folder: $`variable` when set (empty: no folder, the cache is off), else
    $XDG_CACHE_HOME/hbbatch/`name` (~/.cache/hbbatch/`name`)."""
    if variable in os.environ:
        return Path(os.environ[variable]).expanduser() if os.environ[variable] else None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hbbatch" / name


def atomic_write(path: Path | str, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)`, then move tmp_path onto `path`; on any error the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; artifacts get the usual permissions
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: Path | str, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path | str, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def _jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN and infinities as null (strict JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path | str, payload: Any) -> Path:
    return write_text(path, json.dumps(_jsonable(payload), indent=2, sort_keys=False, allow_nan=False) + "\n")


def write_parquet(path: Path | str, frame: Any) -> Path:
    return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def read_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text())


def round_floats(value: Any, significant_digits: int) -> Any:
    """`value` with every float rounded to `significant_digits` significant digits (NaN, inf unchanged)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return float(f"{value:.{significant_digits}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: round_floats(v, significant_digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_floats(v, significant_digits) for v in value]
    return value


def canonical_json(obj: Any, significant_digits: int | None = None) -> str:
    """Sorted keys, no whitespace, no NaN: the same content always gives the same bytes."""
    if significant_digits is not None:
        obj = round_floats(obj, significant_digits)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_of(obj: Any, significant_digits: int | None = None) -> str:
    """'sha256:<hex>' of canonical_json(obj, significant_digits)."""
    return "sha256:" + hashlib.sha256(canonical_json(obj, significant_digits).encode("utf-8")).hexdigest()


def evict(folder: Path, keep: int, pattern: str = "*.pkl") -> None:
    """Remove all but the `keep` most recently used entries of a cache folder: the files matching `pattern`
    (by file time: a cache refreshes an entry's time when it uses it)."""
    entries = []
    for path in folder.glob(pattern):
        try:
            entries.append((path.stat().st_mtime_ns, path))
        except OSError:   # removed meanwhile by another process
            continue
    for _, path in sorted(entries, reverse=True)[keep:]:
        path.unlink(missing_ok=True)
