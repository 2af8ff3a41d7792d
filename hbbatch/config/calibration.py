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

CAMPAIGN_SOURCES = ("none", "default", "file")
FIT_SOURCES = ("snapshot", "dune", "files")
ALL_QUERIES = ["gas_regime", "pool_hourly_fees", "realized_vol_jumps", "dynamic_fee_analysis",
               "regime_frequencies", "liquidity_depth", "mev_toxicity"]


@dataclass
class DuneConf:
    """The live source. The API key is read from the environment variable named here, never from config."""

    api_key_env: str = "DUNE_API_KEY"
    base_url: Optional[str] = None           # null: DUNE_API_BASE_URL, else https://api.dune.com
    performance: str = "medium"              # medium | large (the engine tier)
    ping_frequency_s: float = 2.0            # seconds between status polls
    timeout_s: float = 900.0                 # per execution; past it the execution is cancelled and the run fails
    request_timeout_s: float = 30.0          # per HTTP request
    retries: int = 5                         # HTTP retries on 429 / 502 / 503 / 504
    backoff_s: float = 0.5                   # exponential backoff factor between retries
    page_size: int = 32000                   # rows per results page
    cache_dir: str = "outputs/dune_cache"    # the planner's result cache, unless planner.cache_dir is set


@dataclass
class CalibrationConf:
    source: str = "none"                     # none | default | file (campaigns); snapshot | dune | files (task=calibrate)
    path: Optional[str] = None               # file: the calibration_report.json campaigns read
    apply_market: bool = False               # campaigns: also merge the report's market constants into the world
    queries: List[str] = field(default_factory=lambda: list(ALL_QUERIES))
    parameters: Dict[str, Any] = field(default_factory=dict)   # e.g. {pool: "0x...", lookback_days: 30}: every query declaring it
    snapshot_dir: Optional[str] = None       # null: hbbatch/data/snapshots
    files_dir: Optional[str] = None          # files: the folder of <query>.csv exports
    files_as_of: Optional[str] = None        # files: when the exports were taken (ISO 8601); null: the files' mtime
    queries_dir: Optional[str] = None        # null: the repository's queries/
    expectations_dir: Optional[str] = None   # null: the repository's expectations/calibration/
    fee_gate_multiple: float = 2.0           # FEE_GATE = fee_gate_multiple x GAS
    recenter_gas_units: int = 787760         # gas of exit + swap + mint (hbbatch/calibration/gas.py)
    window_days: int = 7                     # one regime window = one episode
    max_age_factor: float = 4.0              # dune: a stored result older than this x the planner's TTL is not used
    output_dir: Optional[str] = None         # null: the Hydra run's output directory
    dune: DuneConf = field(default_factory=DuneConf)
