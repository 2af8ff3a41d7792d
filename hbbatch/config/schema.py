"""The top-level config schema: every group's dataclass under one typed root.

Registered in the ConfigStore as `base_config` and listed first in `conf/config.yaml`'s defaults, so
every YAML group file and every command-line override is merged onto typed nodes: a misspelt key
fails at compose time, naming the key. The simulator's numbers (market, agent, floors, regime mix)
are the dataclasses of `hbbatch.config.sim`; calibration and planner bring their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from omegaconf import MISSING

from hbbatch.config.bounds import bounded, one_of, output_path, plain_name, seed_field
from hbbatch.config.calibration import CalibrationConf
from hbbatch.config.planner import PlannerConf
from hbbatch.config.replay import ReplayConf
from hbbatch.config.shadow import MonitoringConf, ShadowConf
from hbbatch.config.sim import AgentConf, FloorsConf, MarketConf, RegimeMixConf, RuleValuesConf
from hbbatch.config.world import WorldConf

COMPARED_METRICS = ("net_pnl_usd", "pnl_vs_hodl_usd", "return", "gas_usd", "actions", "widen_share")
# The tasks cli.py dispatches; a task adds its name here and one `elif` there.
TASKS = ("campaign", "calibrate", "plan", "plan_sim", "replay", "shadow")
DTYPES = ("float32", "float64")


@dataclass
class GatingConf:
    """Whether the EV gate filters the agent's actions (campaign A runs with it off)."""

    mode: str = one_of("ev", ("ev", "off"))


@dataclass
class CheckConf:
    """One success criterion: a great-expectations suite run over one table, per judged variant."""

    suite: str = MISSING                      # expectations/success/<suite>.json
    table: str = one_of(MISSING, ("comparison", "summary", "rules"))
    description: str = ""
    # error: a miss fails the run (exit 1); warn: reported only (dbt)
    severity: str = one_of("error", ("error", "warn"))


@dataclass
class ThresholdsConf:
    """Suite parameters: each `{"$PARAMETER": name}` in expectations/success/*.json is one of these."""

    # lower CI bound of the paired net PnL difference must exceed this
    net_pnl_ci_low_min_usd: float = bounded(0.0, ge=-1e9, le=1e9)
    widen_share_min: float = bounded(0.10, ge=0, le=1)  # the roadmap's "widen stays ~10-20 %"
    widen_share_max: float = bounded(0.20, ge=0, le=1)
    # gas per episode within this multiple of the baseline's: no extra gas to weigh
    gas_ratio_max: float = bounded(1.10, gt=0, le=1e3)
    # beyond it, at most this many dollars of extra gas per dollar of net PnL it buys
    gas_per_gain_max: float = bounded(0.5, ge=0, le=1e6)
    # widens per episode at most this multiple of the baseline's
    widens_ratio_max: float = bounded(1.25, gt=0, le=1e3)
    # a rule bad only in the variant takes less than this share of actions
    bad_rule_action_share_max: float = bounded(0.25, ge=0, le=1)


@dataclass
class CriteriaConf:
    """The success criteria gate of a multirun: which checks, against which baseline, how strict."""

    enabled: bool = True
    fail_on_violation: bool = True            # false: report failed criteria, exit 0
    baseline: Optional[str] = None            # a variant label (A, floors.mean_revert=1200); null: the job running the
                                              # base config's value of each swept setting (hbbatch.report.axes)
    baseline_campaign: str = "A"              # the baseline of a sweep over campaigns (the roadmap's campaign A)
    judged: Optional[List[str]] = None        # variants judged against the baseline; null: all the others
    checks: Dict[str, CheckConf] = field(default_factory=dict)
    thresholds: ThresholdsConf = field(default_factory=ThresholdsConf)


@dataclass
class StatsConf:
    """Paired comparisons and per-variant intervals."""

    confidence: float = bounded(0.95, gt=0, lt=1)
    n_bootstrap: int = bounded(2000, ge=1, le=10**7)
    bootstrap_seed: int = seed_field(20240105)
    metrics: List[str] = field(default_factory=lambda: list(COMPARED_METRICS))
    convergence_episodes: List[int] = bounded(factory=lambda: [100, 250, 500, 1000], ge=1, le=10**9)
    # statistics on at most this many episodes per job: beyond, a stride sample over episode indices, the same
    # in every variant (hbbatch/tables.py); the totals that gate criteria stay exact (campaign/stream.py)
    max_episodes: int = bounded(200_000, ge=100)


@dataclass
class PathsConf:
    output_dir: str = output_path("outputs")  # every run writes under <output_dir>/<experiment_name>/<time>/
    expectations_dir: str = MISSING           # the suites (conf/paths/default.yaml: the repository's expectations/)


@dataclass
class ExperimentConf:
    """What an experiment runs beyond its sweep: the worlds its settings are compared in (a scenario axis)."""

    # three_way sweeps world over these; experiment.worlds=[historical] runs one
    worlds: List[str] = field(default_factory=lambda: ["historical"])
    # in the parametric (calibrated) world: refits on bootstrap resamples of the history, run beside the fit
    calibration_resamples: int = bounded(0, ge=0, le=20)


@dataclass
class OptimiseConf:
    """The optimiser (`+experiment=optimise`): trials scored against a baseline on a walk-forward split."""

    enabled: bool = False                     # set by conf/experiment/optimise.yaml
    fit_share: float = bounded(0.5, gt=0, lt=1)  # the first share of the windows is in-sample, the rest out-of-sample


@dataclass
class ReportConf:
    html: bool = True                         # report.html beside the multirun's artifacts
    table: bool = True                        # the summary table on the terminal at the end
    # warn where a gated variant's GAS belief and the gas its world charged per action are more than this
    # factor apart, either way (hbbatch/report/gas.py)
    gas_belief_factor: float = bounded(2.0, gt=1, le=1e6)


@dataclass
class ScaleConf:
    """How a large campaign is run: batches streamed to disk, its estimate and limits, statistics on a sample."""

    batch_episodes: Optional[int] = bounded(None, ge=1, le=1 << 26)  # episodes per simulator call (null: by device)
    estimate_above_s: float = bounded(10.0, ge=0)   # print a time and memory estimate before runs longer than this
    max_hours: float = bounded(1.0, gt=0)           # refuse a run estimated longer than this unless force=true
    max_memory_gb: float = bounded(4.0, gt=0)       # refuse a run estimated above this peak memory unless force=true
    progress: str = one_of("auto", ("auto", "bar", "log", "off"))  # a bar on a terminal, log lines otherwise


@dataclass
class Config:
    task: str = one_of("campaign", TASKS)
    experiment_name: str = plain_name("default")  # names the output folder; set by experiment/*.yaml
    campaign: str = plain_name("default")  # the campaign's name; set by campaign/*.yaml
    seed: int = seed_field(42)  # HB_SEED
    n_episodes: int = bounded(1000, ge=1, le=10_000_000)  # EPISODE_COUNT
    n_steps: int = bounded(10080, ge=1, le=10_000_000)  # one-minute steps: one week
    dtype: str = one_of("float32", DTYPES)
    shards: int = bounded(1, ge=1, le=10_000)  # a multirun splits each job's episodes into this many shard jobs
    shard: int = bounded(0, ge=0, le=9_999)   # which shard this job runs (set by the sweep when shards > 1)
    force: bool = False                       # run even beyond the scale limits (scale.max_hours, scale.max_memory_gb)
    scale: ScaleConf = field(default_factory=ScaleConf)
    world: WorldConf = field(default_factory=WorldConf)
    market: MarketConf = field(default_factory=MarketConf)
    agent: AgentConf = field(default_factory=AgentConf)
    floors: FloorsConf = field(default_factory=FloorsConf)
    regime_mix: RegimeMixConf = field(default_factory=RegimeMixConf)
    gating: GatingConf = field(default_factory=GatingConf)
    calibration: CalibrationConf = field(default_factory=CalibrationConf)
    planner: PlannerConf = field(default_factory=PlannerConf)
    criteria: CriteriaConf = field(default_factory=CriteriaConf)
    stats: StatsConf = field(default_factory=StatsConf)
    rule_values: RuleValuesConf = field(default_factory=RuleValuesConf)
    paths: PathsConf = field(default_factory=PathsConf)
    report: ReportConf = field(default_factory=ReportConf)
    experiment: ExperimentConf = field(default_factory=ExperimentConf)
    optimise: OptimiseConf = field(default_factory=OptimiseConf)
    replay: ReplayConf = field(default_factory=ReplayConf)
    shadow: ShadowConf = field(default_factory=ShadowConf)
    monitoring: MonitoringConf = field(default_factory=MonitoringConf)
