"""great-expectations suites from `expectations/`, loaded strictly and run over pandas tables.

GX 1.x drops an expectation it cannot parse with only a log line, so a suite is loaded, its
expectations counted against the JSON, and a mismatch is an error. great_expectations is imported
inside the functions that need it: importing it costs seconds, and most commands never validate.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hbbatch.config import resource_dir

EXPECTATIONS_DIR = resource_dir("expectations")


class SuiteError(ValueError):
    """A suite file is unreadable, or GX dropped an expectation from it."""


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation_type: str
    kwargs: dict[str, Any]
    success: bool
    observed: Any
    meta: dict[str, Any] = field(default_factory=dict)
    unexpected_sample: tuple[Any, ...] = ()   # a few offending values, for column-value expectations


@dataclass(frozen=True)
class SuiteOutcome:
    suite_name: str
    success: bool
    outcomes: tuple[ExpectationOutcome, ...]

    @property
    def failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success)

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite_name": self.suite_name,
            "success": self.success,
            "results": [
                {"expectation_type": o.expectation_type, "kwargs": o.kwargs, "success": o.success,
                 "observed": o.observed, "meta": o.meta}
                for o in self.outcomes
            ],
        }


def read_suite_json(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    try:
        suite = json.loads(path.read_text())
    except FileNotFoundError:
        raise SuiteError(f"{path}: suite file not found; check the expectations/ folder") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON (line {exc.lineno}); fix the syntax") from None
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise SuiteError(f"{path}: field 'expectations' must be a list of expectation configurations")
    if "name" not in suite:
        raise SuiteError(f"{path}: field 'name' is missing; name the suite")
    return suite


def bind_parameters(suite_json: dict[str, Any], parameters: dict[str, Any], path: Path,
                    where: str = "the suite's parameters") -> dict[str, Any]:
    """The suite with every {"$PARAMETER": name} replaced by parameters[name]; a missing name is an error
    naming where its value belongs (`where`: the config section that holds the parameters)."""
    def bind(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"$PARAMETER"}:
                name = node["$PARAMETER"]
                if name not in parameters:
                    raise SuiteError(f"{path}: parameter {name!r} has no value; add {where}.{name} "
                                     f"(known: {', '.join(sorted(parameters))})")
                return parameters[name]
            return {k: bind(v) for k, v in node.items()}
        if isinstance(node, list):
            return [bind(v) for v in node]
        return node

    return bind(copy.deepcopy(suite_json))


def _observed(result: dict[str, Any]) -> Any:
    for key in ("observed_value", "unexpected_percent", "unexpected_count"):
        if key in result and result[key] is not None:
            value = result[key]
            return value.item() if hasattr(value, "item") else value
    return None


def _sample(result: dict[str, Any], size: int = 3) -> tuple[Any, ...]:
    values = result.get("partial_unexpected_list") or []
    return tuple(v.item() if hasattr(v, "item") else (str(v) if not isinstance(v, (int, float, str)) else v)
                 for v in values[:size])


def _build_suite(gx: Any, suite_json: dict[str, Any], path: Path) -> Any:
    """A GX suite from JSON, refusing one that lost expectations in parsing."""
    logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
    try:
        suite = gx.ExpectationSuite(**{k: v for k, v in suite_json.items() if k in ("name", "expectations", "meta")})
    except Exception as exc:  # GX raises several types for a malformed configuration
        raise SuiteError(f"{path}: GX cannot build the suite ({exc}); fix the expectation configuration") from None
    if len(suite.expectations) != len(suite_json["expectations"]):
        known = {e.expectation_type for e in suite.expectations}
        dropped = [e.get("type") for e in suite_json["expectations"] if e.get("type") not in known]
        raise SuiteError(f"{path}: GX dropped {len(suite_json['expectations']) - len(suite.expectations)} "
                         f"expectation(s) {dropped}; fix their 'type' or 'kwargs'")
    return suite


def import_gx_quietly() -> Any:
    """great_expectations, imported with its INFO chatter off (it logs hundreds of lines while importing, and
    sets some of its loggers to INFO itself, so their levels are set again after the import)."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations

    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("great_expectations") and isinstance(logger, logging.Logger):
            logger.setLevel(logging.WARNING)
    return great_expectations


def validate(frame: pd.DataFrame, suite_path: Path | str, suite_json: dict[str, Any] | None = None) -> SuiteOutcome:
    """Run one suite (file, or JSON already read from it) over `frame`."""
    gx = import_gx_quietly()

    path = Path(suite_path)
    suite_json = suite_json if suite_json is not None else read_suite_json(path)
    suite = _build_suite(gx, suite_json, path)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    batch = (context.data_sources.add_pandas(name=f"src_{suite.name}")
             .add_dataframe_asset(name=f"asset_{suite.name}")
             .add_batch_definition_whole_dataframe(name="whole")
             .get_batch(batch_parameters={"dataframe": frame}))
    result = batch.validate(suite)
    outcomes = []
    for r in result.results:
        cfg = r.expectation_config
        outcomes.append(ExpectationOutcome(
            expectation_type=cfg.type,
            kwargs={k: v for k, v in cfg.kwargs.items() if k != "batch_id"},
            success=bool(r.success),
            observed=_observed(r.result or {}),
            meta=dict(cfg.meta or {}),
            unexpected_sample=_sample(r.result or {}),
        ))
    return SuiteOutcome(suite_name=suite.name, success=bool(result.success), outcomes=tuple(outcomes))
