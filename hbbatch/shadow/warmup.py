"""The shadow agent's warm-up: it observes `agent.warmup_minutes` of prices before it may act.

The simulated agent a campaign validates folds the world's last `warmup_minutes` before its episode into its
memory before its first decision (`env.warm_up`: volatility, trend and jump estimates, no band, no action).
A shadow run does the same with its first observations: each warm-up step's move (its return and the pool's
volume) is kept, no band is held and no order placed; when the warm-up is complete the band opens at that
observation's close, with the memory `env.warm_up` folds from the kept moves (`hbbatch.sim.replay.opening_state`,
the replay's own opening, so over bars the memory and every decision are the replay's, bit for bit).

The kept moves are part of the snapshot (`journal.py`): a run killed during its warm-up resumes it where its
snapshot stands, the source re-reading the observations after it, and never starts it again nor skips it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbbatch.config.sim import warmup_steps

ARRAYS = ("warmup.log_return", "warmup.volume_usd")


def too_few_bars(config: dict[str, Any], n_bars: int, bars_key: str, path) -> str | None:
    """None when `n_bars` bars hold the warm-up and at least one decision, else the one-line error naming the
    key and the fix (never a silent cold start)."""
    n_steps = warmup_steps(config["agent"], config["market"])
    if n_bars > n_steps:
        return None
    minutes, step_minutes = float(config["agent"]["warmup_minutes"]), float(config["market"]["step_minutes"])
    return (f"agent.warmup_minutes={minutes:g}: the agent observes {n_steps} steps before its first decision, but "
            f"{bars_key}={path} holds {n_bars} bars; give bars that begin at least {minutes:g} minutes before the "
            f"first decision, or set agent.warmup_minutes below {n_bars * step_minutes:g} (0: a cold start, unlike "
            "the agent the campaign validated)")


class Warmup:
    """The moves observed so far of a warm-up of `n_steps` steps."""

    def __init__(self, n_steps: int, log_return=(), volume_usd=()):
        self.n_steps = int(n_steps)
        self.log_return, self.volume_usd = [float(v) for v in log_return], [float(v) for v in volume_usd]
        if len(self.log_return) != len(self.volume_usd) or self.observed > self.n_steps:
            raise ValueError(f"warm-up snapshot: {len(self.log_return)} returns and {len(self.volume_usd)} volumes "
                             f"for a warm-up of {self.n_steps} steps")

    @property
    def observed(self) -> int:
        return len(self.log_return)

    @property
    def remaining(self) -> int:
        return self.n_steps - self.observed

    @property
    def done(self) -> bool:
        return self.observed >= self.n_steps

    def add(self, log_return: float, volume_usd: float) -> None:
        self.log_return.append(float(log_return))
        self.volume_usd.append(float(volume_usd))

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(zip(ARRAYS, (np.asarray(self.log_return, np.float64), np.asarray(self.volume_usd, np.float64))))

    @classmethod
    def from_arrays(cls, n_steps: int, arrays: dict[str, np.ndarray]) -> "Warmup":
        return cls(n_steps, arrays.get(ARRAYS[0], ()), arrays.get(ARRAYS[1], ()))

    def status(self) -> dict[str, Any]:
        return {"phase": "deciding" if self.done else "warming_up", "warmup_steps": self.n_steps,
                "warmup_observed": self.observed, "warmup_remaining": self.remaining}
