"""A folder of Dune CSV exports, one `<query>.csv` per query.

Dune's export format (see ../shared/data/dune_export_samples_base/): a header of column names, every
value as text, timestamps as `2024-12-16 05:01:53.000 UTC`, uint256 as decimal strings, empty for
null. The rows are kept as text, exactly as exported; the catalog's types are applied when the
result is turned into a table, so a value that does not parse is caught by the type gate.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from hbbatch.calibration.errors import SourceError
from hbbatch.calibration.results import DUNE_TYPES, QueryResult, parse_time, results_payload, sha256_of
from hbbatch.calibration.sources import query_parameters
from hbbatch.planner.catalog import QuerySpec


class FilesSource:
    kind = "files"

    def __init__(self, folder: Path | str, as_of: str | None = None):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: calibration.files_dir is not a folder; point it at the Dune CSV exports")
        self.as_of = as_of
        if as_of:
            self._as_of(None)

    def export(self, spec: QuerySpec) -> Path:
        """The query's CSV export; a missing one is an error (checked before anything runs, and when fetched)."""
        path = self.folder / f"{spec.name}.csv"
        if not path.exists():
            raise SourceError(f"{path}: no export for query {spec.name}; export its result from Dune as CSV "
                              f"to this name, or drop it from calibration.queries")
        return path

    def _as_of(self, path: Path | None) -> pd.Timestamp:
        try:
            return parse_time(self.as_of) if self.as_of else pd.Timestamp(path.stat().st_mtime, unit="s", tz="UTC")
        except ValueError:
            raise SourceError(f"calibration.files_as_of={self.as_of!r}: not a time; use ISO 8601, "
                              f"e.g. 2025-01-27T15:00:00Z") from None

    def fetch(self, spec: QuerySpec, overrides: Mapping[str, Any]) -> QueryResult:
        path = self.export(spec)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                names = next(reader)
            except StopIteration:
                raise SourceError(f"{path}: empty file; a Dune export starts with a header of column names") from None
            rows = []
            for line_no, values in enumerate(reader, start=2):
                if len(values) != len(names):
                    raise SourceError(f"{path}: line {line_no} has {len(values)} fields, the header {len(names)}; "
                                      f"re-export the result")
                rows.append({n: (v if v != "" else None) for n, v in zip(names, values)})
        types = [DUNE_TYPES.get(spec.columns.get(n, "varchar"), "varchar") for n in names]
        as_of = self._as_of(path)
        digest = sha256_of({"column_names": names, "rows": rows}).split(":")[1]
        payload = results_payload(rows, names, types, execution_id=f"files-{spec.name}-{digest[:16]}", ended_at=as_of)
        return QueryResult.from_payload(spec.name, payload, source=self.kind, origin=str(path),
                                        parameters=query_parameters(spec, overrides))
