"""Schemas of `task=shadow`: where observations come from, where the decision log lives, what is watched.

Shadow mode runs the simulator's own policy and rails on real observations and executes nothing. The
agent's settings are the `agent`, `floors` and `market` sections shared with campaigns; these sections
only say where the data come from and how the run is watched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from hbbatch.config.bounds import address, bounded, one_of, output_path

SOURCES = ("bars", "rpc")
USDC_WETH_005_MAINNET = "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640"


@dataclass
class ShadowRailsConf:
    """Rails that exist only where time is wall-clock time (the simulator's rails come from agent.rails)."""

    # Hard cap on gas-paying actions per rolling window of hours; null: agent.rails' K // N per episode of
    # n_steps steps (the simulator's cap, read as a rate), so shadow and simulator cap alike.
    max_actions: Optional[int] = bounded(None, ge=2, le=1_000_000)
    window_hours: Optional[float] = bounded(None, gt=0, le=1e6)
    control_port: Optional[int] = bounded(None, ge=0, le=65535)      # manual override over HTTP on 127.0.0.1 (0: any free port)


@dataclass
class ShadowConf:
    """Where observations come from and where the decision log and state snapshot are kept."""

    source: str = one_of("bars", SOURCES)    # bars | rpc
    bars: Optional[str] = None               # demeter minute bars; null: the embedded 2024-01-05 mainnet day
    gas_gwei: Optional[float] = bounded(None, ge=0, le=1e5)  # bars carry no gas: price each action at this
    #                                       gas price x gas_units (null: market.gas_usd_median, as the replay)
    pace_s: float = bounded(0.0, ge=0, le=3600)                     # wall seconds per bar (0: as fast as possible)
    rpc_url: Optional[str] = None            # JSON-RPC endpoint (read only; no key needed, none is logged)
    pool: str = address(USDC_WETH_005_MAINNET)   # a Uniswap v3 pool (token0 USDC, token1 WETH)
    chain_id: int = bounded(1, ge=1, le=2**53)                       # the endpoint must report this chain
    poll_s: float = bounded(12.0, gt=0, le=3600)                    # seconds between polls of the endpoint
    confirmations: int = bounded(2, ge=0, le=1000)                  # only blocks this deep are read (reorg-safe)
    start_block: Optional[int] = bounded(None, ge=0, le=2**53)       # first block read; null: the confirmed head at start
    timeout_s: float = bounded(10.0, gt=0, le=600)                 # per request
    max_retries: int = bounded(5, ge=0, le=100)                    # rate limits (429), 5xx and timeouts, with exponential backoff
    backoff_s: float = bounded(0.5, ge=0, le=60)                  # first wait; doubles per retry, capped at 30 s
    logs_chunk_blocks: int = bounded(500, ge=1, le=100_000)            # eth_getLogs range per request
    gas_units: float = bounded(790_000.0, gt=0, le=3e7)            # gas of one rebalance (burn + collect + swap + mint)
    gas_tip_gwei: float = bounded(0.1, ge=0, le=1e4)               # priority fee over the block's base fee
    state_dir: str = output_path("outputs/shadow")       # decisions.jsonl, state snapshot, dashboard.html, control.json
    snapshot_every_steps: int = bounded(10, ge=1, le=10_000)   # a resume recomputes (and checks) at most this many
    max_steps: Optional[int] = bounded(None, ge=1, le=10**9)         # stop after this many steps in total (null: until the source ends)
    rails: ShadowRailsConf = field(default_factory=ShadowRailsConf)


@dataclass
class AlertsConf:
    """In-process alert thresholds (monitoring/prometheus/alerts.yml carries the same rules for Prometheus)."""

    gas_share_of_cap: float = bounded(0.8, gt=0, le=1)           # gas spent in the rail window above this share of its cap
    drawdown_share_of_limit: float = bounded(0.8, gt=0, le=1)    # drawdown above this share of agent.rails.max_drawdown
    widens_per_hour: float = bounded(3.0, ge=0, le=1e6)            # widens in the last hour above this
    stale_data_s: float = bounded(300.0, gt=0, le=1e7)             # no new observation for this long


@dataclass
class MonitoringConf:
    """Prometheus metrics, alerts and the live dashboard of a shadow run."""

    port: Optional[int] = bounded(None, ge=0, le=65535)              # serve /metrics on 127.0.0.1:port (0: any free port; null: off)
    webhook_url: Optional[str] = None        # POST each alert as JSON here (optional)
    dashboard_every_steps: int = bounded(60, ge=1, le=10**9)         # rewrite dashboard.html every this many steps
    alerts: AlertsConf = field(default_factory=AlertsConf)
