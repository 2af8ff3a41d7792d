"""After the jobs: label the variants, compare them pairwise, gate on the success criteria, write the
run's artifacts (comparison.parquet, criteria.json, summary.json, run_results.json, report.html) and
print the table. Reads only what the jobs wrote, so it works the same whichever launcher ran them.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hbbatch import exit_codes, runs, stats, tables
from hbbatch import io as hbio
from hbbatch.errors import one_line
from hbbatch.report import axes
from hbbatch.report import rule_values
from hbbatch.report.files import EPISODES, MANIFEST, RULE_VALUES, SUMMARY
from hbbatch.report.gas import DEFAULT_BELIEF_FACTOR, belief, gas_lines, gas_rows
from hbbatch.report.run_results import build_run_results
from hbbatch.report.summary import pooled_summary, variant_row
from hbbatch.report.verdict import money

log = logging.getLogger(__name__)
COMPARISON, CRITERIA, RUN_RESULTS, REPORT = "comparison.parquet", "criteria.json", "run_results.json", "report.html"
CALIBRATION_SPREAD = "calibration_spread.parquet"   # hbbatch.campaign.calibration_spread


class RunConfigError(ValueError):
    """The criteria name a baseline or judged variant that no job has."""


RunConfigErrors = (RunConfigError, axes.AxisError)


@dataclass
class Job:
    num: int
    dir: Path
    record: dict[str, Any]     # the job's summary.json
    label: str = ""            # its agent settings (the variant)
    world: str = ""            # the scenario it ran in

    @property
    def status(self) -> str:
        return self.record.get("status", "error")

    @property
    def weeks_per_episode(self) -> float:
        return float(self.record.get("weeks_per_episode") or 1.0)

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "world": self.world, "num": self.num, "dir": str(self.dir),
                "status": self.status, "message": self.record.get("message", ""),
                "timing": self.record.get("timing", []), "execution_time": self.record.get("execution_time", 0.0),
                "config_hash": self.record.get("config_hash"),
                "calibration_hash": self.record.get("calibration_hash", "none"),
                "campaign": self.record.get("campaign"), "seed": self.record.get("seed"),
                "world_validation": self.record.get("world_validation")}


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


def label_jobs(jobs: list[Job]) -> dict[str, dict[str, str]]:
    """Label each job by its agent settings that differ between jobs (`campaign=A` reads as `A`) and by its
    world (the swept scenario, else the world it ran in); seeds are replications and label nothing. Returns
    each setting label's values of the swept setting keys (for finding the baseline)."""
    parsed = [axes.parse_overrides(job.record.get("overrides", [])) for job in jobs]
    setting_keys = axes.varying_keys(parsed, axes.SETTING)
    world_keys = axes.varying_keys(parsed, axes.SCENARIO)
    values: dict[str, dict[str, str]] = {}
    seen: dict[tuple[str, str, Any], int] = {}
    for job, p in zip(jobs, parsed):
        label = axes.setting_label(p, setting_keys, job.record.get("campaign"))
        job.world = axes.world_label(p, world_keys, job.record.get("world"))
        key = (label, job.world, job.record.get("seed", p.get("seed")))
        seen[key] = seen.get(key, 0) + 1
        job.label = label if seen[key] == 1 else f"{label}#{job.num}"   # the same run twice: keep both apart
        values.setdefault(job.label, {k: p[k] for k in setting_keys if k in p})
    return values


def _pairs(labels: list[str], baseline: str | None, judged: list[str], all_pairs_up_to: int = 4) -> list[tuple[str, str]]:
    """Every later job against every earlier one (up to `all_pairs_up_to` variants; beyond, a search's many trials,
    only each against the baseline), and each judged variant against the baseline."""
    pairs = ([(later, earlier) for i, earlier in enumerate(labels) for later in labels[i + 1:]]
             if len(labels) <= all_pairs_up_to or baseline is None else [])
    for variant in judged:
        if (variant, baseline) not in pairs:
            pairs = [p for p in pairs if p != (baseline, variant)] + [(variant, baseline)]
    return pairs


def baseline_and_judged(criteria: dict[str, Any], values: dict[str, dict[str, str]],
                        base_config: dict[str, Any] | None) -> tuple[str | None, list[str]]:
    """criteria.baseline, else the job running the base config's settings (hbbatch.report.axes); the judged
    variants: criteria.judged, else every other setting."""
    labels = list(values)
    if len(labels) < 2:
        return None, []
    baseline = criteria.get("baseline")
    if baseline is None:
        keys = list(dict.fromkeys(k for v in values.values() for k in v))
        baseline = axes.default_baseline(values, keys, base_config or {}, criteria.get("baseline_campaign", "A"))
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
                     stats_conf: dict[str, Any], world: str = axes.DEFAULT_WORLD
                     ) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, str]]]:
    """Paired comparisons of the pairs of variants of one world that ran the same seeds, each variant's
    convergence table, and the pairs left out with the reason (episodes of different seeds share no path)."""
    common = {"confidence": stats_conf["confidence"], "n_bootstrap": stats_conf["n_bootstrap"],
              "seed": stats_conf["bootstrap_seed"]}
    pairs = _pairs(list(episodes), baseline if baseline in episodes else None, [v for v in judged if v in episodes])
    frames, skipped = [], []
    for v, b in pairs:
        seeds_v, seeds_b = _seeds(episodes[v]), _seeds(episodes[b])
        side_v, side_b = episodes[v], episodes[b]
        if seeds_v != seeds_b:
            shared = sorted(set(seeds_v) & set(seeds_b))
            if not shared:
                skipped.append({"variant": v, "baseline": b, "world": world, "kind": "seed",
                                "reason": f"different seeds ({list(seeds_v)} vs {list(seeds_b)}): their episodes "
                                          "share no market path"})
                continue
            # replications of one setting pool; a pair compares the seeds both ran, and says which it left out
            skipped.append({"variant": v, "baseline": b, "world": world, "kind": "seed_subset",
                            "reason": f"compared on seeds {shared} only ({list(seeds_v)} vs {list(seeds_b)} ran)"})
            side_v, side_b = (f[f["seed"].isin(shared)] for f in (side_v, side_b))
        try:
            frame = stats.compare_pair(side_v, side_b, list(stats_conf["metrics"]), variant_label=v,
                                       baseline_label=b, **common)
        except stats.PairingError as exc:
            skipped.append({"variant": v, "baseline": b, "world": world, "reason": str(exc), "kind": "pairing"})
            continue
        overall = frame[frame["regime"] == stats.ALL].iloc[0]
        if overall["paired_share"] < PAIRED_SHARE_WARN:
            log.warning("%s - %s in %s: only %.0f %% of episodes paired (%d of min(%d, %d)); %d shared the index but "
                        "not the market path", v, b, world, 100 * overall["paired_share"], overall["n_pairs"],
                        overall["n_variant"], overall["n_baseline"], overall["unpaired_mismatch"])
        frames.append(frame)
    for item in skipped:
        log.warning("%s - %s in %s not compared: %s", item["variant"], item["baseline"], world, item["reason"])
    comparison = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=stats.COMPARISON_COLUMNS)
    comparison.insert(0, "world", world)
    tables = [stats.convergence(frame, "return", stats_conf["convergence_episodes"], common["confidence"],
                                common["n_bootstrap"], common["seed"], label) for label, frame in episodes.items()]
    convergence = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if len(convergence):
        convergence.insert(0, "world", world)
    return comparison, convergence, skipped


def paired_shares(comparison: pd.DataFrame) -> dict[str, float]:
    """Each compared pair's paired share over all regimes ("B - A": 1.0; "B - A @ stress" with several worlds)."""
    if comparison.empty:
        return {}
    overall = comparison[comparison["regime"] == stats.ALL].drop_duplicates(["world", "pair"])
    several = overall["world"].nunique() > 1
    return {(f"{r.pair} @ {r.world}" if several else r.pair): float(r.paired_share) for r in overall.itertuples()}


def world_mismatches(jobs: list[Job], baseline: str | None) -> list[dict[str, str]]:
    """Pairs of one world whose jobs ran different worlds (a setting that changed the market, the mix or the
    world itself): refused, each with the sections that differ."""
    refused = []
    by_world: dict[str, list[Job]] = {}
    for job in jobs:
        if job.status == "success" and job.record.get("world_hash"):
            by_world.setdefault(job.world, []).append(job)
    for world, members in by_world.items():
        reference = next((j for j in members if j.label == baseline), members[0])
        ref_hash = reference.record["world_hash"]
        for job in members:
            other = job.record["world_hash"]
            differ = sorted(k for k in set(ref_hash) | set(other) if ref_hash.get(k) != other.get(k))
            if differ and not any(r["variant"] == job.label for r in refused):
                refused.append({"variant": job.label, "baseline": reference.label, "world": world, "kind": "world",
                                "reason": f"runs in another world than {reference.label} ({', '.join(differ)} "
                                          "differ): settings are compared in one world; make the world a scenario "
                                          "(sweep world=..., or list it in experiment.worlds) instead of changing "
                                          "it with the settings"})
    return refused


@dataclass
class WorldRun:
    """The variants of one world: pooled episodes (replications concatenated), summaries and rule totals."""

    name: str
    episodes: dict[str, pd.DataFrame]
    summaries: dict[str, dict[str, Any]]
    weeks: dict[str, float]
    spreads: dict[str, pd.DataFrame]   # a setting's episodes in refits of a calibrated world (where run)


def pool_worlds(jobs: list[Job], stats_conf: dict[str, Any], refused: set[tuple[str, str]],
                from_episode: int | None = None) -> list[WorldRun]:
    """Group successful jobs by world, then by setting; a setting's replications (seeds) are pooled.
    `from_episode`: only episodes from this index on (an optimiser's out-of-sample windows), summaries recomputed."""
    grouped: dict[str, dict[str, list[Job]]] = {}
    for job in jobs:
        if job.status == "success" and (job.label, job.world) not in refused:
            grouped.setdefault(job.world, {}).setdefault(job.label, []).append(job)
    worlds = []
    for world, settings in grouped.items():
        episodes, summaries, weeks, spreads = {}, {}, {}, {}
        for label, members in settings.items():
            if (members[0].dir / CALIBRATION_SPREAD).is_file():
                spreads[label] = pd.read_parquet(members[0].dir / CALIBRATION_SPREAD)
            # large jobs: the same stride sample of episode indices in every setting (pairs stay paired)
            frames = [tables.read_episodes(j.dir / EPISODES, max_rows=stats_conf.get("max_episodes")) for j in members]
            if from_episode is not None:
                frames = [f[f["episode"] >= from_episode].reset_index(drop=True) for f in frames]
            episodes[label] = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            summaries[label] = pooled_summary(
                episodes[label], [j.record["summary"] for j in members], confidence=stats_conf["confidence"],
                n_bootstrap=stats_conf["n_bootstrap"], seed=stats_conf["bootstrap_seed"], label=f"{label}|{world}",
                recompute=from_episode is not None)
            weeks[label] = members[0].weeks_per_episode
        worlds.append(WorldRun(world, episodes, summaries, weeks, spreads))
    return worlds


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
        job_dicts = [j.as_dict() for j in jobs]
        elapsed = (time.time() - started) if started else sum(j["execution_time"] for j in job_dicts)
        hbio.write_json(run_dir / RUN_RESULTS, build_run_results(
            jobs=job_dicts, criteria=[], experiment=str(config.get("experiment_name", "default")), elapsed_s=elapsed,
            exit_code=exit_codes.ERROR, args={"run_dir": str(run_dir)},
            errors=[f"post-processing failed: {one_line(exc)}"]))
        raise


def cancel_run(run: dict[str, Any] | None = None) -> Path | None:
    """After Ctrl-C: run_results.json with status `cancelled` and exit 130 in the run's folder, listing the jobs
    that finished; the folder keeps its in-progress marker, so later readers skip it. None if no run was on."""
    run = run if run is not None else runs.current_run()
    if not run.get("run_dir"):
        return None
    run_dir = Path(str(run["run_dir"]))
    jobs = collect_jobs(run_dir) if run_dir.is_dir() else []
    if (run_dir / SUMMARY).is_file() and not any(j.dir == run_dir for j in jobs):
        jobs = [load_job(run_dir)]   # a single run: the job's folder is the run's
    label_jobs(jobs)
    for job in jobs:
        if job.status != "success":
            job.record = {**job.record, "status": "cancelled", "message": "cancelled (Ctrl-C) before it finished"}
    started = float(run.get("started") or time.time())
    hbio.write_json(run_dir / RUN_RESULTS, build_run_results(
        jobs=[j.as_dict() for j in jobs], criteria=[], experiment=str(run.get("experiment", "default")),
        elapsed_s=time.time() - started, exit_code=exit_codes.CANCELLED, status="cancelled",
        args={"run_dir": str(run_dir)}, errors=["cancelled (Ctrl-C): the run is incomplete and was not judged"]))
    runs.mark_incomplete(run_dir, "cancelled (Ctrl-C)")
    return run_dir


def calibration_spreads(worlds: list[WorldRun], baseline: str | None) -> dict[tuple[str, str], dict[str, Any]]:
    """(world, variant) -> the paired net PnL gain per week over the baseline in each refit of a calibrated world,
    and their range (worlds whose jobs ran refits only)."""
    out = {}
    for world in worlds:
        if baseline not in world.spreads:
            continue
        for label, frame in world.spreads.items():
            if label == baseline:
                continue
            gains = {k: v / world.weeks[label] for k, v in
                     stats.paired_means_by(frame, world.spreads[baseline], "net_pnl_usd", "resample").items()}
            if gains:
                out[(world.name, label)] = {"per_refit": gains, "low": min(gains.values()),
                                            "high": max(gains.values()), "n_refits": len(gains)}
    return out


def _nothing_judged(jobs: list[Job], worlds: list[WorldRun], crit_conf: dict[str, Any], judged: list[str]) -> str | None:
    """Why a multirun judged nothing (exit 2: a green that checked nothing is not a pass); None if it judged."""
    if not crit_conf.get("enabled", True):
        return None
    if not jobs:
        return "nothing judged: no job ran (no job folder in the run folder)"
    if not crit_conf.get("checks"):
        return "nothing judged: criteria.checks is empty; add checks or set criteria.enabled=false to only report"
    settings = sorted({label for w in worlds for label in w.episodes})
    if len(settings) < 2 and not judged:
        what = f"one setting ({settings[0]})" if settings else "no successful job"
        return (f"nothing judged: {what}; seeds are replications, pooled, never judged against each other: sweep "
                "a setting (campaign=A,B or floors.mean_revert=800,1200) or set criteria.enabled=false to only report")
    return None


def _finish_run(run_dir: Path, jobs: list[Job], config: dict[str, Any], started: float | None,
                single: bool) -> int:
    t0 = time.perf_counter()
    search = None
    if (config.get("optimise") or {}).get("enabled"):
        from hbbatch.report.search import BASELINE_LABEL, label_search

        search = label_search(jobs)
        setting_values = {j.label: {} for j in jobs}
        # only the best in-sample trial is judged, on the out-of-sample windows
        config = {**config, "criteria": {**config["criteria"], "baseline": BASELINE_LABEL,
                                         "judged": [search.best] if search.best else []}}
    else:
        setting_values = label_jobs(jobs)
    crit_conf, stats_conf = config["criteria"], config["stats"]
    experiment = str(config.get("experiment_name", "default"))
    errors = [f"job {j.label}{' in ' + j.world if j.world != axes.DEFAULT_WORLD else ''}: {j.record.get('message', '')}"
              for j in jobs if j.status != "success"]
    try:
        baseline, judged = baseline_and_judged(crit_conf, setting_values, config.get("base"))
    except RunConfigErrors as exc:
        if crit_conf.get("enabled", True):   # only reporting: every pair is compared, none judged
            errors.append(str(exc))
        baseline, judged = None, []
    refused = world_mismatches(jobs, baseline)
    errors += [f"{r['variant']} vs {r['baseline']} in {r['world']}: {r['reason']}" for r in refused]
    if search is not None:
        shown = {baseline, *judged}
        worlds = pool_worlds([j for j in jobs if j.label in shown], stats_conf, set(),
                             from_episode=search.first_out_of_sample_episode)
    else:
        worlds = pool_worlds(jobs, stats_conf, {(r["variant"], r["world"]) for r in refused})
    several = len({j.world for j in jobs}) > 1
    pooled = {(label, w.name) for w in worlds for label in w.episodes}
    values = rule_values.run_table([j for j in jobs if (j.label, j.world) in pooled]) if not single else pd.DataFrame()

    rows, comparisons, convergences, skipped_pairs, criteria_results = [], [], [], list(refused), []
    rules_by_world: dict[str, dict[str, pd.DataFrame]] = {}
    for world in worlds:
        failed = {j.label for j in jobs if j.status != "success" and j.world == world.name}
        variants = pd.DataFrame([variant_row(label, world.summaries[label], world.name, world.weeks[label])
                                 for label in world.episodes])
        rows.append(variants)
        comparison, convergence, skipped = compare_variants(world.episodes, baseline, judged, stats_conf, world.name)
        comparisons.append(comparison)
        convergences.append(convergence)
        skipped_pairs += skipped
        rules = rule_values.rule_tables(world.summaries, values, world.name)
        rules_by_world[world.name] = rules
        if crit_conf.get("enabled", True) and crit_conf.get("checks") and judged and baseline in world.episodes:
            from hbbatch.criteria import evaluate

            unpaired = {p["variant"]: p["reason"] for p in skipped_pairs
                        if p["baseline"] == baseline and p["world"] == world.name and p["kind"] != "seed_subset"}
            criteria_results += evaluate(
                dict(crit_conf["checks"]), dict(crit_conf["thresholds"]), baseline=baseline,
                judged=[v for v in judged if v in world.episodes or v in unpaired or v in failed],
                comparison=comparison, variants=variants, rules=rules,
                hard_caps={label: s["hard_cap"]["max_actions"] for label, s in world.summaries.items()},
                failed_jobs=failed, expectations_dir=Path(config["paths"]["expectations_dir"]),
                unpaired=unpaired, world=world.name if several else "")
    variants = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    comparison = (pd.concat([c for c in comparisons if len(c)], ignore_index=True) if any(len(c) for c in comparisons)
                  else pd.DataFrame(columns=["world", *stats.COMPARISON_COLUMNS]))
    convergence = pd.concat(convergences, ignore_index=True) if convergences else pd.DataFrame()
    # a pair of one seed whose episodes never saw the same market is misconfigured: an error of the run
    errors += [f"{p['variant']} - {p['baseline']} in {p['world']}: {p['reason']}" for p in skipped_pairs
               if p["kind"] == "pairing"]
    if not single:
        reason = _nothing_judged(jobs, worlds, crit_conf, judged) if not criteria_results else None
        if reason:
            errors.append(reason)
    statuses = [c.status for c in criteria_results]
    code = exit_status(errors, statuses, crit_conf.get("fail_on_violation", True))

    from hbbatch.report.verdict import decide

    extras = report_extras(run_dir, jobs, values)
    verdict = decide(variants, comparison, criteria_results, baseline, code, errors,
                     calibration_spread=calibration_spreads(worlds, baseline))
    factor = float(config["report"].get("gas_belief_factor", DEFAULT_BELIEF_FACTOR))
    gas = gas_check(jobs, worlds, factor)
    verdict.risks += gas_lines(gas, factor)
    job_dicts = [j.as_dict() for j in jobs]
    shares = paired_shares(comparison)
    hbio.write_parquet(run_dir / COMPARISON, comparison)
    if len(values):
        hbio.write_parquet(run_dir / RULE_VALUES, values)
    if judged:
        hbio.write_json(run_dir / CRITERIA, {
            "baseline": baseline, "judged": judged, "thresholds": dict(crit_conf["thresholds"]),
            "fail_on_violation": crit_conf.get("fail_on_violation", True),
            "results": [c.to_dict() for c in criteria_results]})
    if not single:
        hbio.write_json(run_dir / SUMMARY, {
            "experiment": experiment, "baseline": baseline, "judged": judged, "exit_code": code,
            "worlds": [w.name for w in worlds], "verdict": verdict.to_dict(),
            **({"search": search.to_dict()} if search is not None else {}),
            "jobs": job_dicts, "variants": variants.to_dict(orient="records"), "paired_share": shares,
            "skipped_pairs": skipped_pairs, "convergence": convergence.to_dict(orient="records"), "errors": errors,
            "gas": gas, **({"rule_values": RULE_VALUES} if len(values) else {})})
    elapsed = (time.time() - started) if started else sum(j["execution_time"] for j in job_dicts)
    hbio.write_json(run_dir / RUN_RESULTS, build_run_results(
        jobs=job_dicts, criteria=criteria_results, experiment=experiment, elapsed_s=elapsed, exit_code=code,
        args={"run_dir": str(run_dir)}, errors=errors, skipped_pairs=skipped_pairs,
        extra={"verdict": verdict.headline, "worlds": [w.name for w in worlds]}))
    if config["report"].get("html", True):
        from hbbatch.report.html import render_report

        hbio.write_text(run_dir / REPORT, render_report(
            experiment=experiment, jobs=job_dicts, variants=variants, comparison=comparison,
            convergence=convergence, criteria=criteria_results, episodes={w.name: w.episodes for w in worlds},
            baseline=baseline, errors=errors, exit_code=code, confidence=stats_conf["confidence"],
            rules=rules_by_world, skipped_pairs=skipped_pairs, verdict=verdict,
            extras={**extras, **({"search": search} if search is not None else {})}))

    counts = {s: statuses.count(s) for s in ("pass", "warn", "fail", "error", "skipped") if s in statuses}
    footer = errors + [f"{'partly compared' if p['kind'] == 'seed_subset' else 'not compared'}: {p['variant']} - "
                       f"{p['baseline']} in {p['world']}: {p['reason']}"
                       for p in skipped_pairs if p["kind"] not in ("pairing", "world")]
    if shares:
        footer.append("paired share: " + ", ".join(f"{pair} {100 * share:.0f} %" for pair, share in shares.items()))
    if search is not None and search.best:
        best = next(t for t in search.trials if t["trial"] == search.best)
        inside, outside = best["in_sample"] or {}, best["out_of_sample"] or {}
        footer.append(f"search: {len(search.trials)} trials; best in-sample {search.best} "
                      f"({', '.join(f'{k}={v}' for k, v in best['params'].items())}): in-sample "
                      f"{money(inside.get('mean_diff', math.nan))}/week, out-of-sample "
                      f"{money(outside.get('mean_diff', math.nan))}/week "
                      f"[{money(outside.get('boot_low', math.nan))}, {money(outside.get('boot_high', math.nan))}]")
    footer.append(f"{len(jobs)} job(s) in {len(worlds)} world(s), criteria {counts or 'none'}, exit {code}; "
                  f"artifacts in {run_dir} (post-processing {time.perf_counter() - t0:.1f} s)")
    if config["report"].get("table", True):
        from hbbatch.report.table import print_report

        shown_jobs = job_dicts if search is None else [   # a search: its baseline and the judged trial
            j for j in job_dicts if j["label"] in {baseline, *judged} or j["status"] != "success"]
        print_report(variants, shown_jobs, criteria_results, baseline, f"{experiment}: {run_dir.name}",
                     stats_conf["confidence"], footer, convergence, verdict, comparison)
    else:
        for line in [verdict.headline] + [c.message for c in criteria_results if c.status != "pass"] + footer:
            log.info(line)
    return code


def gas_check(jobs: list[Job], worlds: list[WorldRun], factor: float) -> list[dict[str, Any]]:
    """Gas believed (each job's manifest) against gas charged (its world's episodes), per world and variant."""
    beliefs = {(j.label, j.world): belief(hbio.read_json(j.dir / MANIFEST))
               for j in jobs if j.status == "success" and (j.dir / MANIFEST).is_file()}
    return gas_rows({w.name: w.episodes for w in worlds}, beliefs, factor)


def report_extras(run_dir: Path, jobs: list[Job], values: pd.DataFrame | None = None) -> dict[str, Any]:
    """What other parts of a run leave for the report, where present: rule values (the run's table,
    hbbatch.report.rule_values; a single run's own rule_values.parquet), world validation and classifier
    quality (recorded by the jobs)."""
    extras: dict[str, Any] = {}
    if values is not None and len(values):
        extras["rule_values"] = values
    elif (run_dir / RULE_VALUES).is_file():
        extras["rule_values"] = pd.read_parquet(run_dir / RULE_VALUES)
    for key in ("world_validation", "classifier_confusion"):
        found = {}
        for job in jobs:
            value = job.record.get(key)
            if value is None:
                value = (job.record.get("summary") or {}).get(key)
            if value is None and (job.dir / MANIFEST).is_file():
                value = hbio.read_json(job.dir / MANIFEST).get(key)
            if value is not None:
                found[f"{job.label} in {job.world}"] = value
        if found:
            extras[key] = found
    return extras
