"""The roadmap's success criteria: great-expectations suites (expectations/success/*.json) run over the
comparison, summary and rules tables of each judged variant against the baseline.

A check names a suite and a table (conf/criteria/*.yaml); thresholds are the suites' `$PARAMETER`s,
bound from the config (plus each variant's own hard cap K) before GX sees the suite. A failure names
the criterion, the variant and by how much it missed. great_expectations is imported only inside
`hbbatch.quality.validate`, when a check actually runs: a check whose table and bound suite GX already
validated reuses that result (hbbatch.quality's suite result cache) and says so in its suite_result.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hbbatch import quality
from hbbatch.quality import ExpectationOutcome, SuiteError, read_suite_json, validate

PASS, FAIL, WARN, ERROR, SKIPPED = "pass", "fail", "warn", "error", "skipped"
SEVERITIES = ("error", "warn")
TABLES = ("comparison", "summary", "rules")


@dataclass(frozen=True)
class CriterionResult:
    check: str
    variant: str
    baseline: str
    suite: str
    status: str                 # pass | fail | warn (a miss of a severity: warn check) | error | skipped
    message: str
    description: str = ""
    suite_result: dict[str, Any] | None = None
    execution_time: float = 0.0
    world: str = ""             # the scenario judged in; "" where the run has one world
    severity: str = "error"

    @property
    def unique_id(self) -> str:
        return f"criterion.{self.check}.{self.variant}" + (f"@{self.world}" if self.world else "")

    def to_dict(self) -> dict[str, Any]:
        return {"unique_id": self.unique_id, **asdict(self)}


def _where(variant: str, baseline: str, world: str) -> str:
    return f"[{variant} vs {baseline}{' in ' + world if world else ''}]"


def bind_parameters(suite_json: dict[str, Any], parameters: dict[str, Any], path: Path) -> dict[str, Any]:
    """The suite with its `$PARAMETER`s bound from criteria.thresholds (hbbatch.quality.bind_parameters)."""
    return quality.bind_parameters(suite_json, parameters, path, where="criteria.thresholds")


def ratio_to_baseline(value: float, base: float) -> float:
    """value / base; 1.0 when both are 0 (nothing against nothing), inf for something against nothing."""
    if base > 0:
        return value / base
    return 1.0 if value == 0 else math.inf


def _paired_mean(pairs: pd.DataFrame, metric: str) -> float:
    if not len(pairs) or "mean_diff" not in pairs.columns:
        return math.nan
    row = pairs[(pairs["metric"] == metric) & (pairs["regime"] == "all")]
    return float(row["mean_diff"].iloc[0]) if len(row) else math.nan


def gas_per_gain(gas_ratio: float, extra_gas_usd: float, net_pnl_gain_usd: float, gas_ratio_max: float) -> float:
    """Dollars of extra gas paid for each dollar of net PnL it buys, against the baseline.

    0 while gas stays within `gas_ratio_max` times the baseline's (no extra gas to weigh); otherwise the paired
    extra gas over the paired net PnL gain (net of that gas), and inf when there is no gain to pay for it.
    """
    if not math.isfinite(extra_gas_usd) or gas_ratio <= gas_ratio_max or extra_gas_usd <= 0:
        return 0.0
    return extra_gas_usd / net_pnl_gain_usd if net_pnl_gain_usd > 0 else math.inf


def criteria_tables(variant: str, baseline: str, comparison: pd.DataFrame, variants: pd.DataFrame,
                    rules: dict[str, pd.DataFrame], gas_ratio_max: float = 1.10) -> dict[str, pd.DataFrame]:
    """The three tables a check can run over, for one judged variant (all of one world).

    comparison: its paired rows against the baseline (every metric and regime);
    summary: its one row of the variants table, with its gas and widens per episode relative to the baseline's,
    the paired extra gas and net PnL gain per week, and the extra gas per dollar of gain (gas_per_gain);
    rules: its per-rule totals, marking rules that lose money (negative attributed PnL) in the variant but
    not in the baseline, and the share of the variant's actions they take.
    """
    pairs = comparison[(comparison["variant"] == variant) & (comparison["baseline"] == baseline)].reset_index(drop=True)
    rows = variants.set_index("variant")
    v, b = rows.loc[variant], rows.loc[baseline]
    summary = rows.loc[[variant]].reset_index()
    weeks = float(v["weeks_per_episode"]) if "weeks_per_episode" in rows.columns else 1.0
    gas_ratio = ratio_to_baseline(v["gas_per_episode_usd"], b["gas_per_episode_usd"])
    extra_gas, gain = _paired_mean(pairs, "gas_usd"), _paired_mean(pairs, "net_pnl_usd")
    summary["gas_ratio_vs_baseline"] = gas_ratio
    summary["widens_ratio_vs_baseline"] = ratio_to_baseline(v["widens_per_episode"], b["widens_per_episode"])
    summary["extra_gas_usd_per_week"] = extra_gas / weeks
    summary["net_pnl_gain_usd_per_week"] = gain / weeks
    summary["gas_per_gain"] = gas_per_gain(gas_ratio, extra_gas, gain, gas_ratio_max)
    bad_in_baseline = set(rules[baseline].loc[rules[baseline]["bad"], "rule"])
    rule_table = rules[variant].copy()
    rule_table["bad_in_baseline"] = rule_table["rule"].isin(bad_in_baseline)
    rule_table["new_bad"] = rule_table["bad"] & ~rule_table["bad_in_baseline"]
    rule_table["new_bad_action_share"] = rule_table["action_share"].where(rule_table["new_bad"], 0.0)
    return {"comparison": pairs, "summary": summary, "rules": rule_table}


def _fmt(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else repr(x)


def miss(outcome: ExpectationOutcome) -> str:
    """How an expectation missed: the observed value against its bound, and by how much."""
    kw, observed = outcome.kwargs, outcome.observed
    title = outcome.meta.get("title") or f"{outcome.expectation_type} on '{kw.get('column')}'"
    if not isinstance(observed, (int, float)) or isinstance(observed, bool) or math.isnan(observed):
        return f"{title}: observed {observed!r}"
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is not None and (observed < low or (kw.get("strict_min") and observed <= low)):
        bound = ">" if kw.get("strict_min") else ">="
        return f"{title} = {_fmt(observed)}, needs {bound} {_fmt(low)} (short by {_fmt(low - observed)})"
    if high is not None and (observed > high or (kw.get("strict_max") and observed >= high)):
        bound = "<" if kw.get("strict_max") else "<="
        return f"{title} = {_fmt(observed)}, needs {bound} {_fmt(high)} (over by {_fmt(observed - high)})"
    return f"{title} = {_fmt(observed)}"


def run_check(name: str, check: dict[str, Any], variant: str, baseline: str, tables: dict[str, pd.DataFrame],
              parameters: dict[str, Any], expectations_dir: Path, world: str = "") -> CriterionResult:
    """One check for one variant: pass, fail (with what missed by how much) or error (unusable suite)."""
    t0 = time.perf_counter()
    path = Path(expectations_dir) / "success" / f"{check['suite']}.json"
    common = {"check": name, "variant": variant, "baseline": baseline, "suite": check["suite"],
              "description": check.get("description", ""), "world": world,
              "severity": str(check.get("severity", "error"))}
    where = _where(variant, baseline, world)
    try:
        if check["table"] not in TABLES:
            raise SuiteError(f"criteria.checks.{name}.table={check['table']!r}: use one of {', '.join(TABLES)}")
        if check.get("severity", "error") not in SEVERITIES:
            raise SuiteError(f"criteria.checks.{name}.severity={check['severity']!r}: use one of {', '.join(SEVERITIES)}")
        suite_json = bind_parameters(read_suite_json(path), parameters, path)
        if not quality.is_stored(tables[check["table"]], suite_json):
            quality.import_gx_quietly()   # once per process: not this check's own time
            t0 = time.perf_counter()
        outcome = validate(tables[check["table"]], path, suite_json=suite_json)
    except SuiteError as exc:
        return CriterionResult(**common, status=ERROR, message=str(exc), execution_time=time.perf_counter() - t0)
    if outcome.success:
        observed = "; ".join(miss(o) for o in outcome.outcomes)
        status, message = PASS, f"{name} {where} passed: {observed}"
    else:
        missed = "; ".join(miss(o) for o in outcome.failures)
        warn_only = check.get("severity", "error") == "warn"
        status = WARN if warn_only else FAIL
        message = f"{name} {where} {'missed (severity warn)' if warn_only else 'failed'}: {missed}"
    return CriterionResult(**common, status=status, message=message, suite_result=outcome.to_dict(),
                           execution_time=time.perf_counter() - t0)


def evaluate(checks: dict[str, dict[str, Any]], thresholds: dict[str, Any], *, baseline: str, judged: list[str],
             comparison: pd.DataFrame, variants: pd.DataFrame, rules: dict[str, pd.DataFrame],
             hard_caps: dict[str, int], failed_jobs: set[str], expectations_dir: Path,
             unpaired: dict[str, str] | None = None, world: str = "") -> list[CriterionResult]:
    """Every check for every judged variant of one world; checks touching a failed job are skipped, as dbt
    skips the tests of a model that errored, and so are the checks of a variant that was not paired with the
    baseline (`unpaired`: variant -> why, e.g. different seeds or another world): the comparison table's checks
    always, the others too where the reason is a different world (nothing it shows is about its settings)."""
    unpaired = unpaired or {}
    results = []
    for variant in judged:
        broken = sorted({variant, baseline} & failed_jobs)
        tables = None if broken or variant not in set(variants["variant"]) else criteria_tables(
            variant, baseline, comparison, variants, rules, float(thresholds.get("gas_ratio_max", 1.10)))
        where = _where(variant, baseline, world)
        for name, check in checks.items():
            common = dict(description=check.get("description", ""), world=world,
                          severity=str(check.get("severity", "error")))
            if broken:
                results.append(CriterionResult(name, variant, baseline, check["suite"], SKIPPED,
                                               f"{name} {where} skipped: job(s) {', '.join(broken)} errored", **common))
                continue
            if variant in unpaired and (check["table"] == "comparison" or tables is None):
                results.append(CriterionResult(name, variant, baseline, check["suite"], SKIPPED,
                                               f"{name} {where} skipped: not paired with the baseline: "
                                               f"{unpaired[variant]}", **common))
                continue
            parameters = {**thresholds, "max_actions": hard_caps[variant]}
            results.append(run_check(name, check, variant, baseline, tables, parameters, expectations_dir, world))
    return results
