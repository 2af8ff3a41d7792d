"""After the jobs: label the variants, compare them pairwise, gate on the success criteria, write the
run's artifacts (comparison.parquet, criteria.json, summary.json, run_results.json, report.html) and
print the table. Reads only what the jobs wrote, so it works the same whichever launcher ran them.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hbbatch import exit_codes, stats
from hbbatch.campaign.job import EPISODES, SUMMARY
from hbbatch import io as hbio
from hbbatch.report.run_results import build_run_results
from hbbatch.report.summary import variant_row

log = logging.getLogger(__name__)
COMPARISON, CRITERIA, RUN_RESULTS, REPORT = "comparison.parquet", "criteria.json", "run_results.json", "report.html"


class RunConfigError(ValueError):
    """The criteria name a baseline or judged variant that no job has."""


@dataclass
class Job:
    num: int
    dir: Path
    record: dict[str, Any]     # the job's summary.json
    label: str = ""

    @property
    def status(self) -> str:
        return self.record.get("status", "error")

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "num": self.num, "dir": str(self.dir), "status": self.status,
                "message": self.record.get("message", ""), "timing": self.record.get("timing", []),
                "execution_time": self.record.get("execution_time", 0.0),
                "config_hash": self.record.get("config_hash"),
                "calibration_hash": self.record.get("calibration_hash", "none"),
                "campaign": self.record.get("campaign")}


def load_job(job_dir: Path) -> Job:
    """A job from its folder; one without summary.json was killed or crashed before recording a status."""
    prefix = re.match(r"(\d+)", job_dir.name)
    num = int(prefix.group(1)) if prefix else 0
    path = job_dir / SUMMARY
    if path.is_file():
        record = hbio.read_json(path)
        return Job(int(record.get("job_num", num)), job_dir, record)
    overrides: list[str] = []
    hydra_overrides = job_dir / ".hydra" / "overrides.yaml"
    if hydra_overrides.is_file():
        import yaml

        overrides = list(yaml.safe_load(hydra_overrides.read_text()) or [])
    return Job(num, job_dir, {"status": "error", "overrides": overrides, "campaign": None,
                              "message": f"{job_dir.name}: no {SUMMARY}; the job did not finish"})


def collect_jobs(run_dir: Path) -> list[Job]:
    """The jobs of a sweep folder (each subfolder Hydra made), in launch order."""
    dirs = [d for d in run_dir.iterdir() if d.is_dir() and ((d / SUMMARY).is_file() or (d / ".hydra").is_dir())]
    return sorted((load_job(d) for d in dirs), key=lambda j: j.num)


def label_jobs(jobs: list[Job]) -> None:
    """Label each job by the overrides that differ between jobs (`campaign=A` reads as `A`); a lone job by
    its campaign."""
    parsed = []
    for job in jobs:
        pairs = (o.split("=", 1) for o in job.record.get("overrides", []) if "=" in o)
        parsed.append({k.lstrip("+~"): v for k, v in pairs})
    keys = list(dict.fromkeys(k for p in parsed for k in p))
    varying = [k for k in keys if len({p.get(k) for p in parsed}) > 1]
    seen: dict[str, int] = {}
    for job, p in zip(jobs, parsed):
        parts = [p.get(k, "-") if k == "campaign" else f"{k}={p.get(k, '-')}" for k in varying]
        label = ",".join(parts) or str(job.record.get("campaign") or "default")
        seen[label] = seen.get(label, 0) + 1
        job.label = label if seen[label] == 1 else f"{label}#{job.num}"


def _pairs(labels: list[str], baseline: str | None, judged: list[str]) -> list[tuple[str, str]]:
    """Every later job against every earlier one, and each judged variant against the baseline."""
    pairs = [(later, earlier) for i, earlier in enumerate(labels) for later in labels[i + 1:]]
    for variant in judged:
        if (variant, baseline) not in pairs:
            pairs = [p for p in pairs if p != (baseline, variant)] + [(variant, baseline)]
    return pairs


def _baseline_and_judged(criteria: dict[str, Any], labels: list[str]) -> tuple[str | None, list[str]]:
    if len(labels) < 2:
        return None, []
    baseline = criteria.get("baseline") or labels[0]
    if baseline not in labels:
        raise RunConfigError(f"criteria.baseline={baseline!r}: no job has this label; the jobs are "
                             f"{', '.join(labels)}")
    judged = list(criteria.get("judged") or [lb for lb in labels if lb != baseline])
    unknown = [lb for lb in judged if lb not in labels]
    if unknown:
        raise RunConfigError(f"criteria.judged: {unknown} not among the jobs {', '.join(labels)}")
    return baseline, judged


PAIRED_SHARE_WARN = 0.9   # below this, a comparison rests on a minority of one side's episodes: say so


def _seeds(frame: pd.DataFrame) -> tuple[int, ...]:
    return tuple(sorted(int(x) for x in frame["seed"].unique())) if "seed" in frame.columns else ()


def compare_variants(episodes: dict[str, pd.DataFrame], baseline: str | None, judged: list[str],
                     stats_conf: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, str]]]:
    """Paired comparisons of the pairs of variants that ran the same seeds, each variant's convergence table,
    and the pairs left out with the reason (episodes of different seeds share no market path)."""
    common = {"confidence": stats_conf["confidence"], "n_bootstrap": stats_conf["n_bootstrap"],
              "seed": stats_conf["bootstrap_seed"]}
    pairs = _pairs(list(episodes), baseline if baseline in episodes else None, [v for v in judged if v in episodes])
    frames, skipped = [], []
    for v, b in pairs:
        seeds_v, seeds_b = _seeds(episodes[v]), _seeds(episodes[b])
        if seeds_v != seeds_b:
            skipped.append({"variant": v, "baseline": b, "reason": f"different seeds ({list(seeds_v)} vs "
                            f"{list(seeds_b)}): their episodes share no market path", "kind": "seed"})
            continue
        try:
            frame = stats.compare_pair(episodes[v], episodes[b], list(stats_conf["metrics"]), variant_label=v,
                                       baseline_label=b, **common)
        except stats.PairingError as exc:
            skipped.append({"variant": v, "baseline": b, "reason": str(exc), "kind": "pairing"})
            continue
        overall = frame[frame["regime"] == stats.ALL].iloc[0]
        if overall["paired_share"] < PAIRED_SHARE_WARN:
            log.warning("%s - %s: only %.0f %% of episodes paired (%d of min(%d, %d)); %d shared the index but "
                        "not the market path", v, b, 100 * overall["paired_share"], overall["n_pairs"],
                        overall["n_variant"], overall["n_baseline"], overall["unpaired_mismatch"])
        frames.append(frame)
    for item in skipped:
        log.warning("%s - %s not compared: %s", item["variant"], item["baseline"], item["reason"])
    comparison = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=stats.COMPARISON_COLUMNS)
    tables = [stats.convergence(frame, "return", stats_conf["convergence_episodes"], common["confidence"],
                                common["n_bootstrap"], common["seed"], label) for label, frame in episodes.items()]
    return comparison, (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()), skipped


def paired_shares(comparison: pd.DataFrame) -> dict[str, float]:
    """Each compared pair's paired share over all regimes ("B - A": 1.0)."""
    if comparison.empty:
        return {}
    overall = comparison[comparison["regime"] == stats.ALL].drop_duplicates("pair")
    return dict(zip(overall["pair"], overall["paired_share"].astype(float)))


def exit_status(errors: list[str], statuses: list[str], fail_on_violation: bool) -> int:
    """dbt's convention: 2 for an error anywhere, 1 for a failed criterion (unless only reported), else 0."""
    if errors or "error" in statuses:
        return exit_codes.ERROR
    if "fail" in statuses and fail_on_violation:
        return exit_codes.FAILED
    return exit_codes.OK


def finish_run(run_dir: Path, jobs: list[Job], config: dict[str, Any], started: float | None = None,
               single: bool = False) -> int:
    """Everything after the jobs; returns the exit status (0 ok, 1 a failed criterion, 2 an error).

    `single`: a run without sweep, whose folder is the job's own (its summary.json stays the job's).
    run_results.json is written whatever happens: if post-processing raises, it records exit 2 and the
    error, then the error propagates.
    """
    run_dir = Path(run_dir)
    try:
        return _finish_run(run_dir, jobs, config, started, single)
    except Exception as exc:
        from hbbatch.cli import one_line

        job_dicts = [j.as_dict() for j in jobs]
        elapsed = (time.time() - started) if started else sum(j["execution_time"] for j in job_dicts)
        hbio.write_json(run_dir / RUN_RESULTS, build_run_results(
            jobs=job_dicts, criteria=[], experiment=str(config.get("experiment_name", "default")), elapsed_s=elapsed,
            exit_code=exit_codes.ERROR, args={"run_dir": str(run_dir)},
            errors=[f"post-processing failed: {one_line(exc)}"]))
        raise


def _finish_run(run_dir: Path, jobs: list[Job], config: dict[str, Any], started: float | None,
                single: bool) -> int:
    t0 = time.perf_counter()
    label_jobs(jobs)
    crit_conf, stats_conf = config["criteria"], config["stats"]
    experiment = str(config.get("experiment_name", "default"))
    ok = [j for j in jobs if j.status == "success"]
    errors = [f"job {j.label}: {j.record.get('message', '')}" for j in jobs if j.status != "success"]
    try:
        baseline, judged = _baseline_and_judged(crit_conf, [j.label for j in jobs])
    except RunConfigError as exc:
        errors.append(str(exc))
        baseline, judged = None, []

    variants = pd.DataFrame([variant_row(j.label, j.record["summary"]) for j in ok])
    episodes = {j.label: pd.read_parquet(j.dir / EPISODES) for j in ok}
    rules = {j.label: pd.DataFrame(j.record["summary"]["rules"]) for j in ok}
    comparison, convergence, skipped_pairs = compare_variants(episodes, baseline, judged, stats_conf)
    # a pair of one seed whose episodes never saw the same market is misconfigured: an error of the run
    errors += [f"{p['variant']} - {p['baseline']}: {p['reason']}" for p in skipped_pairs if p["kind"] == "pairing"]

    criteria_results = []
    if crit_conf.get("enabled", True) and crit_conf.get("checks") and judged:
        from hbbatch.criteria import evaluate

        criteria_results = evaluate(
            dict(crit_conf["checks"]), dict(crit_conf["thresholds"]), baseline=baseline, judged=judged,
            comparison=comparison, variants=variants, rules=rules,
            hard_caps={j.label: j.record["summary"]["hard_cap"]["max_actions"] for j in ok},
            failed_jobs={j.label for j in jobs if j.status != "success"},
            expectations_dir=Path(config["paths"]["expectations_dir"]),
            unpaired={p["variant"]: p["reason"] for p in skipped_pairs if p["baseline"] == baseline})
    statuses = [c.status for c in criteria_results]
    code = exit_status(errors, statuses, crit_conf.get("fail_on_violation", True))

    job_dicts = [j.as_dict() for j in jobs]
    shares = paired_shares(comparison)
    hbio.write_parquet(run_dir / COMPARISON, comparison)
    if judged:
        hbio.write_json(run_dir / CRITERIA, {
            "baseline": baseline, "judged": judged, "thresholds": dict(crit_conf["thresholds"]),
            "fail_on_violation": crit_conf.get("fail_on_violation", True),
            "results": [c.to_dict() for c in criteria_results]})
    if not single:
        hbio.write_json(run_dir / SUMMARY, {
            "experiment": experiment, "baseline": baseline, "judged": judged, "exit_code": code,
            "jobs": job_dicts, "variants": variants.to_dict(orient="records"), "paired_share": shares,
            "skipped_pairs": skipped_pairs, "convergence": convergence.to_dict(orient="records"), "errors": errors})
    elapsed = (time.time() - started) if started else sum(j["execution_time"] for j in job_dicts)
    hbio.write_json(run_dir / RUN_RESULTS, build_run_results(
        jobs=job_dicts, criteria=criteria_results, experiment=experiment, elapsed_s=elapsed, exit_code=code,
        args={"run_dir": str(run_dir)}, errors=errors, skipped_pairs=skipped_pairs))
    if config["report"].get("html", True):
        from hbbatch.report.html import render_report

        hbio.write_text(run_dir / REPORT, render_report(
            experiment=experiment, jobs=job_dicts, variants=variants, comparison=comparison,
            convergence=convergence, criteria=criteria_results, episodes=episodes, baseline=baseline,
            errors=errors, exit_code=code, confidence=stats_conf["confidence"], rules=rules,
            skipped_pairs=skipped_pairs))

    counts = {s: statuses.count(s) for s in ("pass", "warn", "fail", "error", "skipped") if s in statuses}
    footer = errors + [f"not compared: {p['variant']} - {p['baseline']}: {p['reason']}"
                       for p in skipped_pairs if p["kind"] != "pairing"]
    if shares:
        footer.append("paired share: " + ", ".join(f"{pair} {100 * share:.0f} %" for pair, share in shares.items()))
    footer.append(f"{len(jobs)} job(s), criteria {counts or 'none'}, exit {code}; artifacts in {run_dir} "
                  f"(post-processing {time.perf_counter() - t0:.1f} s)")
    if config["report"].get("table", True):
        from hbbatch.report.table import print_report

        print_report(variants, job_dicts, criteria_results, baseline, f"{experiment}: {run_dir.name}",
                     stats_conf["confidence"], footer, convergence)
    else:
        for line in [c.message for c in criteria_results if c.status != "pass"] + footer:
            log.info(line)
    return code
