"""Before a campaign simulates: check its world against the real history (hbbatch.worlds.validation).

A world is identified by what determines its market paths and their check: the world section (with the
validation settings), the market numbers after calibration, the regime mix, the seed and dtype, and the
code and data the check runs on (the simulator's and the worlds' sources, the suite, the embedded
history's index). The check is deterministic in these, so its result is stored and reused:
- in a multirun, in the sweep folder (`.world_validation/<key>.json`): the first job to need a world
  validates it under a lock, every other job of that world, in this process or another launcher's,
  reads it back;
- across runs, in `world.validation.cache_dir` (default `$XDG_CACHE_HOME/hbbatch/world_validation`),
  unless `world.validation.cache=false`. A reused result says so (`cached`, `stored_at`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Iterator

from hbbatch import io as hbio
from hbbatch.campaign import stream

log = logging.getLogger(__name__)
WORLD_SECTIONS = ("market", "regime_mix", "seed", "dtype")
CACHE_DIR = ".world_validation"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
CODE_DIRS = ("sim", "worlds")   # the code a world's sample and facts come from


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over the sources of the simulator, the worlds (host side, embedded history index included) and
    this module: a change to any of them is another check."""
    digest = hashlib.sha256()
    files = sorted(p for d in CODE_DIRS for p in (PACKAGE_DIR / d).rglob("*.py")) + [Path(__file__)]
    files.append(PACKAGE_DIR / "data" / "history" / "index.json")
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def suite_path(config: dict[str, Any]) -> Path:
    return Path(config["paths"]["expectations_dir"]) / "world" / f"{config['world']['validation']['suite']}.json"


def world_key(config: dict[str, Any]) -> str:
    """The hash of everything that decides the world's sample and its check (not the agent's settings)."""
    world = {k: v for k, v in config["world"].items() if k != "validate"}
    world["validation"] = {k: v for k, v in world.get("validation", {}).items() if k not in ("cache", "cache_dir")}
    suite, history = suite_path(config), config["world"].get("history")
    return hbio.sha256_of({"world": world, **{k: config[k] for k in WORLD_SECTIONS if k in config},
                           "code": code_fingerprint(), "suite": _file_sha256(suite),
                           "history": _file_sha256(Path(history)) if history else None})


def _file_sha256(path: Path) -> str | None:
    """A file's content hash (a user's history file: a changed file is another world), None if absent."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hbbatch" / "world_validation"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def real_window(conf: dict[str, Any], world: dict[str, Any]) -> tuple[str | None, str | None]:
    """The real history's dates a world is held against: the validation's own, else the world's window."""
    if conf.get("history_start") is None and conf.get("history_end") is None:
        return world.get("history_start"), world.get("history_end")
    return conf.get("history_start"), conf.get("history_end")


def _validate(config: dict[str, Any]) -> dict[str, Any]:
    from hbbatch.sim import make_params
    from hbbatch.worlds.reference import embedded_history_facts
    from hbbatch.worlds.validation import sample_paths, validate_world

    spec = stream.rollout_spec(config, 1)     # the job's spec and params; the sample sets its own sizes
    params = make_params(**{s: config[s] for s in stream.SIM_SECTIONS}, dtype=spec.dtype)

    conf = config["world"]["validation"]
    # the world's own paths (historical bars or the parametric model), built for the sample's size
    n_sample_steps = int(round(conf["n_weeks"] * 7 * 24 * 60 / float(config["market"]["step_minutes"])))
    world = stream.build_world({**config, "n_steps": n_sample_steps, "n_episodes": int(conf["n_episodes"])})
    params = params._replace(world=world.params)
    t0 = time.perf_counter()
    # A world that sets its gas level (world.gas_median_usd: the deployment level, a stress) is held against
    # the history's gas read the way the world reads it (relative to each day's level, rescaled): the level is
    # the world's stated assumption, the day-to-day spread and the link to |return| are checked on real days.
    gas_level_days, gas_scale = world.info.get("gas_level_days"), float(world.info.get("gas_scale", 1.0))
    start, end = real_window(conf, config["world"])
    real = embedded_history_facts(float(config["calibration"]["recenter_gas_units"]), start, end,
                                  gas_level_days, gas_scale)
    paths = sample_paths(spec, params, int(config["seed"]), world.n_episodes, conf["n_weeks"],
                         float(config["market"]["step_minutes"]))
    t_sample = time.perf_counter() - t0
    result = validate_world(paths, real, conf, Path(config["paths"]["expectations_dir"]),
                            world=str(config["world"]["name"]))
    result.update(history={"start": start, "end": end, "bars_minutes": 60,
                           "gas_level_days": gas_level_days, "gas_scale": gas_scale},
                  sample_s=t_sample, seconds=time.perf_counter() - t0)
    return result


def _stores(config: dict[str, Any], sweep_dir: Path | None, name: str) -> list[Path]:
    """Where this world's result may be stored: the sweep folder, then the cache across runs."""
    conf = config["world"]["validation"]
    stores = [Path(sweep_dir) / CACHE_DIR / name] if sweep_dir is not None else []
    if conf.get("cache", True):
        stores.append(Path(conf.get("cache_dir") or default_cache_dir()) / name)
    return stores


def check_world(config: dict[str, Any], cache_dir: Path | None, label: str = "") -> dict[str, Any]:
    """The world's validation result for this job: validated now, or read back where this world's result
    is stored (`cache_dir`: the sweep folder of a multirun; see the module docstring). `world.validate=false`
    gives a skipped result that says so."""
    key = world_key(config)
    name = str(config["world"]["name"])
    if not config["world"].get("validate", True):
        log.warning("[%s] world %s is not validated (world.validate=false)", label, name)
        return {"world": name, "key": key, "status": "skipped", "success": None, "validate": False,
                "message": f"world {name} not validated: world.validate=false"}
    stores = _stores(config, cache_dir, f"{key.split(':')[-1]}.json")
    lock = _locked(stores[0].with_suffix(".lock")) if cache_dir is not None else contextlib.nullcontext()
    with lock:
        for store in stores:
            if store.is_file():
                result = json.loads(store.read_text())
                for other in stores:
                    if not other.is_file():
                        hbio.write_json(other, result)
                log.info("[%s] world %s: validation reused from %s", label, name, store)
                return {**result, "cached": True, "stored_at": str(store)}
        result = {**_validate(config), "key": key, "validate": True, "validated_by": label}
        for store in stores:
            hbio.write_json(store, result)
    return {**result, "cached": False}
