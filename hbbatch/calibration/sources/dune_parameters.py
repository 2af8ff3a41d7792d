"""Query parameters, typed and validated: what may stand where a query's SQL says `{{name}}`.

A parameter's kind comes from its value in the catalog (queries/<name>.yaml), and every value given
for it (`calibration.parameters`) must be of the same kind:

    address     0x and 40 hex digits (a pool, a token)            -> Dune text parameter
    integer     a whole number, e.g. lookback_days: 7              -> Dune number parameter
    number      a finite decimal                                    -> Dune number parameter
    identifier  a dotted SQL name, e.g. uniswap_v3_ethereum.Pair   -> Dune text parameter

Nothing else is accepted: no quotes, spaces, semicolons or comments can reach a query. The values go
to Dune as its typed query parameters (`dune_client.types.QueryParameter`), never into the SQL text
this program sends; Dune substitutes them into the saved query on its side.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

from hbbatch.calibration.errors import CalibrationError
from hbbatch.config.bounds import ADDRESS_PATTERN
from hbbatch.planner.catalog import QuerySpec

ADDRESS = ADDRESS_PATTERN   # the config's own (shadow.pool)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
MAX_INTEGER = 10**12
KINDS = {
    "address": "0x and 40 hex digits",
    "integer": "a whole number",
    "number": "a finite number",
    "identifier": "a dotted SQL name (letters, digits, _ and .)",
}


def parameter_kind(spec: QuerySpec, name: str) -> str:
    """The kind of `name` in `spec`, from its catalog value; a catalog value of no kind is an error."""
    value = spec.parameters[name]
    kind = _kind_of(value)
    if kind is None:
        raise CalibrationError(f"queries/{spec.name}.yaml: parameter {name}={value!r} is none of: "
                               + "; ".join(f"{k} ({text})" for k, text in KINDS.items()))
    return kind


def _kind_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str) and ADDRESS.fullmatch(value):
        return "address"
    if isinstance(value, str) and IDENTIFIER.fullmatch(value):
        return "identifier"
    return None


def checked_value(spec: QuerySpec, name: str, value: Any) -> Any:
    """`value` for parameter `name` of `spec`, checked against the parameter's kind (CalibrationError)."""
    kind = parameter_kind(spec, name)
    where = f"calibration.parameters.{name}={value!r} (queries/{spec.name}.yaml)"
    if kind == "address":
        if not (isinstance(value, str) and ADDRESS.fullmatch(value)):
            raise CalibrationError(f"{where}: not an address; an address is 0x and 40 hex digits")
        return value
    if kind == "identifier":
        if not (isinstance(value, str) and IDENTIFIER.fullmatch(value)):
            raise CalibrationError(f"{where}: not {KINDS['identifier']}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CalibrationError(f"{where}: not {KINDS[kind]}")
    if kind == "integer":
        if float(value) != int(value) or not 0 <= value <= MAX_INTEGER:
            raise CalibrationError(f"{where}: not a whole number in [0, {MAX_INTEGER}]")
        return int(value)
    return float(value)


def checked_parameters(spec: QuerySpec, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of `spec` with its value checked (catalog values included)."""
    return {name: checked_value(spec, name, value) for name, value in parameters.items()}


def typed_parameters(spec: QuerySpec, parameters: Mapping[str, Any]) -> list[Any]:
    """The checked values as Dune's typed query parameters."""
    from dune_client.types import QueryParameter

    typed = []
    for name, value in checked_parameters(spec, parameters).items():
        if parameter_kind(spec, name) in ("integer", "number"):
            typed.append(QueryParameter.number_type(name, value))
        else:
            typed.append(QueryParameter.text_type(name, value))
    return typed
