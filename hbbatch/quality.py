"""great-expectations suites from `expectations/`, loaded strictly and run over pandas tables.

GX 1.x drops an expectation it cannot parse with only a log line, so a suite is loaded, its
expectations counted against the JSON, and a mismatch is an error. great_expectations is imported
inside the functions that need it: importing it costs seconds, and most commands never validate.

A suite's result is a function of what it validates, so GX's result is kept and reused (the suite
result cache): the key is a sha256 over the table (column names, dtypes, index and every value's
bytes), the suite exactly as GX receives it (parameters bound), the GX, pandas and numpy versions and
this module's source. An unchanged calibration report or criteria table is then not validated again
(nor GX imported); any change to the input, the suite or the engine is another key, validated by GX.
Entries live in `$HBBATCH_SUITE_CACHE_DIR` (default `$XDG_CACHE_HOME/hbbatch/suite_results`; empty:
off), one JSON file per key holding the outcome GX gave; an outcome reused says so (`reused`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hbbatch import io as hbio
from hbbatch.config import resource_dir

EXPECTATIONS_DIR = resource_dir("expectations")
CACHE_VAR = "HBBATCH_SUITE_CACHE_DIR"
log = logging.getLogger(__name__)


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
    reused: dict[str, str] | None = None   # GX's stored result for this exact input: {"entry", "stored_at"}

    @property
    def failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "suite_name": self.suite_name,
            "success": self.success,
            "results": [
                {"expectation_type": o.expectation_type, "kwargs": o.kwargs, "success": o.success,
                 "observed": o.observed, "meta": o.meta}
                for o in self.outcomes
            ],
        }
        if self.reused:
            out["reused"] = dict(self.reused)
        return out


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
    """Run one suite (file, or JSON already read from it) over `frame`; GX's stored result for exactly this
    input where there is one (module docstring)."""
    path = Path(suite_path)
    suite_json = suite_json if suite_json is not None else read_suite_json(path)
    key = result_key(frame, suite_json)
    reused = _reuse(key)
    if reused is not None:
        return reused
    outcome = _run_suite(frame, path, suite_json)
    _store(key, outcome, path)
    return outcome


def is_stored(frame: pd.DataFrame, suite_json: dict[str, Any]) -> bool:
    """Whether validate() would reuse a stored result for this input (it would not import GX)."""
    entry = _entry_path(result_key(frame, suite_json))
    return entry is not None and entry.is_file()


def _run_suite(frame: pd.DataFrame, path: Path, suite_json: dict[str, Any]) -> SuiteOutcome:
    gx = import_gx_quietly()
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


# ---------------------------------------------------------------- the suite result cache

@functools.lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """The versions of what computes a result (GX and the pandas/numpy it runs on, read from their installed
    metadata: GX is not imported for this) and this module's source."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "absent"

    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return f"gx={installed('great_expectations')};pandas={pd.__version__};numpy={np.__version__};quality={code}"


def _column_bytes(values: Any) -> bytes:
    array = np.asarray(values)
    if array.dtype.kind in "biufcmM":   # fixed-width values: their exact bytes
        return array.dtype.str.encode() + b"\0" + np.ascontiguousarray(array).tobytes()
    # objects and strings: each value's type and repr (repr of a float is exact; None and NaN differ)
    return json.dumps([f"{type(v).__name__}:{v!r}" for v in array.tolist()]).encode()


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 over a table's column names and order, dtypes, index and every value, exactly."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(b"index\0" + str(frame.index.dtype).encode() + _column_bytes(frame.index.to_numpy()))
    for position in range(frame.shape[1]):
        digest.update(b"\0column\0" + _column_bytes(frame.iloc[:, position].to_numpy()))
    return digest.hexdigest()


def result_key(frame: pd.DataFrame, suite_json: dict[str, Any]) -> str:
    """The cache key of validating `frame` with `suite_json` (bound): table, suite and engine."""
    suite = json.dumps(suite_json, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256("\0".join((frame_digest(frame), suite, engine_fingerprint())).encode()).hexdigest()


def cache_dir() -> Path | None:
    """Where suite results are kept: $HBBATCH_SUITE_CACHE_DIR (empty: nowhere), else under XDG_CACHE_HOME."""
    return hbio.user_cache_dir("suite_results", CACHE_VAR)


def _entry_path(key: str) -> Path | None:
    folder = cache_dir()
    return folder / f"{key}.json" if folder is not None else None


def _encode(outcome: SuiteOutcome) -> dict[str, Any]:
    return {"suite_name": outcome.suite_name, "success": outcome.success,
            "outcomes": [{"expectation_type": o.expectation_type, "kwargs": o.kwargs, "success": o.success,
                          "observed": o.observed, "meta": o.meta, "unexpected_sample": list(o.unexpected_sample)}
                         for o in outcome.outcomes]}


def _decode(data: dict[str, Any]) -> SuiteOutcome:
    return SuiteOutcome(suite_name=data["suite_name"], success=bool(data["success"]), outcomes=tuple(
        ExpectationOutcome(expectation_type=o["expectation_type"], kwargs=o["kwargs"], success=bool(o["success"]),
                           observed=o["observed"], meta=o["meta"], unexpected_sample=tuple(o["unexpected_sample"]))
        for o in data["outcomes"]))


def _reuse(key: str) -> SuiteOutcome | None:
    entry = _entry_path(key)
    if entry is None or not entry.is_file():
        return None
    try:
        data = json.loads(entry.read_text())
        if data.get("key") != key:
            return None
        outcome = _decode(data["outcome"])
    except (OSError, ValueError, KeyError, TypeError):   # unreadable or foreign: validate again
        return None
    return replace(outcome, reused={"entry": str(entry), "stored_at": str(data.get("stored_at"))})


def _store(key: str, outcome: SuiteOutcome, path: Path) -> None:
    """Keep GX's outcome for `key`, only where reading it back gives the very same outcome (JSON keeps
    every value exactly: else the input is validated every time)."""
    entry = _entry_path(key)
    if entry is None:
        return
    encoded = _encode(outcome)
    try:
        text = json.dumps({"key": key, "suite_file": str(path), "engine": engine_fingerprint(),
                           "stored_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           "outcome": encoded}, indent=1)
    except (TypeError, ValueError):
        return
    if repr(_decode(json.loads(text)["outcome"])) != repr(outcome):
        return
    try:
        hbio.write_text(entry, text + "\n")
    except OSError as exc:   # a read-only or full cache folder costs time, not correctness
        log.debug("suite result not stored in %s: %s", entry, exc)
