"""Applying a calibration report to a campaign's config (campaign C: `calibration=default`).

The report's agent constants replace the config's; its world part (market numbers and regime mix) only
where the calibration config asks (`calibration.apply_market`), so that calibrated and uncalibrated
campaigns keep one world and their episodes stay paired: a campaign is a set of agent settings. A value set explicitly on the command line wins over
the report. `DUNE_CALIBRATION_JSON` names the report of `calibration=default`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hbbatch.config.checks import ConfigValueError, check_config
from hbbatch.env_vars import CALIBRATION_VAR, calibration_path_from

log = logging.getLogger(__name__)
MERGED_ALWAYS = ("agent",)            # a campaign is a set of agent settings: it takes the report's constants
WORLD_PART = ("market", "regime_mix")  # the world's part of a report: only with calibration.apply_market


class CalibrationConfigError(ValueError):
    """The calibration section cannot give a report for this campaign."""


def explicit_keys(task_overrides: list[str]) -> set[str]:
    """Dotted keys set on the command line (`agent.gas_usd=3` -> 'agent.gas_usd'); group choices are not values."""
    keys = set()
    for override in task_overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if "." in key and not key.startswith("hydra."):
            keys.add(key)
    return keys


def report_path(calibration: dict[str, Any], environ: dict[str, str] | None = None) -> Path | None:
    """The report a campaign reads: none; for `default`, calibration.path if set, else DUNE_CALIBRATION_JSON,
    else the committed report; for `file`, calibration.path."""
    source = calibration.get("source", "none")
    if source in (None, "none"):
        return None
    if source == "default":
        if calibration.get("path"):
            return Path(str(calibration["path"])).expanduser()
        from_env = calibration_path_from(environ)
        if from_env is not None:
            log.info("calibration: %s=%s replaces the committed default report", CALIBRATION_VAR, from_env)
            return from_env
        from hbbatch.calibration.report import DEFAULT_REPORT_PATH

        return Path(DEFAULT_REPORT_PATH)
    if source == "file":
        if not calibration.get("path"):
            raise CalibrationConfigError("calibration.path: required with calibration=file; "
                                         "add calibration.path=/path/to/calibration_report.json")
        return Path(str(calibration["path"])).expanduser()
    raise CalibrationConfigError(f"calibration.source={source!r}: a campaign reads a finished report "
                                 "(none, default or file); produce one with task=calibrate first")


def _merge(target: dict[str, Any], constants: dict[str, Any], prefix: str, explicit: set[str],
           applied: dict[str, Any], kept: list[str]) -> None:
    for key, value in constants.items():
        path = f"{prefix}.{key}"
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, path, explicit, applied, kept)
        elif path in explicit:
            kept.append(path)
        else:
            target[key] = value
            applied[path] = value


def load_checked_report(path: Path):
    """The report at `path`, read strictly and passed through the same quality gates task=calibrate applies
    before writing one (expectations/calibration/calibration_report.json): a report edited to gas_usd=1e-300
    and rehashed is refused like a fitted one would be."""
    from hbbatch.calibration.report import load_report

    report = load_report(path)
    _gate_once(report.hash, report.path, report.data)
    return report


_PASSED: set[tuple[str, str]] = set()


def _gate_once(digest: str, path: Any, data: Any) -> None:
    """check_report once per (hash, file) in a process: the jobs of a sweep share a report."""
    from hbbatch.calibration.errors import GateError
    from hbbatch.calibration.gates import check_report

    key = (digest, str(path))
    if key not in _PASSED:
        try:
            check_report(data)
        except GateError as exc:
            raise GateError(f"{path}: refused, the report fails the gates a fitted report must pass: "
                            + str(exc).replace(" (no report written)", "")) from None
        _PASSED.add(key)


def apply_calibration(config: dict[str, Any], explicit: set[str],
                      environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Merge the report's constants into `config` (a resolved job config, changed in place).

    Returns what the manifest records: source, path, hash ("none" without a report), applied values and
    the explicit command-line values that were kept instead.
    """
    calibration = config.get("calibration") or {}
    path = report_path(calibration, environ)
    if path is None:
        return {"source": "none", "path": None, "hash": "none", "applied": {}, "kept": []}
    report = load_checked_report(path)
    constants = report.constants
    applied: dict[str, Any] = {}
    kept: list[str] = []
    sections = MERGED_ALWAYS + (WORLD_PART if calibration.get("apply_market", False) else ())
    identified = mix_identified(report.data)
    trust_mix = identified or bool(calibration.get("use_unidentified_mix", False))
    fallback = None
    for section in sections:
        values = dict(constants.get(section) or {})
        if section == "regime_mix" and any(k.startswith("regime_mix.") for k in explicit):
            kept.append("regime_mix")    # a mix is one unit: half a calibrated mix would not sum to 1
            continue
        if section == "regime_mix" and not trust_mix:
            fallback = _historical_instead(config)
            continue
        _merge(config[section], values, section, explicit, applied, kept)
    for key in kept:
        log.info("calibration: %s set on the command line wins over the report", key)
    try:   # the merged config obeys the bounds a typed value would (a report is input like any other)
        check_config(config)
    except ConfigValueError as exc:
        raise CalibrationConfigError(f"{path}: after applying the calibration report, {exc}") from None
    record = {"source": calibration.get("source"), "path": str(path), "hash": report.hash,
              "applied": applied, "kept": kept, "regime_mix_identified": identified}
    if fallback:
        record["world_fallback"] = fallback
    return record


def mix_identified(report: Any) -> bool:
    """Whether the report's regime mix differs from what its rule finds in regime-free paths (a report
    from before the null test counts as identified: nothing says otherwise)."""
    regimes = (report.get("fits") or {}).get("regimes") or {}
    return bool(regimes.get("identified", True))


def _historical_instead(config: dict[str, Any]) -> str | None:
    """A regime mix that cannot be told from noise is not a world: a calibrated campaign in the parametric
    world runs in the historical world instead (calibration.use_unidentified_mix=true keeps the mix)."""
    world = config.get("world")
    message = ("calibration: the report's regime mix cannot be told from noise (fits.regimes.null); "
               "the mix is not applied")
    if isinstance(world, dict) and world.get("kind") == "parametric":
        world.update(name="historical", kind="historical",
                     description="historical world: the calibrated regime mix is not identified")
        log.warning("%s, and the campaign runs in the historical world instead of %r", message, "regimes")
        return "historical: the calibrated regime mix is not identified (calibration.use_unidentified_mix=true keeps it)"
    log.warning("%s", message)
    return None
