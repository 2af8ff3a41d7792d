"""Schema of the `calibration` config group (owned by hbbatch.calibration).

Two uses share the group:
- campaigns read a report: `calibration=none` (uncalibrated), `default` (the committed report fitted
  from the embedded snapshot; DUNE_CALIBRATION_JSON overrides its path), `file` (`calibration.path`);
- `task=calibrate` fits one from query results: `calibration.source=snapshot` (embedded, offline; also
  what none/default/file fit from), `dune` (live: DUNE_API_KEY), `files` (a folder of Dune CSV exports).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hbbatch.config.bounds import bounded, one_of, output_path

CAMPAIGN_SOURCES = ("none", "default", "file")
FIT_SOURCES = ("snapshot", "dune", "files")
ALL_QUERIES = ["gas_regime", "pool_hourly_fees", "realized_vol_jumps", "dynamic_fee_analysis",
               "regime_frequencies", "liquidity_depth", "mev_toxicity"]


@dataclass
class DuneConf:
    """The live source. The API key is read from the environment variable named here, never from config."""

    api_key_env: str = "DUNE_API_KEY"
    base_url: Optional[str] = None           # null: DUNE_API_BASE_URL, else https://api.dune.com
    performance: str = one_of("medium", ("medium", "large"))  # the engine tier
    ping_frequency_s: float = bounded(2.0, gt=0, le=3600)  # seconds between status polls
    # per execution; past it the execution is cancelled and the run fails
    timeout_s: float = bounded(900.0, gt=0, le=86400)
    request_timeout_s: float = bounded(30.0, gt=0, le=3600)  # per HTTP request
    retries: int = bounded(5, ge=0, le=100)  # HTTP retries on 429 / 502 / 503 / 504
    backoff_s: float = bounded(0.5, ge=0, le=600)  # exponential backoff factor between retries
    # a 429's Retry-After is honoured up to this (Dune's rate limits are per minute); a longer one waits this long
    retry_after_max_s: float = bounded(60.0, ge=0, le=3600)
    page_size: int = bounded(32000, ge=1, le=1_000_000)  # rows per results page
    max_pages: int = bounded(200, ge=1, le=100_000)  # results pages read per execution; more is an error
    # rows read per execution; a larger result is an error before it is read (about 1 KB a row in memory)
    max_rows: int = bounded(1_000_000, ge=1, le=100_000_000)
    cache_dir: str = output_path("outputs/dune_cache")  # the planner's result cache, unless planner.cache_dir is set


@dataclass
class CalibrationConf:
    # none | default | file (campaigns); snapshot | dune | files (task=calibrate)
    source: str = one_of("none", CAMPAIGN_SOURCES + FIT_SOURCES)
    path: Optional[str] = None               # file: the calibration_report.json campaigns read
    use_unidentified_mix: bool = False       # campaigns: apply a regime mix the null test cannot tell from noise
    apply_market: bool = False               # campaigns: also merge the report's market constants into the world
    queries: List[str] = field(default_factory=lambda: list(ALL_QUERIES))
    # e.g. {pool: "0x...", lookback_days: 30}: every query declaring it
    parameters: Dict[str, Any] = field(default_factory=dict)
    snapshot_dir: Optional[str] = None       # null: hbbatch/data/snapshots
    files_dir: Optional[str] = None          # files: the folder of <query>.csv exports
    files_as_of: Optional[str] = None        # files: when the exports were taken (ISO 8601); null: the files' mtime
    queries_dir: Optional[str] = None        # null: the repository's queries/
    expectations_dir: Optional[str] = None   # null: the repository's expectations/calibration/
    fee_gate_multiple: float = bounded(2.0, ge=0, le=1e3)  # FEE_GATE = fee_gate_multiple x GAS
    # gas of exit + swap + mint (hbbatch/calibration/gas.py)
    recenter_gas_units: int = bounded(787760, ge=21000, le=100_000_000)
    window_days: int = bounded(7, ge=1, le=3650)  # one regime window = one episode
    # dune: a stored result older than this x the planner's TTL is not used
    max_age_factor: float = bounded(4.0, gt=0, le=1e6)
    output_dir: Optional[str] = output_path(None)  # null: the Hydra run's output directory
    dune: DuneConf = field(default_factory=DuneConf)
