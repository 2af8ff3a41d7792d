"""`python -m hbbatch task=calibrate`: fetch → gate → fit → gate → write calibration_report.json.

The Dune source fetches what the query planner plans and serves the rest from the result cache
(`sources/dune_plan.py`); the plan it used is written beside the report as plan.json, and the report's
provenance says, per query, whether it ran or came from the cache, how old it is and why.
Nothing is written unless every gate passes. The report goes to the Hydra run's output directory
(or `calibration.output_dir`, or the `output_dir` argument), written atomically; the command prints
its hash and the constants before → after.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping, TextIO

from hbbatch import __version__, exit_codes
from hbbatch.calibration.errors import CalibrationError
from hbbatch.calibration.fit import FitSettings, fit_content
from hbbatch.calibration.gates import SUITES_DIR, check_report, check_results
from hbbatch.calibration.regimes import REGIMES, Thresholds
from hbbatch.calibration.report import REPORT_NAME, finish_report, validate_report, write_report
from hbbatch.calibration.results import format_api_time, utc_now
from hbbatch.calibration.sources import check_parameters, make_source, overrides_for, selected_queries
from hbbatch.config.calibration import CalibrationConf
from hbbatch.config.sim import AgentConf, MarketConf, RegimeMixConf
from hbbatch.planner.cache import CacheError
from hbbatch.planner.catalog import QUERIES_DIR, CatalogError, load_catalog
from hbbatch.planner.settings import PlannerConfigError
from hbbatch.planner.signals import SignalError
from hbbatch.quality import SuiteError


def run(cfg: Any, output_dir: Path | str | None = None, out: TextIO | None = None) -> int:
    """Calibrate from the composed config; 0 on success, 2 on an error: bad input, a failed gate, the
    network or the API key (message on stderr). 1 is kept for a failed success criterion."""
    out = out or sys.stdout
    try:
        report, path = calibrate(cfg, output_dir)
    except (CalibrationError, CatalogError, SuiteError, CacheError, PlannerConfigError, SignalError) as exc:
        print(f"calibration failed: {exc}", file=sys.stderr)
        return exit_codes.ERROR
    print(f"calibration report: {path}", file=out)
    print(f"calibration hash: {report['hash']}", file=out)
    credits = report["provenance"]["credits_total"]
    print(f"source: {report['provenance']['source']}; credits spent: {credits:g}", file=out)
    if "plan" in report["provenance"]:
        print(format_plan_use(report["provenance"], path.parent), file=out)
    print(format_changes(before_constants(cfg), report["constants"]), file=out)
    return 0


def calibrate(cfg: Any, output_dir: Path | str | None = None) -> tuple[dict[str, Any], Path]:
    """The report (with hash) and where it was written."""
    calibration = _section(cfg, "calibration") or {}
    settings_conf = {f.name: calibration.get(f.name, f.default) for f in fields(CalibrationConf)
                     if f.name not in ("queries", "parameters", "dune")}
    target_dir = _output_dir(output_dir, settings_conf.get("output_dir"))
    catalog = load_catalog(calibration.get("queries_dir") or QUERIES_DIR)
    names = selected_queries(catalog, calibration)
    parameters = dict(calibration.get("parameters") or {})
    check_parameters(catalog, parameters)
    settings = FitSettings(
        fee_gate_multiple=float(settings_conf["fee_gate_multiple"]),
        recenter_gas_units=float(settings_conf["recenter_gas_units"]),
        window_days=int(settings_conf["window_days"]),
        thresholds=_thresholds(_section(cfg, "agent")),
    )
    suites_dir = Path(calibration.get("expectations_dir") or SUITES_DIR)
    source = make_source(calibration)
    planned = None
    if source.kind == "dune":
        from hbbatch.calibration.sources.dune_plan import fetch_planned

        planned = fetch_planned(source, cfg, catalog, names, parameters, settings, suites_dir)
        results = planned.results
    else:
        results = {name: source.fetch(catalog[name], overrides_for(catalog[name], parameters)) for name in names}
    check_results(results, catalog, suites_dir)

    content = fit_content(results, catalog, settings, planned.absent if planned else None)
    provenance = {
        "source": source.kind,
        "created_at": format_api_time(utc_now()),
        "hbbatch_version": __version__,
        "credits_total": float(sum(r.credits for r in results.values())),
        "executions": {name: {**results[name].summary(), **(planned.served[name] if planned else {})}
                       for name in sorted(results)},
    }
    if planned:
        provenance["plan"] = planned.summary()
    report = finish_report(content, provenance)
    validate_report(report, target_dir / REPORT_NAME)
    check_report(report, suites_dir)
    path = write_report(report, target_dir / REPORT_NAME)
    if planned:
        planned.plan.write_json(target_dir / planned.summary()["file"])
    return report, path


def before_constants(cfg: Any) -> dict[str, Any]:
    """The values a calibration replaces: the composed config's, else the schema defaults."""
    from dataclasses import asdict

    agent = {**asdict(AgentConf()), **(_section(cfg, "agent") or {})}
    mix = {**asdict(RegimeMixConf()), **(_section(cfg, "regime_mix") or {})}
    market = {**asdict(MarketConf()), **(_section(cfg, "market") or {})}
    return {"agent": {k: agent[k] for k in ("gas_usd", "fee_gate_usd")},
            "regime_mix": {r: mix[r] for r in REGIMES}, "market": market}


def format_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """A plain table: constant | before | after, one line per number (per regime where it has one)."""
    lines = []
    for section, values in after.items():
        for key, value in values.items():
            old = before.get(section, {}).get(key)
            if isinstance(value, Mapping):
                for regime in REGIMES:
                    lines.append((f"{section}.{key}.{regime}", _get(old, regime), value[regime]))
            else:
                lines.append((f"{section}.{key}", old, value))
    width = max(len(name) for name, _, _ in lines)
    header = f"{'constant':<{width}}  {'before':>14}  {'after':>14}"
    body = [f"{name:<{width}}  {_fmt(old):>14}  {_fmt(new):>14}" for name, old, new in lines]
    return "\n".join([header, "-" * len(header), *body])


def format_plan_use(provenance: Mapping[str, Any], folder: Path) -> str:
    """One line per query: run (fetched now) or from the cache with its age, and the plan's reason."""
    plan = provenance["plan"]
    lines = [f"query plan ({folder / plan['file']}): mode {plan['mode']}, "
             f"risk signals: {', '.join(plan['risk_signals']) or 'none'}"]
    for name, served in provenance["executions"].items():
        how = "ran" if served["served"] == "dune" else f"from cache, age {served['age_s']:.0f} s"
        lines.append(f"  {name}: {how} ({served['plan_reason']})")
    lines += [f"  {name}: not served: {why}" for name, why in plan["not_served"].items()]
    return "\n".join(lines)


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _section(cfg: Any, name: str) -> dict[str, Any] | None:
    """A config section as a plain dict, from an OmegaConf node or a mapping."""
    if cfg is None:
        return None
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            node = cfg.get(name)
            return OmegaConf.to_container(node, resolve=True) if node is not None else None
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    value = cfg.get(name) if isinstance(cfg, Mapping) else getattr(cfg, name, None)
    return dict(value) if value is not None else None


def _thresholds(agent: Mapping[str, Any] | None) -> Thresholds:
    agent = agent or {}
    defaults = Thresholds()
    return Thresholds(jump_sigmas=float(agent.get("jump_sigmas", defaults.jump_sigmas)),
                      jumpy_variance_share=float(agent.get("jumpy_variance_share", defaults.jumpy_variance_share)),
                      trend_tstat=float(agent.get("trend_tstat", defaults.trend_tstat)))


def _output_dir(explicit: Path | str | None, configured: str | None) -> Path:
    if explicit:
        return Path(explicit)
    if configured:
        return Path(configured)
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except (ImportError, ValueError):
        raise CalibrationError("calibration.output_dir: not set and no Hydra run is active; set "
                               "calibration.output_dir or run through `python -m hbbatch task=calibrate`") from None


def main(argv: list[str] | None = None) -> int:
    """Refit the committed default report from the embedded snapshot: python -m hbbatch.calibration.task [dir]."""
    from hbbatch.calibration.report import DEFAULT_REPORT_PATH

    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DEFAULT_REPORT_PATH.parent
    return run({"calibration": {"source": "snapshot"}}, output_dir=target)


if __name__ == "__main__":
    raise SystemExit(main())
