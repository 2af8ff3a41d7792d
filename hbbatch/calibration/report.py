"""`calibration_report.json`: schema, content hash, atomic writing, strict loading.

The hash is sha256 over the canonical JSON (sorted keys, no whitespace) of everything except `hash`
and `provenance`, with every float rounded to HASH_SIGNIFICANT_DIGITS (10) significant digits first
(`hbbatch.io.sha256_of`): the same inputs, settings and code give the same hash however and whenever
the inputs were fetched, and on any CPU (a refit whose last binary digits differ by summation order or
vector width, e.g. 0.4357566929528325 vs ...324, hashes the same); any changed input row, parameter
or setting changes it. The file itself keeps full precision. `provenance` records the fetch (source,
execution ids, credits, time) for audit.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from hbbatch.calibration.errors import ReportError
from hbbatch.calibration.fit import SCHEMA, SCHEMA_VERSION
from hbbatch.calibration.regimes import REGIMES
from hbbatch.config.sim import MIX_TOLERANCE, MarketConf, PerRegime
from hbbatch import io as hbio
from hbbatch.io import sha256_of

DEFAULT_REPORT_PATH = Path(__file__).resolve().parents[1] / "data" / "calibration_report.json"
REPORT_NAME = "calibration_report.json"
UNHASHED = ("hash", "provenance")
_MARKET_FIELDS = {f.name: f for f in fields(MarketConf)}


HASH_SIGNIFICANT_DIGITS = 10   # a fitted constant means nothing past its 7th digit; a last-bit difference is 1e-16


def content_hash(report: Mapping[str, Any]) -> str:
    return sha256_of({k: v for k, v in report.items() if k not in UNHASHED}, HASH_SIGNIFICANT_DIGITS)


def finish_report(content: Mapping[str, Any], provenance: Mapping[str, Any]) -> dict[str, Any]:
    """The report with its provenance and content hash (a non-finite figure becomes null: JSON has none)."""
    report = _finite({**content, "provenance": dict(provenance)})
    report["hash"] = content_hash(report)
    return report


def write_report(report: Mapping[str, Any], path: Path | str) -> Path:
    """Write atomically (temporary file, then rename): a killed run leaves no half-written report."""
    return hbio.write_text(path, json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n")


@dataclass(frozen=True)
class CalibrationReport:
    """A loaded, validated report. `constants` is what campaigns merge into their config."""

    data: Mapping[str, Any]
    path: Path | None = None

    @property
    def constants(self) -> dict[str, Any]:
        return self.data["constants"]

    @property
    def hash(self) -> str:
        return self.data["hash"]

    @property
    def schema_version(self) -> int:
        return self.data["schema_version"]

    @property
    def agent(self) -> dict[str, float]:
        return self.constants["agent"]

    @property
    def regime_mix(self) -> dict[str, float]:
        return self.constants["regime_mix"]

    @property
    def market(self) -> dict[str, Any]:
        return self.constants["market"]

    @property
    def fits(self) -> dict[str, Any]:
        return self.data.get("fits", {})

    @property
    def inputs(self) -> dict[str, Any]:
        return self.data.get("inputs", {})


def load_report(path: Path | str = DEFAULT_REPORT_PATH) -> CalibrationReport:
    """Read and validate a report; a malformed, truncated or schema-violating one raises ReportError
    naming the file and the field."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ReportError(f"{path}: no such calibration report; run `python -m hbbatch task=calibrate` or point "
                          f"calibration.path / DUNE_CALIBRATION_JSON at one") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read the calibration report ({exc.__class__.__name__}); check the file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        near = _last_field(text[: exc.pos])
        where = f" after field '{near}'" if near else ""
        unclosed = text.count("{") + text.count("[") > text.count("}") + text.count("]")
        state = "truncated" if unclosed or exc.pos >= len(text.rstrip()) else "malformed"
        raise ReportError(f"{path}: not valid JSON ({state} at line {exc.lineno}, column {exc.colno}{where}); "
                          f"regenerate it with `python -m hbbatch task=calibrate`") from None
    validate_report(data, path)
    return CalibrationReport(data=data, path=path)


def validate_report(data: Any, path: Path | str = "<report>") -> None:
    """Check the schema, the constants' types and ranges, that market keys exist in MarketConf, and the hash."""
    if not isinstance(data, dict):
        _fail(path, "<top level>", "is not a JSON object", "a calibration report is an object with 'constants'")
    if data.get("schema") != SCHEMA:
        _fail(path, "schema", f"is {data.get('schema')!r}", f"a calibration report has schema {SCHEMA!r}")
    if data.get("schema_version") != SCHEMA_VERSION:
        _fail(path, "schema_version", f"is {data.get('schema_version')!r}",
              f"this hbbatch reads version {SCHEMA_VERSION}; regenerate the report")
    constants = _mapping(data, "constants", path)
    agent = _mapping(constants, "agent", path, "constants.")
    for key in ("gas_usd", "fee_gate_usd"):
        _number(agent, key, path, "constants.agent.", positive=True)
    unknown = set(agent) - {"gas_usd", "fee_gate_usd"}
    if unknown:
        _fail(path, f"constants.agent.{sorted(unknown)[0]}", "is not a calibrated agent constant",
              "keep only gas_usd and fee_gate_usd")
    mix = _mapping(constants, "regime_mix", path, "constants.")
    _per_regime(mix, path, "constants.regime_mix", unit_interval=True)
    total = sum(mix.values())
    if abs(total - 1.0) > MIX_TOLERANCE:
        _fail(path, "constants.regime_mix", f"sums to {total:.4f}", "the shares must sum to 1")
    market = _mapping(constants, "market", path, "constants.")
    for key, value in market.items():
        if key not in _MARKET_FIELDS:
            _fail(path, f"constants.market.{key}", "is not a key of hbbatch.config.sim.MarketConf",
                  f"use one of {', '.join(sorted(_MARKET_FIELDS))}")
        if _MARKET_FIELDS[key].type in (PerRegime, "PerRegime"):
            _per_regime(_mapping(market, key, path, "constants.market."), path, f"constants.market.{key}")
        else:
            _number(market, key, path, "constants.market.")
    digest = data.get("hash")
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        _fail(path, "hash", f"is {digest!r}", "a report carries 'sha256:<hex>' of its content")
    if digest != content_hash(data):
        _fail(path, "hash", "does not match the content (edited after fitting?)",
              "regenerate the report with `python -m hbbatch task=calibrate`")


def _fail(path: Path | str, field: str, problem: str, fix: str) -> None:
    raise ReportError(f"{path}: field '{field}' {problem}; {fix}")


def _mapping(parent: Mapping[str, Any], key: str, path: Path | str, prefix: str = "") -> Mapping[str, Any]:
    value = parent.get(key)
    if value is None:
        _fail(path, prefix + key, "is missing", "regenerate the report with `python -m hbbatch task=calibrate`")
    if not isinstance(value, dict):
        _fail(path, prefix + key, f"is {type(value).__name__}, not an object", "it maps names to values")
    return value


def _number(parent: Mapping[str, Any], key: str, path: Path | str, prefix: str, positive: bool = False) -> float:
    if key not in parent:
        _fail(path, prefix + key, "is missing", "regenerate the report with `python -m hbbatch task=calibrate`")
    value = parent[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(path, prefix + key, f"is {value!r}", "use a finite number")
    if positive and value <= 0:
        _fail(path, prefix + key, f"is {value!r}", "use a number > 0")
    return float(value)


def _per_regime(values: Mapping[str, Any], path: Path | str, where: str, unit_interval: bool = False) -> None:
    for regime in REGIMES:
        number = _number(values, regime, path, f"{where}.")
        if unit_interval and not 0.0 <= number <= 1.0:
            _fail(path, f"{where}.{regime}", f"is {number!r}", "a share lies in [0, 1]")
    unknown = set(values) - set(REGIMES)
    if unknown:
        _fail(path, f"{where}.{sorted(unknown)[0]}", "is not a regime", f"use {', '.join(REGIMES)}")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _last_field(text: str) -> str | None:
    keys = re.findall(r'"([^"\\]+)"\s*:', text)
    return keys[-1] if keys else None

