"""`task=shadow`: the simulator's policy and rails on real observations, a paper position, nothing executed.

First the warm-up (`warmup.py`): the first `agent.warmup_minutes` of observations only warm the policy's
memory up, as the simulated agent's day before its episode does; no band is held, no order placed, nothing
logged as a decision; the snapshot keeps their moves, so a restart resumes the warm-up. Then the band opens
at the last warm-up observation's close, and per observation (one step): apply any manual override -> the
simulator's step decides and moves its state -> the paper position executes the decision with exact v3
math at the price the decision saw and earns the step's fees -> the decision is appended to decisions.jsonl
(fsync) -> the snapshot is replaced -> metrics, alerts, and every N steps the dashboard. Killed at any
moment and started again with the same command, the run resumes at the next step with the decisions an
uninterrupted run makes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import Gauge

from hbbatch.config.sim import warmup_steps
from hbbatch.monitoring import dashboard
from hbbatch.monitoring.alerts import Alerts
from hbbatch.monitoring.metrics import ShadowMetrics
from hbbatch.monitoring.redact import redact_url, scrub
from hbbatch.shadow.control import ControlFile, ControlServer, Override
from hbbatch.shadow.journal import Journal, StateDirError, comparable
from hbbatch.shadow.observation import RAW_LIQUIDITY_PER_UNIT, Observation
from hbbatch.shadow.position import PaperPosition, open_position, pool_band
from hbbatch.shadow.warmup import Warmup, too_few_bars

log = logging.getLogger(__name__)
DASHBOARD = "dashboard.html"
DECIDING_SECTIONS = ("market", "agent", "floors", "regime_mix", "gating")
SOURCE_KEYS = {"bars": ("source", "bars", "gas_gwei", "gas_units", "rails"),
               "rpc": ("source", "pool", "chain_id", "confirmations", "start_block", "gas_units", "gas_tip_gwei",
                       "rails")}
QUIET_LOGGERS = ("urllib3", "web3", "requests")   # their DEBUG lines carry request URLs


class ShadowError(ValueError):
    """Bad input to a shadow run: one line naming the key or file and the fix."""


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def make_source(shadow: dict[str, Any], market: dict[str, Any]):
    step_minutes = float(market["step_minutes"])
    if shadow["source"] == "bars":
        from hbbatch.shadow.sources import BarsSource, bars_path

        return BarsSource(bars_path(shadow.get("bars")), pace_s=float(shadow["pace_s"]), step_minutes=step_minutes)
    if shadow["source"] == "rpc":
        from hbbatch.shadow.rpc import RpcSource

        return RpcSource.connect(shadow, step_minutes=step_minutes, tick_spacing=int(market["tick_spacing"]))
    raise ShadowError(f"shadow.source={shadow['source']!r}: use bars or rpc")


def run_info(config: dict[str, Any], source, calibration_hash: str) -> dict[str, Any]:
    """What a state directory belongs to; its hash covers exactly what determines the decisions."""
    shadow = config["shadow"]
    identity = {k: shadow.get(k) for k in SOURCE_KEYS[shadow["source"]]}
    if shadow["source"] == "bars":
        identity["bars"] = {"name": Path(source.path).name, "sha256": _file_digest(source.path)}
    deciding = {s: config[s] for s in DECIDING_SECTIONS}
    payload = {"settings": deciding, "source": identity, "calibration_hash": calibration_hash,
               "step_minutes": config["market"]["step_minutes"]}
    return {"config_hash": _digest(payload), "calibration_hash": calibration_hash, "source": source.describe(),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "settings": payload}


class HardCap:
    """K gas-paying actions per rolling window of hours (observation time), the simulator's rule as a rate."""

    def __init__(self, max_actions: int, window_hours: float, times: list[str] | None = None):
        self.max_actions, self.window = int(max_actions), timedelta(hours=float(window_hours))
        self.times: deque[datetime] = deque(datetime.fromisoformat(t) for t in (times or []))

    def remaining(self, now: datetime) -> int:
        while self.times and self.times[0] <= now - self.window:
            self.times.popleft()
        return self.max_actions - len(self.times)

    def record(self, when: datetime) -> None:
        self.times.append(when)


def hard_cap_settings(config: dict[str, Any]) -> tuple[int, float]:
    rails, shadow_rails = config["agent"]["rails"], config["shadow"]["rails"]
    per_episode = int(rails["max_actions"]) // int(rails["max_actions_episodes"])
    episode_hours = float(config["n_steps"]) * float(config["market"]["step_minutes"]) / 60.0
    max_actions = per_episode if shadow_rails.get("max_actions") is None else int(shadow_rails["max_actions"])
    hours = episode_hours if shadow_rails.get("window_hours") is None else float(shadow_rails["window_hours"])
    if max_actions < 2 or not hours > 0:
        raise ShadowError(f"shadow.rails: max_actions={max_actions} per window_hours={hours}: need at least 2 "
                          "actions (one is kept for a safety exit) and a window > 0 hours")
    return max_actions, hours


def check_warmup_fits(config: dict[str, Any], source) -> None:
    """Bars that end before the warm-up does are refused in one line."""
    if source.kind == "bars":
        problem = too_few_bars(config, len(source), "shadow.bars", source.path)
        if problem:
            raise ShadowError(problem)


def check_inputs(config: dict[str, Any]) -> None:
    """What a shadow run refuses before its first step, checked without connecting or writing (the pre-run
    check, hbbatch/preflight.py): the bars file as the run reads it and whether it holds the warm-up, an
    endpoint's URL, the hard cap. The run itself checks the same with the same functions."""
    shadow, market = config["shadow"], config["market"]
    if shadow["source"] == "rpc":
        from hbbatch.shadow.rpc import check_url

        check_url(shadow)
    else:
        check_warmup_fits(config, make_source(shadow, market))
    hard_cap_settings(config)


class ShadowRun:
    """One shadow run over a source, resumable from its state directory."""

    def __init__(self, config: dict[str, Any], calibration_hash: str = "none"):
        from hbbatch.shadow.stepper import Stepper

        self.config, self.shadow, self.monitoring = config, config["shadow"], config["monitoring"]
        self.calibration_hash = calibration_hash
        self.secret_url = self.shadow.get("rpc_url")
        self.step_minutes = float(config["market"]["step_minutes"])
        self.source = make_source(self.shadow, config["market"])
        self.warmup = Warmup(warmup_steps(config["agent"], config["market"]))
        self.warmup_gap_steps = 0   # steps with no data during the warm-up (the decisions' own are in their records)
        check_warmup_fits(config, self.source)
        self.info = {**run_info(config, self.source, calibration_hash), "warmup_steps": self.warmup.n_steps}
        self.journal = Journal(self.shadow["state_dir"])
        self.stepper = Stepper(config, self.source.price_start_usd)
        self.fee_pips = int(round(float(config["market"]["fee_rate"]) * 1_000_000))
        self.tick_spacing = int(config["market"]["tick_spacing"])
        self.cap_max, self.cap_hours = hard_cap_settings(config)
        self.snapshot_every = int(self.shadow["snapshot_every_steps"])
        rails = config["agent"]["rails"]
        self.config_override = str(rails["override"])
        self.config_override_from = float(rails["override_from_minute"]) / self.step_minutes
        self.metrics = ShadowMetrics(self._owners())
        self.warming_gauge = Gauge("hbbatch_warming_up", "1 while the agent observes its warm-up (no orders), "
                                   "0 once it decides", registry=self.metrics.registry)
        self.warmup_gauge = Gauge("hbbatch_warmup_steps_remaining", "Warm-up steps still to observe before the "
                                  "first decision", registry=self.metrics.registry)
        self.alerts = Alerts(self._alert_thresholds(), self.monitoring.get("webhook_url"),
                             on_fire=lambda name: self.metrics.alerts.labels(name).inc())
        if hasattr(self.source, "on_retry"):
            self.source.on_retry = self.metrics.retries.inc
        self.history: list[dict[str, Any]] = []
        self.recomputing, self._alert_values = False, None
        self.control_server: ControlServer | None = None

    def _set_warmup_metrics(self) -> None:
        self.warming_gauge.set(int(self.warming))
        self.warmup_gauge.set(self.warmup.remaining if self.warming else 0)

    @property
    def warming(self) -> bool:
        """In the warm-up: observing, no band, no orders (a run that resumed a snapshot from before warm-ups
        existed has none: Warmup(0))."""
        return not self.warmup.done

    def status(self) -> dict[str, Any]:
        """Where the run stands: warming up (and how far) or deciding."""
        return {**self.warmup.status(), "decisions": self.step_index}

    @staticmethod
    def _owners() -> tuple[str, ...]:
        from hbbatch.sim.types import OWNERS

        return OWNERS

    def _alert_thresholds(self):
        from types import SimpleNamespace

        return SimpleNamespace(**self.monitoring["alerts"])

    # ----------------------------------------------------------------- start or resume
    def start(self) -> None:
        from hbbatch.shadow.stepper import Stepper, state_from_arrays

        resuming = self.journal.claim({k: v for k, v in self.info.items()})
        if not resuming:
            self.step_index, self.cursor, self.last_obs = 0, self.source.start_cursor(), self.source.open_observation()
            self.override = Override()
            self.hard_cap = HardCap(self.cap_max, self.cap_hours)
            self.control_digest, self.pending = None, []
            log.info("shadow: new run in %s (config hash %s, calibration %s, source %s)", self.journal.dir,
                     self.info["config_hash"], self.calibration_hash, self.source.describe())
            if self.warming:
                self._save()
                log.info("shadow: warming up: the agent observes %d steps (agent.warmup_minutes=%g) before its "
                         "first decision; no band, no orders until then", self.warmup.n_steps,
                         float(self.config["agent"]["warmup_minutes"]))
            else:
                log.warning("shadow: agent.warmup_minutes=0: the policy's memory starts cold at its prior")
                self._open(self.last_obs)
            if self.shadow["source"] == "bars" and self.shadow.get("gas_gwei") is None:
                log.warning("shadow: bars carry no gas: each action pays market.gas_usd_median=$%.2f; on "
                            "2024-01-05 mainnet averaged 22.8 gwei, about $41 per rebalance of %.0f gas "
                            "(shadow.gas_gwei=22.8 prices it so)", self.stepper.median_gas_usd,
                            float(self.shadow["gas_units"]))
            return
        arrays, meta = self.journal.load()
        # a snapshot without a phase was written before warm-ups existed: its run decides (it started cold)
        self.warmup = Warmup.from_arrays(self.warmup.n_steps, arrays) if "phase" in meta else Warmup(0)
        if not self.warming:
            if meta.get("price_start_usd") is not None:
                self.stepper = Stepper(self.config, float(meta["price_start_usd"]))
            template = self.stepper.reset(1.0)
            try:
                self.state = state_from_arrays(template, arrays)
            except (KeyError, ValueError) as exc:
                raise StateDirError(f"{self.journal.snapshot_path}: does not fit this version's state ({exc}); "
                                    "use a new shadow.state_dir") from None
            self.paper = PaperPosition.from_json(meta["paper"])
        self.step_index, self.cursor = int(meta["step"]), meta["cursor"]
        self.last_obs = Observation.from_json(meta["last_observation"])
        self.override = Override(meta["override"]["mode"], meta["override"]["history"])
        self.hard_cap = HardCap(self.cap_max, self.cap_hours, meta["hard_cap_times"])
        self.control_digest = meta.get("control_digest")
        self.alerts.active = set(meta.get("alerts_active", []))
        self.alerts.fired = list(meta.get("alerts_recent", []))
        self.source.resume(meta.get("source_state"))
        logged = self.journal.read_decisions(repair=True)
        if not self.step_index <= len(logged) <= self.step_index + self.snapshot_every:
            raise StateDirError(f"{self.journal.decisions_path}: {len(logged)} decisions but the snapshot is at "
                                f"step {self.step_index}; the directory was edited; use a new shadow.state_dir")
        self.pending = logged[self.step_index:]     # logged after the snapshot: recomputed, checked, not re-logged
        self.history = [self._history_entry(r) for r in logged[: self.step_index]]
        self.warmup_gap_steps = int(meta.get("warmup_gap_steps", 0))
        self.metrics.restore(meta.get("totals", {}))
        if self.warming:
            self.metrics.gaps.inc(self.warmup_gap_steps)   # no totals yet: the warm-up's gaps are all there is
            log.info("shadow: resuming %s in its warm-up: %d of %d steps observed (config hash %s)",
                     self.journal.dir, self.warmup.observed, self.warmup.n_steps, self.info["config_hash"])
            return
        log.info("shadow: resuming %s at step %d (config hash %s)", self.journal.dir, self.step_index + 1,
                 self.info["config_hash"])

    def _open(self, first: Observation) -> None:
        """The band at `first` (the source's opening, or the warm-up's last observation), the memory warmed up
        on the warm-up's moves; the run's first action, snapshotted before any decision."""
        from hbbatch.shadow.stepper import Stepper

        if self.warmup.n_steps:    # bands are relative to the price the band opens at, as in the simulator
            self.stepper = Stepper(self.config, first.price_usd)
        self.state = self.stepper.reset(first.pool_liquidity, self.warmup.log_return, self.warmup.volume_usd,
                                        gas_usd=self._observed_gas_usd(first, first.price_usd))
        position = self.state.position
        lower, upper = pool_band(float(position.tick_lower), float(position.tick_upper),
                                 self.stepper.start_usd_tick(), self.tick_spacing)
        liquidity = int(float(position.liquidity) * RAW_LIQUIDITY_PER_UNIT)
        self.paper = open_position(first, lower, upper, liquidity, float(self.config["agent"]["capital_usd"]))
        # the opening band is the run's first action (the log's `actions` counts it): the counters do too, and
        # the paper position pays the gas the simulator charged for minting it, at the gas observed at the open
        # where there is one (without it the paper's net PnL ran $70.11 above the simulator's on the embedded
        # day, its whole first action's gas)
        self.paper.gas_usd += float(self.state.totals.gas_usd)
        self.metrics.gas_total.inc(float(self.state.totals.gas_usd))
        self.metrics.actions.inc(int(self.state.rails.actions))
        self.metrics.rule_actions.labels("initial").inc(int(self.state.rails.actions))
        self._save()

    def _warm(self, obs: Observation, cursor) -> None:
        """One warm-up step: the move kept for the memory, no band, no order; the band opens after the last."""
        self.warmup.add(obs.log_return, obs.volume_usd)
        self.cursor, self.last_obs = cursor, obs
        if obs.gap_steps:   # reported as a deciding step's are: never filled, counted
            self.warmup_gap_steps += obs.gap_steps
            self.metrics.gaps.inc(obs.gap_steps)
        self.metrics.price.set(obs.price_usd)
        if self.warmup.done:
            self._open(obs)
            from hbbatch.sim import precision
            from hbbatch.sim.policy import classify
            from hbbatch.sim.types import REGIMES

            with precision.scope():
                regime = REGIMES[int(classify(self.state.memory, self.stepper.params.agent))]
            log.info("shadow: warm-up complete after %d steps (classified %s); the band opens at %.2f USD/ETH, "
                     "[%d, %d]", self.warmup.n_steps, regime, obs.price_usd, self.paper.tick_lower,
                     self.paper.tick_upper)
        elif self.warmup.observed % self.snapshot_every == 0:
            self._save()
        if self.warmup.observed % max(int(round(60 / self.step_minutes)), 1) == 0 and not self.warmup.done:
            log.info("shadow: warming up: %d of %d steps observed", self.warmup.observed, self.warmup.n_steps)
        if self.warmup.observed % max(int(self.monitoring["dashboard_every_steps"]), 1) == 0:
            self.write_dashboard(None)
        self._set_warmup_metrics()

    def _save(self) -> None:
        from hbbatch.shadow.stepper import state_to_arrays

        from hbbatch.sim.types import OWNERS

        meta = {**self.status(), "step": self.step_index, "cursor": self.cursor,
                "last_observation": self.last_obs.to_json(),
                "override": {"mode": self.override.mode, "history": self.override.history},
                "hard_cap_times": [t.isoformat() for t in self.hard_cap.times],
                "control_digest": self.control_digest, "alerts_active": sorted(self.alerts.active),
                "alerts_recent": self.alerts.fired[-50:], "source_state": self.source.state(),
                "warmup_gap_steps": self.warmup_gap_steps}
        if self.warming:
            self.journal.save(self.warmup.arrays(), meta)
            return
        tot = self.state.totals
        totals = {"gas_usd": float(tot.gas_usd), "actions": int(self.state.rails.actions), "widens": int(tot.widens),
                  "gap_steps": self.warmup_gap_steps + int(sum(h.get("gap_steps", 0) for h in self.history)),
                  "rule_fires": {o: int(v) for o, v in zip(OWNERS, np.asarray(tot.rule_fires))},
                  "rule_actions": {o: int(v) for o, v in zip(OWNERS, np.asarray(tot.rule_actions))},
                  "alerts": {}}
        meta.update(paper=self.paper.to_json(), price_start_usd=self.stepper.price_start_usd, totals=totals)
        self.journal.save({**state_to_arrays(self.state), **self.warmup.arrays()}, meta)

    # ----------------------------------------------------------------- one step
    def _controls(self, obs: Observation):
        from hbbatch.shadow.stepper import StepControls

        if self.override.mode != "none":
            override, start = self.override.simulator_mode, 0.0
        else:
            override, start = self.config_override, self.config_override_from
        remaining = self.hard_cap.remaining(obs.time)
        return StepControls(override=override, override_from_step=start,
                            max_actions_total=float(self.state.rails.actions) + remaining,
                            gas_usd=self._observed_gas_usd(obs, self.last_obs.price_usd)), remaining

    def _observed_gas_usd(self, obs: Observation, price_usd: float) -> float | None:
        """The cost of one action at `obs`: its block's gas price (JSON-RPC) or `shadow.gas_gwei`, in USD at
        `price_usd` (the price the decision sees); None where neither is known (the market's median)."""
        gwei = self.shadow.get("gas_gwei")
        if obs.gas_price_wei is not None:
            return float(self.shadow["gas_units"]) * obs.gas_price_wei / 1e18 * price_usd
        if gwei is not None:
            return float(self.shadow["gas_units"]) * float(gwei) * 1e-9 * price_usd
        return None

    def _poll_control(self, control_file: ControlFile) -> dict[str, Any] | None:
        requests = []
        request = control_file.poll()
        if request:
            requests.append(request)
        self.control_digest = control_file.applied_digest
        if self.control_server:
            requests += self.control_server.poll()
        applied = [self.override.apply(r, self.step_index + 1) for r in requests]
        return applied[-1] if applied else None

    def _replay_control(self, logged: dict[str, Any], control_file: ControlFile) -> dict[str, Any] | None:
        """While recomputing logged steps, overrides come from the log (never from a newer file or request)."""
        entry = logged.get("control")
        if not entry:
            return None
        request = {k: entry[k] for k in ("command", "by", "reason", "via")}
        if request["via"].startswith("file"):
            control_file.mark_applied()
        return self.override.apply(request, self.step_index + 1)

    def step(self, obs: Observation, cursor, control_file: ControlFile) -> dict[str, Any]:
        logged = self.pending[0] if self.pending else None
        self.recomputing = logged is not None
        control = self._replay_control(logged, control_file) if logged else self._poll_control(control_file)
        self.control_digest = control_file.applied_digest
        controls, remaining = self._controls(obs)
        previous = self.last_obs
        self.state, out = self.stepper.step(self.state, obs.log_return, obs.volume_usd, obs.pool_liquidity, controls)
        position = self.state.position
        # the decision was taken on the state at the start of the step: it executes at that price
        if out.action == "exit":
            self.paper.exit(previous, self.fee_pips, out.gas_usd)
        elif out.action != "hold":
            lower, upper = pool_band(float(position.tick_lower), float(position.tick_upper),
                                     self.stepper.start_usd_tick(), self.tick_spacing)
            self.paper.rebalance(previous, lower, upper, int(float(position.liquidity) * RAW_LIQUIDITY_PER_UNIT),
                                 self.fee_pips, out.gas_usd)
        if out.acted:
            self.hard_cap.record(obs.time)
        self.paper.accrue_fees(previous.tick, obs, self.fee_pips)
        self.step_index += 1
        self.cursor, self.last_obs = cursor, obs
        tot = self.state.totals
        values = self.paper.values(obs)
        record = {
            "step": self.step_index, "time": obs.time.isoformat(), "block": obs.block, "price_usd": obs.price_usd,
            "tick": obs.tick, "action": out.action, "rule": out.owner if out.acted else "", "asked": out.asked, "asked_rule": out.asked_rule,
            "blocked_by": out.blocked_by,
            "tick_lower": self.paper.tick_lower, "tick_upper": self.paper.tick_upper,
            "width_ticks": self.paper.tick_upper - self.paper.tick_lower, "liquidity": str(self.paper.liquidity),
            "gas_usd": out.gas_usd, "gas_usd_total": self.paper.gas_usd, "fees_usd_total": self.paper.fees_usd,
            "swap_cost_usd_total": self.paper.swap_cost_usd, "equity_usd": values["equity_usd"],
            "net_pnl_usd": values["net_pnl_usd"], "pnl_vs_hodl_usd": values["pnl_vs_hodl_usd"],
            "sim_net_pnl_usd": float(self.state.equity_usd) - float(self.config["agent"]["capital_usd"]),
            "actions": int(self.state.rails.actions), "widens": int(tot.widens), "volume_usd": obs.volume_usd,
            "rails": self._rails(remaining, obs), "override": self.override.mode, "control": control,
            "gap_steps": obs.gap_steps, "calibration_hash": self.calibration_hash,
            "config_hash": self.info["config_hash"],
            "logged_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        if logged is not None:
            if comparable(logged) != comparable(record):
                diff = sorted(k for k in comparable(record) if logged.get(k) != record.get(k))
                raise StateDirError(f"{self.journal.decisions_path}: step {self.step_index} recomputed on resume "
                                    f"differs from the log in {diff}; use a new shadow.state_dir")
            self.pending.pop(0)        # logged before the kill: not appended twice
        else:
            self.journal.append(record)
        if control or self.step_index % self.snapshot_every == 0:
            self._save()
        return record

    def _rails(self, remaining: int, obs: Observation) -> dict[str, int]:
        a, rs, pos = self.stepper.params.agent, self.state.rails, self.state.position
        share_cap = float(a.max_pool_share) / (1 - float(a.max_pool_share)) * obs.pool_liquidity
        at_size_limit = float(pos.liquidity) > 0 and (float(pos.liquidity) >= 0.999 * share_cap or
                                                      self.paper.values(obs)["position_usd"]
                                                      >= 0.999 * float(a.max_capital_usd))
        return {"emergency_stop": int(float(rs.stopped_until_step) > float(self.state.t)),
                "hard_cap": int(remaining < 2), "position_size": int(at_size_limit),
                "drawdown_exit": int(bool(self.state.totals.drawdown_exit)),
                "manual_pause": int(self.override.mode == "pause"), "manual_exit": int(self.override.mode == "exit")}

    @property
    def steps_observed(self) -> int:
        """Observations so far, the warm-up's included (what `shadow.max_steps` counts)."""
        return self.warmup.observed + self.step_index

    # ----------------------------------------------------------------- watching
    @staticmethod
    def _history_entry(record: dict[str, Any]) -> dict[str, Any]:
        return {k: record.get(k) for k in ("step", "time", "net_pnl_usd", "pnl_vs_hodl_usd", "gas_usd_total",
                                           "action", "gap_steps")}

    def _watch(self, record: dict[str, Any], last_data_at: float) -> None:
        from hbbatch.sim.types import OWNERS

        self.history.append(self._history_entry(record))
        m, tot, a = self.metrics, self.state.totals, self.stepper.params.agent
        m.net_pnl.set(record["net_pnl_usd"])
        m.pnl_vs_hodl.set(record["pnl_vs_hodl_usd"])
        m.equity.set(record["equity_usd"])
        m.price.set(record["price_usd"])
        peak = float(self.state.rails.peak_equity_usd)
        drawdown = max(peak - float(self.state.equity_usd), 0.0) / peak if peak > 0 else 0.0
        m.drawdown.set(drawdown)
        m.drawdown_limit.set(float(a.max_drawdown))
        m.window_gas.set(float(self.state.rails.window_gas_usd))
        m.gas_cap.set(float(a.gas_cap_usd_per_window))
        m.step.set(self.step_index)
        if record["gas_usd"]:
            m.gas_total.inc(record["gas_usd"])
        if record["action"] != "hold":
            m.actions.inc()
            m.rule_actions.labels(record["rule"]).inc()
        if record["action"] == "widen":
            m.widens.inc()
        if record["asked_rule"] and record["blocked_by"] not in ("rails", "emergency_stop"):
            m.fires.labels(record["asked_rule"]).inc()      # a fire: asked while the rails allowed actions
        if record["gap_steps"]:
            m.gaps.inc(record["gap_steps"])
        for owner, value in zip(OWNERS, np.asarray(tot.rule_pnl_usd)):
            m.rule_value.labels(owner).set(float(value))
        for rail, state in record["rails"].items():
            m.rail.labels(rail).set(state)
        now = datetime.fromisoformat(record["time"])
        widens_hour = sum(1 for h in self.history[-int(60 / self.step_minutes) - 1:]
                          if h["action"] == "widen" and datetime.fromisoformat(h["time"]) > now - timedelta(hours=1))
        m.widens_hour.set(widens_hour)
        lag = time.monotonic() - last_data_at
        m.lag.set(lag)
        self._alert_values = {"window_gas_usd": float(self.state.rails.window_gas_usd),
                              "gas_cap_usd": float(a.gas_cap_usd_per_window), "drawdown": drawdown,
                              "drawdown_limit": float(a.max_drawdown), "widens_last_hour": widens_hour,
                              "data_lag_seconds": lag, "emergency_stop": record["rails"]["emergency_stop"]}
        self.alerts.evaluate(self._alert_values, {"step": record["step"], "time": record["time"]},
                             notify=not self.recomputing)
        every = max(int(self.monitoring["dashboard_every_steps"]), 1)
        if self.step_index % every == 0:
            self.write_dashboard(record)

    def idle(self, last_data_at: float) -> None:
        """Between observations (a live source waiting): lag and the stale-data alert stay current."""
        lag = time.monotonic() - last_data_at
        self.metrics.lag.set(lag)
        if self._alert_values is not None:     # the last step's values, with the lag as it grows
            self.alerts.evaluate({**self._alert_values, "data_lag_seconds": lag},
                                 {"step": self.step_index,
                                  "time": datetime.now(timezone.utc).isoformat(timespec="seconds")})

    def _phase_line(self) -> str:
        n = self.warmup.n_steps
        if self.warming:
            return f"warming up: {self.warmup.observed} of {n} steps observed; no band, no orders until it ends"
        return f"deciding after a warm-up of {n} steps" if n else "deciding; started cold (no warm-up)"

    def write_dashboard(self, latest: dict[str, Any] | None) -> None:
        from hbbatch.sim.types import OWNERS

        run = {"config hash": self.info["config_hash"], "calibration": self.calibration_hash,
               "source": self.source.describe().get("kind"), "state dir": str(self.journal.dir),
               "phase": self._phase_line()}
        if self.warming:       # no band yet: the page says how far the warm-up is
            latest = {"step": 0, "time": self.last_obs.time, "price_usd": self.last_obs.price_usd, **self.status()}
            dashboard.write(self.journal.dir / DASHBOARD, run, [], {}, {}, self.alerts.fired, latest,
                            self.override.history)
            return
        tot = self.state.totals
        rules = {o: {"fires": float(f), "actions": float(n), "gas_usd": float(g), "value_usd": float(v)}
                 for o, f, n, g, v in zip(OWNERS, np.asarray(tot.rule_fires), np.asarray(tot.rule_actions),
                                          np.asarray(tot.rule_gas_usd), np.asarray(tot.rule_pnl_usd))}
        latest = latest or {"step": self.step_index, **self.paper.values(self.last_obs), "time": self.last_obs.time,
                            "price_usd": self.last_obs.price_usd, "tick_lower": self.paper.tick_lower,
                            "tick_upper": self.paper.tick_upper, "gas_usd_total": self.paper.gas_usd}
        rails = latest.get("rails") or {}
        dashboard.write(self.journal.dir / DASHBOARD, run, self.history, rules, rails, self.alerts.fired, latest,
                        self.override.history)

    # ----------------------------------------------------------------- the loop
    def run(self) -> dict[str, Any]:
        self.start()
        port = self.monitoring.get("port")
        if port is not None:
            log.info("shadow: metrics on http://127.0.0.1:%d/metrics", self.metrics.serve(int(port)))
        control_port = self.shadow["rails"].get("control_port")
        if control_port is not None:
            self.control_server = ControlServer(int(control_port), lambda: {"mode": self.override.mode,
                                                                           "history": self.override.history[-10:],
                                                                           **self.status()})
            log.info("shadow: manual override on http://127.0.0.1:%d/control", self.control_server.port)
        control_file = ControlFile(self.journal.dir, self.control_digest)
        max_steps = self.shadow.get("max_steps")
        last_data_at, record = time.monotonic(), None
        self._set_warmup_metrics()
        try:
            if max_steps is None or self.steps_observed < int(max_steps):
                for obs, cursor in self.source.observations(self.cursor, idle=lambda: self.idle(last_data_at)):
                    last_data_at = time.monotonic()
                    if obs.gap_steps:
                        log.warning("shadow: %d step(s) without data before %s: reported, not filled",
                                    obs.gap_steps, obs.time.isoformat())
                    if self.warming:
                        self._warm(obs, cursor)
                        self.metrics.lag.set(time.monotonic() - last_data_at)
                    else:
                        record = self.step(obs, cursor, control_file)
                        self._watch(record, last_data_at)
                    if max_steps is not None and self.steps_observed >= int(max_steps):
                        break
            self._save()
            if self.warming:
                log.info("shadow: stopped in the warm-up: %d of %d steps observed; the same command resumes it",
                         self.warmup.observed, self.warmup.n_steps)
            self.write_dashboard(record)
        finally:
            self.journal.close()
            if self.control_server:
                self.control_server.close()
            self.metrics.close()
            self.source.close()
        summary = {"steps": self.step_index, **self.status(), **({k: record[k] for k in ("net_pnl_usd", "pnl_vs_hodl_usd", "actions",
                                                                         "widens", "gas_usd_total")} if record else {})}
        log.info("shadow: %s", json.dumps(summary))
        return summary


def _calibrated(config: dict[str, Any]) -> str:
    from hbbatch.campaign.calibration import apply_calibration, explicit_keys

    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = list(HydraConfig.get().overrides.task)
    except ValueError:      # not inside a Hydra run (library use)
        overrides = []
    return apply_calibration(config, explicit_keys(overrides))["hash"]


def run_shadow(config: dict[str, Any], calibrate: bool = True) -> dict[str, Any]:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    url = config["shadow"].get("rpc_url")
    try:
        calibration_hash = _calibrated(config) if calibrate else "none"
        return ShadowRun(config, calibration_hash).run()
    except ValueError as exc:
        raise ShadowError(scrub(" ".join(str(exc).split()), url)) from None
    except OSError as exc:
        raise ShadowError(scrub(f"{type(exc).__name__}: {exc}", url)
                          + (f" (endpoint {redact_url(url)})" if url else "")) from None


def _scrub_hydra_outputs(url: str | None) -> None:
    """Hydra copies the command line into <run dir>/.hydra: take an endpoint's secrets out of it."""
    if not url or redact_url(url) == url:
        return
    try:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
        folder = Path(hc.runtime.output_dir) / str(hc.output_subdir or "")
    except ValueError:
        return
    if not hc.output_subdir or not folder.is_dir():
        return
    from hbbatch.io import write_text

    for path in folder.glob("*.yaml"):
        text = path.read_text()
        if url in text or scrub(text, url) != text:
            write_text(path, scrub(text, url))


def run(cfg) -> int:
    from omegaconf import OmegaConf

    config = OmegaConf.to_container(cfg, resolve=True)
    _scrub_hydra_outputs(config["shadow"].get("rpc_url"))
    run_shadow(config)
    return 0
