"""The embedded default: real results committed under hbbatch/data/snapshots/, read as Dune returned them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from hbbatch.calibration.errors import SourceError
from hbbatch.calibration.results import QueryResult
from hbbatch.planner.catalog import QuerySpec

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "data" / "snapshots"
REPO_ROOT = SNAPSHOT_DIR.parents[2]


class SnapshotSource:
    """Each snapshot answers its query for the window the shipped data covers; its own parameters say which."""

    kind = "snapshot"

    def __init__(self, snapshot_dir: Path | str | None = None):
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir else SNAPSHOT_DIR

    def fetch(self, spec: QuerySpec, overrides: Mapping[str, Any]) -> QueryResult:
        path = self.snapshot_dir / f"{spec.name}.json"
        try:
            payload = json.loads(path.read_text())
        except FileNotFoundError:
            raise SourceError(f"{path}: no snapshot for query {spec.name}; rebuild with "
                              f"python -m hbbatch.calibration.build_snapshots or drop it from calibration.queries") from None
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}); "
                              f"rebuild it with python -m hbbatch.calibration.build_snapshots") from None
        block = payload.get("hbbatch") if isinstance(payload, dict) else None
        if not isinstance(block, dict) or not isinstance(block.get("parameters"), dict):
            raise SourceError(f"{path}: field 'hbbatch.parameters' is missing; a snapshot must say which window "
                              f"it answers (rebuild it)")
        answered = block["parameters"]
        for key, value in overrides.items():
            if str(answered.get(key)) != str(value):
                raise SourceError(f"calibration.parameters.{key}={value!r}: the snapshot of {spec.name} answers "
                                  f"{key}={answered.get(key)!r} ({path}); use calibration.source=dune or files "
                                  f"for other parameters")
        provenance = {k: v for k, v in block.items() if k != "parameters"}
        return QueryResult.from_payload(spec.name, payload, source=self.kind, origin=_shown(path),
                                        parameters=dict(block["parameters"]), provenance=provenance)


def _shown(path: Path) -> str:
    """The committed snapshots by their repository path, so a report does not carry a machine's layout."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
