"""Before a campaign simulates: check its world against the real history (hbbatch.worlds.validation).

A world is identified by what determines its market paths (the world section, the market numbers after
calibration, the regime mix, the seed and dtype) plus the validation settings; in a multirun each
distinct world is validated once. The first job to need a world validates it under a lock and stores the
result in the sweep folder (`.world_validation/<key>.json`); every other job of that world, in this
process or another launcher's, reads it back.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
from pathlib import Path
from typing import Any, Iterator

from hbbatch import io as hbio
from hbbatch.campaign import stream

log = logging.getLogger(__name__)
WORLD_SECTIONS = ("market", "regime_mix", "seed", "dtype")
CACHE_DIR = ".world_validation"


def world_key(config: dict[str, Any]) -> str:
    """The hash of everything that decides the world's sample and its check (not the agent's settings)."""
    world = {k: v for k, v in config["world"].items() if k != "validate"}
    return hbio.sha256_of({"world": world, **{k: config[k] for k in WORLD_SECTIONS if k in config}})


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _validate(config: dict[str, Any]) -> dict[str, Any]:
    from hbbatch.sim import make_params
    from hbbatch.worlds.reference import embedded_history_facts
    from hbbatch.worlds.validation import sample_paths, validate_world

    spec = stream.rollout_spec(config, 1)     # the job's spec and params; the sample sets its own sizes
    params = make_params(**{s: config[s] for s in stream.SIM_SECTIONS}, dtype=spec.dtype)

    conf = config["world"]["validation"]
    t0 = time.perf_counter()
    real = embedded_history_facts(float(config["calibration"]["recenter_gas_units"]), conf["history_start"],
                                  conf["history_end"])
    paths = sample_paths(spec, params, int(config["seed"]), conf["n_episodes"], conf["n_weeks"],
                         float(config["market"]["step_minutes"]))
    t_sample = time.perf_counter() - t0
    result = validate_world(paths, real, conf, Path(config["paths"]["expectations_dir"]),
                            world=str(config["world"]["name"]))
    result.update(history={"start": conf["history_start"], "end": conf["history_end"], "bars_minutes": 60},
                  sample_s=t_sample, seconds=time.perf_counter() - t0)
    return result


def check_world(config: dict[str, Any], cache_dir: Path | None, label: str = "") -> dict[str, Any]:
    """The world's validation result for this job (validated now, or read from `cache_dir` where another
    job of the same world stored it); `world.validate=false` gives a skipped result that says so."""
    key = world_key(config)
    name = str(config["world"]["name"])
    if not config["world"].get("validate", True):
        log.warning("[%s] world %s is not validated (world.validate=false)", label, name)
        return {"world": name, "key": key, "status": "skipped", "success": None, "validate": False,
                "message": f"world {name} not validated: world.validate=false"}
    if cache_dir is None:
        result = _validate(config)
        return {**result, "key": key, "validate": True, "cached": False}
    stored = Path(cache_dir) / CACHE_DIR / f"{key.split(':')[-1]}.json"
    with _locked(stored.with_suffix(".lock")):
        if stored.is_file():
            result = json.loads(stored.read_text())
            log.info("[%s] world %s: validation of %s reused", label, name, result.get("validated_by", "another job"))
            return {**result, "cached": True}
        result = {**_validate(config), "key": key, "validate": True, "validated_by": label}
        hbio.write_json(stored, result)
    return {**result, "cached": False}
