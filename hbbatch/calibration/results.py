"""One query's result in the shape the Dune API returns it, whatever source delivered it.

The payload is the JSON of `GET /v1/execution/{id}/results` (execution_id, state, times, and
`result.rows` + `result.metadata` with column names and types); snapshots and stored Dune results
are kept in exactly that form. `to_frame` casts the rows to the catalog's column types for the
gates and the fit, leaving a value it cannot cast as it is, so the type gate reports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

import pandas as pd

from hbbatch.calibration.errors import SourceError
from hbbatch.io import canonical_json, sha256_of  # noqa: F401  (re-exported: the sources hash with them)
from hbbatch.planner.catalog import QuerySpec

# The catalog's column types as Dune names them in `result.metadata.column_types`.
DUNE_TYPES = {
    "timestamp": "timestamp(3) with time zone",
    "double": "double",
    "bigint": "bigint",
    "varchar": "varchar",
    "boolean": "boolean",
}
COMPLETED = "QUERY_STATE_COMPLETED"


def format_dune_timestamp(ts: pd.Timestamp | datetime) -> str:
    """Dune's row format for timestamps: `2024-01-05 00:00:00.000 UTC`."""
    ts = pd.Timestamp(ts).tz_convert("UTC") if pd.Timestamp(ts).tzinfo else pd.Timestamp(ts).tz_localize("UTC")
    return ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d} UTC"


def format_api_time(ts: pd.Timestamp | datetime) -> str:
    """Dune's format for execution times: ISO 8601 with a Z."""
    ts = pd.Timestamp(ts).tz_convert("UTC") if pd.Timestamp(ts).tzinfo else pd.Timestamp(ts).tz_localize("UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_time(value: str) -> pd.Timestamp:
    """A Dune time in either of its formats, as a UTC timestamp."""
    text = str(value).strip()
    if text.endswith(" UTC"):
        text = text[:-4]
    ts = pd.Timestamp(text)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def results_payload(rows: list[dict[str, Any]], column_names: list[str], column_types: list[str], *,
                    execution_id: str, ended_at: pd.Timestamp, query_id: int | None = None,
                    execution_time_millis: int = 0) -> dict[str, Any]:
    """A complete results JSON as `GET /v1/execution/{id}/results` returns it."""
    size = len(canonical_json(rows).encode("utf-8"))
    return {
        "execution_id": execution_id,
        "query_id": query_id,
        "is_execution_finished": True,
        "state": COMPLETED,
        "submitted_at": format_api_time(ended_at),
        "expires_at": format_api_time(pd.Timestamp(ended_at) + pd.Timedelta(days=90)),
        "execution_started_at": format_api_time(ended_at),
        "execution_ended_at": format_api_time(ended_at),
        "result": {
            "rows": rows,
            "metadata": {
                "column_names": list(column_names),
                "column_types": list(column_types),
                "row_count": len(rows),
                "result_set_bytes": size,
                "total_row_count": len(rows),
                "total_result_set_bytes": size,
                "datapoint_count": len(rows) * len(column_names),
                "pending_time_millis": 0,
                "execution_time_millis": execution_time_millis,
            },
        },
    }


@dataclass(frozen=True)
class QueryResult:
    """A query's rows and metadata plus how they were obtained (never the API key)."""

    name: str
    payload: Mapping[str, Any]
    source: str                                   # snapshot | dune | files
    origin: str                                   # the file read, or the API route
    parameters: Mapping[str, Any] = field(default_factory=dict)
    credits: float = 0.0                          # execution credits spent getting it
    reused: bool = False                          # a stored result younger than the TTL, no execution
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, name: str, payload: Any, *, source: str, origin: str, **extra: Any) -> "QueryResult":
        """Validate the Dune results shape, naming the first missing field."""
        if not isinstance(payload, dict):
            raise SourceError(f"{origin}: query {name} result is not a JSON object; expected Dune's results JSON")
        state = payload.get("state")
        if state != COMPLETED:
            raise SourceError(f"{origin}: query {name} field 'state' is {state!r}, not {COMPLETED}; "
                              f"re-run the query and wait for it to complete")
        result = payload.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
            raise SourceError(f"{origin}: query {name} field 'result.rows' is missing; expected Dune's results JSON")
        metadata = result.get("metadata")
        if not isinstance(metadata, dict):
            raise SourceError(f"{origin}: query {name} field 'result.metadata' is missing; expected Dune's results JSON")
        for key in ("column_names", "column_types"):
            if not isinstance(metadata.get(key), list):
                raise SourceError(f"{origin}: query {name} field 'result.metadata.{key}' is missing or not a list")
        if len(metadata["column_names"]) != len(metadata["column_types"]):
            raise SourceError(f"{origin}: query {name} 'result.metadata' has {len(metadata['column_names'])} column "
                              f"names but {len(metadata['column_types'])} types; they must pair up")
        if not payload.get("execution_ended_at"):
            raise SourceError(f"{origin}: query {name} field 'execution_ended_at' is missing; it dates the result")
        return cls(name=name, payload=payload, source=source, origin=origin, **extra)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.payload["result"]["rows"]

    @property
    def column_names(self) -> list[str]:
        return list(self.payload["result"]["metadata"]["column_names"])

    @property
    def column_types(self) -> list[str]:
        return list(self.payload["result"]["metadata"]["column_types"])

    @property
    def execution_id(self) -> str:
        return str(self.payload.get("execution_id", ""))

    @property
    def as_of(self) -> pd.Timestamp:
        """When the result was computed: freshness is measured from here."""
        return parse_time(self.payload["execution_ended_at"])

    @property
    def data_hash(self) -> str:
        """Hash of the data itself (columns, types, rows), independent of when and how it was fetched."""
        return sha256_of({"column_names": self.column_names, "column_types": self.column_types, "rows": self.rows})

    def to_frame(self, spec: QuerySpec | None = None) -> pd.DataFrame:
        """Rows as a table, each catalog column cast to its type (a value that will not cast stays raw)."""
        frame = pd.DataFrame.from_records(self.rows, columns=self.column_names)
        kinds = dict(spec.columns) if spec is not None else {}
        for column in frame.columns:
            kind = kinds.get(column) or _catalog_type(self.column_types[self.column_names.index(column)])
            frame[column] = _cast(frame[column], kind)
        return frame

    def summary(self) -> dict[str, Any]:
        """What the report records about this input (no secrets: origin is a path or an API route)."""
        return {
            "source": self.source,
            "origin": self.origin,
            "execution_id": self.execution_id,
            "execution_ended_at": format_api_time(self.as_of),
            "credits": float(self.credits),
            "reused": bool(self.reused),
        }


def _catalog_type(dune_type: str) -> str:
    dune_type = str(dune_type).lower()
    if dune_type.startswith("timestamp") or dune_type == "date":
        return "timestamp"
    if dune_type in ("bigint", "integer", "int", "smallint", "tinyint"):
        return "bigint"
    if dune_type.startswith(("double", "real", "decimal")) or dune_type.startswith(("uint", "int")):
        return "double"
    if dune_type == "boolean":
        return "boolean"
    return "varchar"


def _cast(values: pd.Series, kind: str) -> pd.Series:
    try:
        if kind == "timestamp":
            return values.map(lambda v: None if v is None else parse_time(v)).astype("datetime64[us, UTC]")
        if kind == "double":
            return pd.to_numeric(values.map(_number), errors="raise").astype("float64")
        if kind == "bigint":
            numbers = pd.to_numeric(values.map(_number), errors="raise")
            integral = numbers.notna().all() and (numbers == numbers.round()).all()
            return numbers.astype("int64") if integral else numbers.astype("float64")
        if kind == "boolean":
            words = {"true": True, "false": False}
            parsed = values.map(lambda v: v if isinstance(v, bool) else words.get(str(v).lower()))
            return parsed.astype(bool) if parsed.map(lambda v: isinstance(v, bool)).all() else values
        if kind == "varchar":
            return values.map(lambda v: None if v is None else str(v)).astype("str")
    except (ValueError, TypeError, OverflowError):
        return values  # left as it came: the suite's type expectation names the column
    return values


def _number(value: Any) -> Any:
    """Dune sends uint256 as decimal strings and null as None; NaN stays a missing value."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise ValueError("boolean where a number was expected")
    if isinstance(value, str):
        return float(value)
    return value


def utc_now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(timezone.utc))
