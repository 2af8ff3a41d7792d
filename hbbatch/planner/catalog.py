"""The query catalog: one DuneSQL file per query in `queries/`, its metadata in a YAML file beside it.

`queries/<name>.sql` holds the DuneSQL text with `{{param}}` placeholders; `queries/<name>.yaml` holds:

    name: gas_regime            # must equal the file stem
    priority: P0                # P0 always, P1 daily, P2 only on risk signals
    cost_credits: 10            # expected credits per execution (planner budgets with it)
    cost_class: medium          # cheap | medium | expensive: a label for readers; the Dune engine tier is
                                # calibration.dune.performance (medium | large) for every query
    expensive: false            # counts against the planner's max_expensive
    ttl_s: 3600                 # a stored result younger than this is fresh (the planner may extend it)
    parameters: {lookback_days: 30}
    provides: [gas_price, eth_price]   # signals this query's result feeds (hbbatch.planner.decisions)
    columns: {day: timestamp, gas_price_gwei: double, eth_price_usd: double}   # what it must return
    dune_query_id: null         # a saved query's id on Dune; null runs the SQL text itself
    description: one line

Both the calibration sources and the planner read the catalog through `load_catalog`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from hbbatch.config import resource_dir

PRIORITIES = ("P0", "P1", "P2")
COST_CLASSES = ("cheap", "medium", "expensive")
COLUMN_TYPES = ("timestamp", "double", "bigint", "varchar", "boolean")
QUERIES_DIR = resource_dir("queries")


class CatalogError(ValueError):
    """A query's metadata is missing or wrong; the message names the file, the field and the fix."""


@dataclass(frozen=True)
class QuerySpec:
    name: str
    priority: str
    cost_credits: float
    cost_class: str
    expensive: bool
    ttl_s: int
    provides: tuple[str, ...]
    columns: Mapping[str, str]
    sql: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    dune_query_id: int | None = None
    description: str = ""

    @property
    def priority_rank(self) -> int:
        return PRIORITIES.index(self.priority)

    def render_sql(self, **overrides: Any) -> str:
        """The SQL with every `{{param}}` substituted (Dune substitutes textually too)."""
        values = {**self.parameters, **overrides}
        missing = sorted(set(re.findall(r"{{\s*(\w+)\s*}}", self.sql)) - set(values))
        if missing:
            raise CatalogError(f"queries/{self.name}.sql: parameter(s) {missing} have no value; add them under "
                               f"'parameters' in queries/{self.name}.yaml")
        return re.sub(r"{{\s*(\w+)\s*}}", lambda m: str(values[m.group(1)]), self.sql)


def _require(meta: Mapping[str, Any], key: str, path: Path) -> Any:
    if key not in meta:
        raise CatalogError(f"{path}: field '{key}' is missing; add it (see hbbatch/planner/catalog.py)")
    return meta[key]


def parse_query(meta_path: Path) -> QuerySpec:
    try:
        meta = yaml.safe_load(meta_path.read_text())
    except yaml.YAMLError as exc:
        raise CatalogError(f"{meta_path}: not valid YAML ({exc.__class__.__name__}); fix the syntax") from None
    if not isinstance(meta, dict):
        raise CatalogError(f"{meta_path}: expected a mapping of fields at the top level")
    name = _require(meta, "name", meta_path)
    if name != meta_path.stem:
        raise CatalogError(f"{meta_path}: field 'name' is {name!r} but the file is {meta_path.stem!r}; make them equal")
    sql_path = meta_path.with_suffix(".sql")
    if not sql_path.exists():
        raise CatalogError(f"{meta_path}: no SQL file {sql_path.name} beside it; add the DuneSQL text")
    priority = _require(meta, "priority", meta_path)
    if priority not in PRIORITIES:
        raise CatalogError(f"{meta_path}: field 'priority' is {priority!r}; use one of {', '.join(PRIORITIES)}")
    cost_class = _require(meta, "cost_class", meta_path)
    if cost_class not in COST_CLASSES:
        raise CatalogError(f"{meta_path}: field 'cost_class' is {cost_class!r}; use one of {', '.join(COST_CLASSES)}")
    cost = _require(meta, "cost_credits", meta_path)
    if not isinstance(cost, (int, float)) or cost < 0:
        raise CatalogError(f"{meta_path}: field 'cost_credits' is {cost!r}; use a number >= 0")
    ttl = _require(meta, "ttl_s", meta_path)
    if not isinstance(ttl, int) or ttl < 0:
        raise CatalogError(f"{meta_path}: field 'ttl_s' is {ttl!r}; use a whole number of seconds >= 0")
    expensive = _require(meta, "expensive", meta_path)
    if not isinstance(expensive, bool):
        raise CatalogError(f"{meta_path}: field 'expensive' is {expensive!r}; use true or false")
    provides = _require(meta, "provides", meta_path)
    if not isinstance(provides, list) or not provides or not all(isinstance(s, str) for s in provides):
        raise CatalogError(f"{meta_path}: field 'provides' must be a non-empty list of signal names")
    columns = _require(meta, "columns", meta_path)
    if not isinstance(columns, dict) or not columns:
        raise CatalogError(f"{meta_path}: field 'columns' must map each returned column to its type")
    for column, kind in columns.items():
        if kind not in COLUMN_TYPES:
            raise CatalogError(f"{meta_path}: column '{column}' has type {kind!r}; use one of {', '.join(COLUMN_TYPES)}")
    return QuerySpec(
        name=name,
        priority=priority,
        cost_credits=float(cost),
        cost_class=cost_class,
        expensive=expensive,
        ttl_s=ttl,
        provides=tuple(provides),
        columns=dict(columns),
        sql=sql_path.read_text(),
        parameters=dict(meta.get("parameters") or {}),
        dune_query_id=meta.get("dune_query_id"),
        description=str(meta.get("description", "")),
    )


def load_catalog(queries_dir: Path | str = QUERIES_DIR) -> dict[str, QuerySpec]:
    """Every query in `queries_dir`, by name, in priority then name order."""
    queries_dir = Path(queries_dir)
    specs = [parse_query(p) for p in sorted(queries_dir.glob("*.yaml"))]
    if not specs:
        raise CatalogError(f"{queries_dir}: no query metadata (*.yaml) found; is this the queries/ folder?")
    return {s.name: s for s in sorted(specs, key=lambda s: (s.priority_rank, s.name))}
