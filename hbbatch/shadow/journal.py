"""The state directory of a shadow run: an append-only decision log and a snapshot to resume from.

    decisions.jsonl   one JSON line per step, appended and fsync'd before the step's snapshot is written
    state.snapshot    the simulator's state (exact bits), the paper position, the source's cursor, rails
                      (one JSON header line, then the arrays' raw bytes: one write, one fsync)
    run.json          what the directory belongs to: the hash of the settings that determine decisions

Order per step: append the decision (fsync); every `shadow.snapshot_every_steps` steps (and at every
manual override and at the end) replace the snapshot atomically. So after a kill at any moment the log
holds every step of the snapshot and at most that many more: on resume those steps are computed again
from the snapshot (overrides taken from the log) and must come out identical to their lines (they are
not appended twice); a torn last line (a kill inside the write) is cut off first. A directory written by other settings is refused, untouched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hbbatch.io import atomic_write, read_json, write_json

DECISIONS, SNAPSHOT, RUN = "decisions.jsonl", "state.snapshot", "run.json"
VOLATILE = ("logged_at",)     # fields that may differ between a run and its resumption


class StateDirError(ValueError):
    """The state directory belongs to other settings or is inconsistent."""


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in VOLATILE}


class Journal:
    def __init__(self, state_dir: Path | str):
        self.dir = Path(state_dir)
        self.decisions_path = self.dir / DECISIONS
        self.snapshot_path = self.dir / SNAPSHOT
        self.run_path = self.dir / RUN
        self._handle = None

    # ------------------------------------------------------------- ownership
    def claim(self, run_info: dict[str, Any]) -> bool:
        """Check (or record) that this directory belongs to these settings; True when resuming."""
        if self.run_path.exists():
            try:
                existing = read_json(self.run_path)
            except (OSError, ValueError) as exc:
                raise StateDirError(f"{self.run_path}: unreadable ({exc}); use a new shadow.state_dir") from None
            if existing.get("config_hash") != run_info["config_hash"]:
                raise StateDirError(
                    f"shadow.state_dir={self.dir} was written by other settings (config hash "
                    f"{existing.get('config_hash')}, these are {run_info['config_hash']}); use a new "
                    "shadow.state_dir or the original settings; nothing was changed")
            return self.snapshot_path.exists()
        if self.decisions_path.exists() or self.snapshot_path.exists():
            raise StateDirError(f"shadow.state_dir={self.dir} holds a decision log but no {RUN}; "
                                "use a new shadow.state_dir; nothing was changed")
        write_json(self.run_path, run_info)
        return False

    # ------------------------------------------------------------- decision log
    def read_decisions(self, repair: bool = True) -> list[dict[str, Any]]:
        """Every complete line; a torn last line (no newline) is cut off when `repair`."""
        if not self.decisions_path.exists():
            return []
        data = self.decisions_path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if repair and len(complete) != len(data):
            with open(self.decisions_path, "r+b") as handle:
                handle.truncate(len(complete))
                os.fsync(handle.fileno())
        records = []
        for number, line in enumerate(complete.splitlines(), start=1):
            try:
                records.append(json.loads(line))
            except ValueError:
                raise StateDirError(f"{self.decisions_path}: line {number} is not JSON; the log was edited; "
                                    "use a new shadow.state_dir") from None
        return records

    def append(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.decisions_path, "ab")
        self._handle.write((json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n").encode())
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    # ------------------------------------------------------------- snapshot
    def save(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        index, chunks, offset = [], [], 0
        for name, value in arrays.items():
            data = np.ascontiguousarray(value).tobytes()
            index.append({"name": name, "dtype": value.dtype.str, "shape": list(value.shape), "offset": offset,
                          "nbytes": len(data)})
            chunks.append(data)
            offset += len(data)
        header = json.dumps({"arrays": index, "meta": meta}, allow_nan=False).encode() + b"\n"
        atomic_write(self.snapshot_path, lambda tmp: tmp.write_bytes(header + b"".join(chunks)))

    def load(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        try:
            raw = self.snapshot_path.read_bytes()
            end = raw.index(b"\n")
            header = json.loads(raw[:end])
            body = memoryview(raw)[end + 1:]
            arrays = {a["name"]: np.frombuffer(body[a["offset"]: a["offset"] + a["nbytes"]], dtype=np.dtype(a["dtype"]))
                      .reshape(a["shape"]).copy() for a in header["arrays"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateDirError(f"{self.snapshot_path}: unreadable snapshot ({exc}); use a new shadow.state_dir") from None
        return arrays, header["meta"]
