"""In-process shadow runs on the composed default config (faster than the command for unit-sized checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from hbbatch.config.schema import Config
from hbbatch.shadow.task import ShadowRun


# The embedded day has 1,440 bars, all of them a default warm-up (agent.warmup_minutes=1440): the tests of
# decisions, rails and resumption start cold unless they set a warm-up (test_warmup.py tests the warm-up).
COLD = {"agent.warmup_minutes": 0}


def config(state_dir: Path, overrides: dict[str, Any] | None = None, **shadow: Any) -> dict[str, Any]:
    """The schema's defaults with `shadow.*` keys and dotted `overrides` ("agent.rails.max_drawdown": 0.01),
    cold (`COLD`) unless `overrides` set agent.warmup_minutes."""
    cfg = OmegaConf.structured(Config)
    for key, value in {"shadow.state_dir": str(state_dir), **COLD, **{f"shadow.{k}": v for k, v in shadow.items()},
                       **(overrides or {})}.items():
        OmegaConf.update(cfg, key, value, merge=True)
    return OmegaConf.to_container(cfg, resolve=True)


class Finished:
    def __init__(self, run: ShadowRun, summary: dict[str, Any]):
        self.run, self.summary, self.dir = run, summary, run.journal.dir


def run_in_process(cfg: dict[str, Any]) -> Finished:
    run = ShadowRun(cfg)
    return Finished(run, run.run())
