"""World validation: a world's stylised facts, over a sample of its episodes, against the real history's.

The check is a great-expectations suite (expectations/world/<suite>.json, loaded strictly by
hbbatch.quality) with one expectation per fact over a one-row table of the world's facts; its bounds
are `$PARAMETER`s, bound here to the real history's fact widened by the tolerance of the fact's group
(world.validation.tolerances). A fact the real history cannot give (NaN there: no data for it) is
skipped and says so; a fact the world cannot give while the history can is a failure. A fact the world
changes on purpose (world.validation.exempt_facts, a stress world's; hbbatch.config.world) is still
checked and reported, with whether it lies in the range, as `exempt` with its reason: it never fails.

The sample is `n_episodes` episodes of `n_weeks` weeks from the job's own simulator spec and params
(only its sizes changed), under the job's seed, the market alone (hbbatch.sim.market_path): the first
week of each is the market path the campaign's first episodes see.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from hbbatch.quality import SuiteError, bind_parameters, read_suite_json, validate
from hbbatch.worlds.facts import FACT_TITLES, MarketPaths, sample_sizes, stylised_facts

log = logging.getLogger(__name__)
PASS, FAIL, WARN, SKIPPED, EXEMPT = "pass", "fail", "warn", "skipped", "exempt"
MINUTES_PER_WEEK = 7 * 1440


class WorldValidationError(ValueError):
    """The world's facts miss the real history's: nothing was simulated. Carries the result."""

    def __init__(self, message: str, result: dict[str, Any]):
        super().__init__(message)
        self.result = result


def sample_paths(spec: Any, params: Any, seed: int, n_episodes: int, n_weeks: int, step_minutes: float) -> MarketPaths:
    """The world's market over a sample: the job's spec and params with the sample's sizes, the market alone
    (`hbbatch.sim.market_path`: the paths the rollout's episodes see, without the agent's work)."""
    from hbbatch.sim.market_path import market_paths

    n_steps = int(round(n_weeks * MINUTES_PER_WEEK / step_minutes))
    path = market_paths(dataclasses.replace(spec, n_episodes=int(n_episodes), n_steps=n_steps), params, seed=seed)
    opens = np.asarray(path.price_start_usd, float)[:, None]
    close = np.concatenate([opens, np.asarray(path.price_usd, float)], axis=1)
    fee_rate = float(np.mean(path.lp_fee_rate))   # the LPs' fee (constant over a world): a fee switch's shows
    return MarketPaths(step_minutes=step_minutes, close_usd=close, volume_usd=np.asarray(path.volume_usd, float),
                       gas_usd=np.asarray(path.gas_usd, float), pool_liquidity=np.asarray(path.pool_liquidity, float),
                       fee_rate=fee_rate)


def tolerance_group(fact: str, tolerances: Mapping[str, Any]) -> str:
    """The tolerance group a fact belongs to: the longest group name it starts with."""
    groups = [g for g in tolerances if fact.startswith(g)]
    if not groups:
        raise SuiteError(f"fact {fact!r} has no tolerance; add world.validation.tolerances.<group> for it "
                         f"(groups: {', '.join(tolerances)})")
    return max(groups, key=len)


def allowed_range(real: float, tolerance: Mapping[str, Any], fact: str) -> tuple[float, float]:
    """[low, high] a world's fact must lie in, from the real value and its group's tolerance."""
    absolute, factor = tolerance.get("abs"), tolerance.get("factor")
    if (absolute is None) == (factor is None):
        raise SuiteError(f"world.validation.tolerances for {fact!r}: give exactly one of abs or factor")
    if absolute is not None:
        if not absolute >= 0:
            raise SuiteError(f"world.validation.tolerances for {fact!r}: abs={absolute} must be >= 0")
        return real - absolute, real + absolute
    if not factor >= 1:
        raise SuiteError(f"world.validation.tolerances for {fact!r}: factor={factor} must be >= 1")
    if real <= 0:
        raise SuiteError(f"world.validation.tolerances for {fact!r}: a factor needs a positive real value "
                         f"(real {real:.4g}); use abs")
    return real / factor, real * factor


def _row(fact: str, real: float, world: float, low: float, high: float, status: str, severity: str,
         note: str = "") -> dict[str, Any]:
    clean = (lambda x: None if x is None or not math.isfinite(x) else float(x))
    return {"fact": fact, "title": FACT_TITLES.get(fact, fact), "real": clean(real), "world": clean(world),
            "low": clean(low), "high": clean(high), "status": status, "severity": severity, "note": note}


def _exempt(row: dict[str, Any], reason: str) -> None:
    """An exempt fact's row: reported as checked (in_range), with its reason; it never fails."""
    row["exempt_reason"] = reason
    if row["status"] == SKIPPED:
        return
    row["in_range"] = row["status"] == PASS
    row["status"] = EXEMPT
    row["note"] = f"exempt ({'in' if row['in_range'] else 'outside'} the range): {reason}"


def check_facts(world: Mapping[str, float], real: Mapping[str, float], conf: Mapping[str, Any],
                suite_path: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Each fact of the suite: real, world, allowed range and status (pass | fail | warn | skipped | exempt),
    and the GX suite result (None when no fact could be checked)."""
    tolerances = dict(conf["tolerances"])
    exempt = dict(conf.get("exempt_facts") or {})
    suite_json = read_suite_json(suite_path)
    kept, rows, parameters = [], {}, {}
    for expectation in suite_json["expectations"]:
        fact = expectation.get("kwargs", {}).get("column")
        if fact not in FACT_TITLES:
            raise SuiteError(f"{suite_path}: expectation on {fact!r}: not a stylised fact "
                             f"(known: {', '.join(FACT_TITLES)})")
        tolerance = tolerances[tolerance_group(fact, tolerances)]
        severity = str(tolerance.get("severity", "error"))
        if severity not in ("error", "warn"):
            raise SuiteError(f"world.validation.tolerances.{tolerance_group(fact, tolerances)}.severity="
                             f"{severity!r}: use error or warn")
        r, w = float(real.get(fact, math.nan)), float(world.get(fact, math.nan))
        if not math.isfinite(r):
            rows[fact] = _row(fact, r, w, math.nan, math.nan, SKIPPED, severity, "the real history has no data for it")
            continue
        low, high = allowed_range(r, tolerance, fact)
        if not math.isfinite(w):
            rows[fact] = _row(fact, r, w, low, high, FAIL if severity == "error" else WARN, severity,
                              "the world's sample gives no value")
            continue
        parameters.update({f"{fact}_min": low, f"{fact}_max": high})
        rows[fact] = _row(fact, r, w, low, high, PASS, severity)
        kept.append(expectation)
    unknown = sorted(set(exempt) - set(rows))
    if unknown:
        raise SuiteError(f"world.validation.exempt_facts.{unknown[0]}: not a fact of the suite {suite_path.name}; "
                         f"use one of {', '.join(rows)}")
    suite_result = None
    if kept:
        suite = bind_parameters({**suite_json, "expectations": kept}, parameters, suite_path,
                                where="world.validation.tolerances")
        outcome = validate(pd.DataFrame([{f: float(world[f]) for f in (e["kwargs"]["column"] for e in kept)}]),
                           suite_path, suite_json=suite)
        for o in outcome.outcomes:
            row = rows[o.kwargs["column"]]
            if not o.success:
                row["status"] = FAIL if row["severity"] == "error" else WARN
        suite_result = outcome.to_dict()
    for fact, reason in exempt.items():
        _exempt(rows[fact], reason)
    return list(rows.values()), suite_result


def describe(row: dict[str, Any]) -> str:
    """One fact's miss as text: its world value, the real one and the allowed range."""
    if row["world"] is None:
        return f"{row['fact']}: {row['note']} (real {row['real']:.4g})"
    return (f"{row['fact']} = {row['world']:.4g} (real {row['real']:.4g}, allowed "
            f"[{row['low']:.4g}, {row['high']:.4g}])")


def validate_world(world_paths: MarketPaths, real_facts: Mapping[str, float], conf: Mapping[str, Any],
                   expectations_dir: Path, world: str = "world") -> dict[str, Any]:
    """The world's validation result (a JSON-able dict); `success` is False when an error-severity fact missed."""
    t0 = time.perf_counter()
    facts = stylised_facts(world_paths)
    suite_path = Path(expectations_dir) / "world" / f"{conf['suite']}.json"
    rows, suite_result = check_facts(facts, real_facts, conf, suite_path)
    failed = [r for r in rows if r["status"] == FAIL]
    exempt = [r for r in rows if r["status"] == EXEMPT]
    status = FAIL if failed else PASS
    checked = len(rows) - len(exempt)
    exempt_note = (f" ({len(exempt)} exempt by design: {', '.join(r['fact'] for r in exempt)})" if exempt else "")
    return {
        "world": world, "status": status, "success": not failed, "suite": conf["suite"],
        "sample": {**sample_sizes(world_paths), "n_weeks": int(conf["n_weeks"]),
                   "step_minutes": float(world_paths.step_minutes)},
        "facts": rows, "failed": [r["fact"] for r in failed],
        "warned": [r["fact"] for r in rows if r["status"] == WARN],
        "skipped": [r["fact"] for r in rows if r["status"] == SKIPPED],
        "exempt": [{"fact": r["fact"], "reason": r["exempt_reason"], "status": r["status"],
                    "in_range": r.get("in_range")} for r in rows if "exempt_reason" in r],
        "message": (f"world {world} passed {sum(r['status'] == PASS for r in rows)} of {checked} stylised facts"
                    if not failed else f"world {world} fails {len(failed)} of {checked} stylised facts: "
                    + "; ".join(describe(r) for r in failed)) + exempt_note,
        "suite_result": suite_result,
        "seconds": time.perf_counter() - t0,
    }


def facts_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """A validation result's facts as a table (fact, title, real, world, low, high, status)."""
    return pd.DataFrame(result.get("facts", []))
