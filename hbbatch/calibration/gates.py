"""Data-quality gates: every query result, and the report itself, against its suite in expectations/calibration/.

A result is checked as a table of its rows cast to the catalog's types, plus derived `gate_*` columns
the suites need: `gate_age_s` (seconds from a row's timestamp to when the result was computed:
its minimum is the freshness of the newest row). Any failure stops the calibration before a report
is written; the error lists each failed expectation with its observed value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from hbbatch.calibration.errors import GateError
from hbbatch.calibration.results import QueryResult
from hbbatch.planner.catalog import QuerySpec
from hbbatch.quality import EXPECTATIONS_DIR, SuiteOutcome, read_suite_json, validate

SUITES_DIR = EXPECTATIONS_DIR / "calibration"
REPORT_SUITE = "calibration_report"
AGE_COLUMN = "gate_age_s"
MIX_SUM_COLUMN = "gate_regime_mix_sum"
GARCH_CONVERGED_COLUMN = "gate_garch_converged"


def gate_frame(result: QueryResult, spec: QuerySpec) -> pd.DataFrame:
    """The result's rows as the suite sees them: cast columns plus the derived gate columns."""
    frame = result.to_frame(spec)
    time_column = next((c for c, kind in spec.columns.items() if kind == "timestamp"), None)
    if time_column in frame.columns and isinstance(frame[time_column].dtype, pd.DatetimeTZDtype):
        frame[AGE_COLUMN] = (result.as_of - frame[time_column]).dt.total_seconds()
    return frame


def report_frame(report: Mapping[str, Any]) -> pd.DataFrame:
    """One row: every constant as `section__key[__regime]`, plus the regime-mix sum and, where the report
    fitted the regimes world, whether its GARCH reached the likelihood's optimum."""
    row: dict[str, Any] = {}
    for section, values in report["constants"].items():
        for key, value in values.items():
            if isinstance(value, Mapping):
                for regime, number in value.items():
                    row[f"{section}__{key}__{regime}"] = number
            else:
                row[f"{section}__{key}"] = value
    row[MIX_SUM_COLUMN] = sum(report["constants"]["regime_mix"].values())
    garch = ((report.get("fits") or {}).get("world") or {}).get("garch") or {}
    if "converged" in garch:
        row[GARCH_CONVERGED_COLUMN] = bool(garch["converged"])
    return pd.DataFrame([row])


def check_results(results: Mapping[str, QueryResult], catalog: Mapping[str, QuerySpec],
                  suites_dir: Path | str = SUITES_DIR) -> dict[str, SuiteOutcome]:
    """Run each result's suite; raise GateError listing every failure across all of them."""
    suites_dir = Path(suites_dir)
    outcomes = {name: validate(gate_frame(result, catalog[name]), suites_dir / f"{name}.json")
                for name, result in results.items()}
    _raise_on_failures(outcomes, suites_dir)
    return outcomes


def check_report(report: Mapping[str, Any], suites_dir: Path | str = SUITES_DIR) -> SuiteOutcome:
    """The report's constants against their suite; an expectation marked optional applies only when
    the report has that constant (market constants depend on which queries ran)."""
    suites_dir = Path(suites_dir)
    path = suites_dir / f"{REPORT_SUITE}.json"
    frame = report_frame(report)
    suite = read_suite_json(path)
    suite["expectations"] = [e for e in suite["expectations"]
                             if not (e.get("meta") or {}).get("optional")
                             or e.get("kwargs", {}).get("column") in frame.columns]
    outcome = validate(frame, path, suite)
    _raise_on_failures({REPORT_SUITE: outcome}, suites_dir)
    return outcome


def describe_failure(suite: str, failure: Any) -> str:
    column = failure.kwargs.get("column") or ",".join(
        str(failure.kwargs[k]) for k in ("column_A", "column_B") if k in failure.kwargs)
    where = f" on '{column}'" if column else ""
    bounds = {k: failure.kwargs[k] for k in ("min_value", "max_value", "value_set", "column_set", "type_")
              if k in failure.kwargs}
    observed = failure.observed
    if failure.expectation_type.startswith(("expect_column_values", "expect_column_pair")):
        observed = f"{observed:.3g} % of rows unexpected" if isinstance(observed, float) else observed
        if failure.unexpected_sample:
            observed = f"{observed}, e.g. {list(failure.unexpected_sample)}"
    return f"{suite}: {failure.expectation_type}{where} {bounds}: observed {observed}"


def _raise_on_failures(outcomes: Mapping[str, SuiteOutcome], suites_dir: Path) -> None:
    lines = [describe_failure(name, failure) for name, outcome in outcomes.items() for failure in outcome.failures]
    if lines:
        raise GateError(f"{len(lines)} calibration gate(s) failed in {suites_dir} (no report written): "
                        + "; ".join(lines))
