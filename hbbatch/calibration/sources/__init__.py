"""Sources of query results, one interface: `fetch(spec, overrides) -> QueryResult`.

- `snapshot`: the committed results in hbbatch/data/snapshots/ (no network, no key; the default);
- `dune`: the Dune API through dune-client; `task=calibrate` fetches only what the query planner plans
  and serves the rest from the planner's result cache (`dune_plan.fetch_planned`);
- `files`: a folder of CSV exports in Dune's export format, one `<query>.csv` per query.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

from hbbatch.calibration.results import QueryResult
from hbbatch.planner.catalog import QuerySpec


class Source(Protocol):
    kind: str

    def fetch(self, spec: QuerySpec, overrides: Mapping[str, Any]) -> QueryResult:
        """The query's result for its catalog parameters with `overrides` applied."""
        ...


def overrides_for(spec: QuerySpec, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """`calibration.parameters` as they apply to one query: a key naming the query holds its own
    overrides ({pool_hourly_fees: {lookback_days: 1}}), any other key applies to every query declaring it."""
    from hbbatch.calibration.errors import CalibrationError

    own = parameters.get(spec.name) or {}
    if not isinstance(own, Mapping):
        raise CalibrationError(f"calibration.parameters.{spec.name}: {own!r} is not a mapping of parameter values")
    shared = {k: v for k, v in parameters.items() if not isinstance(v, Mapping) and k in spec.parameters}
    unknown = sorted(set(own) - set(spec.parameters))
    if unknown:
        raise CalibrationError(f"calibration.parameters.{spec.name}.{unknown[0]}: not a parameter of "
                               f"queries/{spec.name}.yaml; use one of {', '.join(spec.parameters)}")
    return {**shared, **own}


def check_parameters(catalog: Mapping[str, QuerySpec], parameters: Mapping[str, Any]) -> None:
    """Every key of `calibration.parameters` is a query's name or a parameter some query declares:
    a misspelt key would otherwise be ignored and the queries run with their catalog values."""
    from hbbatch.calibration.errors import CalibrationError

    known = sorted({name for spec in catalog.values() for name in spec.parameters})
    for key, value in parameters.items():
        if key in catalog:
            continue
        if isinstance(value, Mapping) or key not in known:
            raise CalibrationError(f"calibration.parameters.{key}: neither a query nor a query parameter; use a "
                                   f"parameter ({', '.join(known)}) or a query name ({', '.join(catalog)})")


def query_parameters(spec: QuerySpec, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog's parameters with the query's overrides applied, each checked against its kind
    (an address is 0x and 40 hex digits, a number is finite: `sources/dune_parameters.py`)."""
    from hbbatch.calibration.sources.dune_parameters import checked_parameters

    return checked_parameters(spec, {**spec.parameters, **overrides})


def selected_queries(catalog: Mapping[str, QuerySpec], calibration: Mapping[str, Any]) -> list[str]:
    """The queries `calibration.queries` names (default: the whole catalog); an unknown one is an error."""
    from hbbatch.calibration.errors import CalibrationError

    names = list(calibration.get("queries") or catalog)
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise CalibrationError(f"calibration.queries: unknown query {unknown[0]!r}; use {', '.join(catalog)}")
    return names


def check_fit_inputs(calibration: Mapping[str, Any]) -> None:
    """What `task=calibrate` reads besides its numbers, checked before anything runs or is written: the queries,
    every parameter against its kind, and the source itself (the Dune API key in its environment variable; the
    folder of CSV exports, one per query, and their `files_as_of`). Raises CalibrationError (a ValueError) with
    one line; sends no request."""
    from hbbatch.planner.catalog import QUERIES_DIR, load_catalog

    catalog = load_catalog(calibration.get("queries_dir") or QUERIES_DIR)
    parameters = dict(calibration.get("parameters") or {})
    check_parameters(catalog, parameters)
    names = selected_queries(catalog, calibration)
    for name in names:
        query_parameters(catalog[name], overrides_for(catalog[name], parameters))
    source = make_source(calibration)
    for name in names if source.kind == "files" else ():
        source.export(catalog[name])


def make_source(calibration: Mapping[str, Any]) -> Source:
    """The source `calibration.source` names; none/default/file (the campaign choices) fit from the snapshot."""
    from hbbatch.calibration.errors import CalibrationError
    from hbbatch.config.calibration import CAMPAIGN_SOURCES, FIT_SOURCES

    kind = calibration.get("source") or "snapshot"
    if kind in CAMPAIGN_SOURCES or kind == "snapshot":
        from hbbatch.calibration.sources.snapshot import SnapshotSource

        return SnapshotSource(calibration.get("snapshot_dir"))
    if kind == "files":
        from hbbatch.calibration.sources.files import FilesSource

        if not calibration.get("files_dir"):
            raise CalibrationError("calibration.files_dir: not set; point it at a folder of <query>.csv Dune exports")
        return FilesSource(calibration["files_dir"], calibration.get("files_as_of"))
    if kind == "dune":
        from hbbatch.calibration.sources.dune import DuneSource

        return DuneSource(calibration.get("dune") or {})
    raise CalibrationError(f"calibration.source: {kind!r} is not a source; use one of "
                           f"{', '.join(FIT_SOURCES + CAMPAIGN_SOURCES)}")
