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

from hbbatch.config.calibration import CalibrationConf
from hbbatch.config.planner import PlannerConf
from hbbatch.config.sim import AgentConf, FloorsConf, MarketConf, RegimeMixConf

COMPARED_METRICS = ("net_pnl_usd", "return", "gas_usd", "actions", "widen_share")


@dataclass
class GatingConf:
    """Whether the EV gate filters the agent's actions (campaign A runs with it off)."""

    mode: str = "ev"                          # ev | off


@dataclass
class CheckConf:
    """One success criterion: a great-expectations suite run over one table, per judged variant."""

    suite: str = MISSING                      # expectations/success/<suite>.json
    table: str = MISSING                      # comparison | summary | rules
    description: str = ""
    severity: str = "error"                   # error: a miss fails the run (exit 1); warn: reported only (dbt)


@dataclass
class ThresholdsConf:
    """Suite parameters: each `{"$PARAMETER": name}` in expectations/success/*.json is one of these."""

    net_pnl_ci_low_min_usd: float = 0.0       # lower CI bound of the paired net PnL difference must exceed this
    widen_share_min: float = 0.10             # the roadmap's "widen stays ~10-20 %"
    widen_share_max: float = 0.20
    gas_ratio_max: float = 1.10               # gas per episode at most this multiple of the baseline's
    widens_ratio_max: float = 1.25            # widens per episode at most this multiple of the baseline's
    bad_rule_action_share_max: float = 0.25   # a rule bad only in the variant takes less than this share of actions


@dataclass
class CriteriaConf:
    """The success criteria gate of a multirun: which checks, against which baseline, how strict."""

    enabled: bool = True
    fail_on_violation: bool = True            # false: report failed criteria, exit 0
    baseline: Optional[str] = None            # a variant label (A, floors.mean_revert=1200); null: the first job
    judged: Optional[List[str]] = None        # variants judged against the baseline; null: all the others
    checks: Dict[str, CheckConf] = field(default_factory=dict)
    thresholds: ThresholdsConf = field(default_factory=ThresholdsConf)


@dataclass
class StatsConf:
    """Paired comparisons and per-variant intervals."""

    confidence: float = 0.95
    n_bootstrap: int = 2000
    bootstrap_seed: int = 20240105
    metrics: List[str] = field(default_factory=lambda: list(COMPARED_METRICS))
    convergence_episodes: List[int] = field(default_factory=lambda: [100, 250, 500, 1000])


@dataclass
class PathsConf:
    output_dir: str = "outputs"               # every run writes under <output_dir>/<experiment_name>/<time>/
    expectations_dir: str = MISSING           # the suites (conf/paths/default.yaml: the repository's expectations/)


@dataclass
class ReportConf:
    html: bool = True                         # report.html beside the multirun's artifacts
    table: bool = True                        # the summary table on the terminal at the end


@dataclass
class Config:
    task: str = "campaign"                    # campaign | calibrate | plan | plan_sim
    experiment_name: str = "default"          # names the output folder; set by experiment/*.yaml
    campaign: str = "default"                 # the campaign's name; set by campaign/*.yaml
    seed: int = 42                            # HB_SEED
    n_episodes: int = 1000                    # EPISODE_COUNT
    n_steps: int = 10080                      # one-minute steps: one week
    dtype: str = "float32"                    # float32 | float64
    market: MarketConf = field(default_factory=MarketConf)
    agent: AgentConf = field(default_factory=AgentConf)
    floors: FloorsConf = field(default_factory=FloorsConf)
    regime_mix: RegimeMixConf = field(default_factory=RegimeMixConf)
    gating: GatingConf = field(default_factory=GatingConf)
    calibration: CalibrationConf = field(default_factory=CalibrationConf)
    planner: PlannerConf = field(default_factory=PlannerConf)
    criteria: CriteriaConf = field(default_factory=CriteriaConf)
    stats: StatsConf = field(default_factory=StatsConf)
    paths: PathsConf = field(default_factory=PathsConf)
    report: ReportConf = field(default_factory=ReportConf)
