"""A composed config checked against the bounds its schema declares (hbbatch.config.bounds), before anything runs.

Refused, each with one line naming the key, what is wrong and the accepted range:
- a number that is NaN, infinite or outside its field's bounds;
- a string outside its field's choices (an enum), a name with a path separator, an output folder that
  climbs out with '..';
- a world's exemption from a fact (world.validation.exempt_facts) that is not a fact of its suite, has no
  reason, or that the world's changed assumptions do not move (hbbatch.config.world.exemption_problems);
- a key the schema does not have (`+n_episode=10`: OmegaConf lets an explicit append through; here it
  is an error, with the nearest key as the fix);
- numbers valid one by one that cannot run together: a band or floor below one tick spacing, a timer shorter
  than a step (`hbbatch.config.sim.agent_problems`), a hard cap leaving fewer than two actions an episode, a
  GARCH with alpha + beta >= 1, a regime mix that does not sum to 1, widen-share bounds the wrong way round.

`check_config` runs in three places: in Hydra's run/multirun start callback (before any folder is
made, for every job of a basic sweep), in each job (launcher workers too), and on a config after a
calibration report is merged into it.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Mapping
from typing import Any

from hbbatch.config.bounds import Bounds, field_bounds

_FINITE = Bounds()   # numbers without declared bounds must still be finite


class ConfigValueError(ValueError):
    """A config value that must never run; the message is one line naming the key and the fix."""


def check_config(config: Mapping[str, Any], schema: type | None = None) -> None:
    """Raise ConfigValueError for the first refused value of `config` (a plain, resolved mapping)."""
    found = problems(config, schema)
    if found:
        more = f" (and {len(found) - 1} more refused value(s))" if len(found) > 1 else ""
        raise ConfigValueError(found[0] + more)


def problems(config: Mapping[str, Any], schema: type | None = None) -> list[str]:
    """Every refused value of `config`, one line each; the `hydra` section is Hydra's own."""
    if schema is None:
        from hbbatch.config.schema import Config

        schema = Config
    out: list[str] = []
    _walk_dataclass({k: v for k, v in config.items() if k != "hydra"}, schema, "", None, out)
    if not out and isinstance(config.get("agent"), Mapping):   # what one field's bounds cannot see
        from hbbatch.config.sim import agent_problems

        out += agent_problems(config.get("market") or {}, config["agent"], config.get("floors") or {})
        out += rails_problems(config["agent"].get("rails") or {})
    if not out:
        out += market_problems(config.get("market") or {}, config.get("regime_mix") or {})
    thresholds = (config.get("criteria") or {}).get("thresholds") or {}
    if not out and thresholds.get("widen_share_min", 0.0) > thresholds.get("widen_share_max", 1.0):
        out.append(f"criteria.thresholds.widen_share_min={thresholds['widen_share_min']} is above "
                   f"criteria.thresholds.widen_share_max={thresholds['widen_share_max']}: no widen share passes; "
                   f"use min <= max, e.g. 0.1 and 0.2")
    if not out and isinstance(config.get("world"), Mapping):   # exemptions name facts of the world suite
        from hbbatch.config.world import exemption_problems

        out += exemption_problems(config["world"], (config.get("paths") or {}).get("expectations_dir"))
    return out


def market_problems(market: Mapping[str, Any], regime_mix: Mapping[str, Any]) -> list[str]:
    """Numbers valid one by one that the simulator cannot run together: a GARCH that is not stationary
    (alpha + beta >= 1), a regime mix that does not sum to 1 (within MIX_TOLERANCE)."""
    from hbbatch.config.sim import MIX_TOLERANCE, REGIMES, MarketConf, RegimeMixConf

    out: list[str] = []
    alpha = float(market.get("garch_alpha", MarketConf.garch_alpha))
    beta = float(market.get("garch_beta", MarketConf.garch_beta))
    if not alpha + beta < 1.0:
        out.append(f"market.garch_alpha + market.garch_beta = {alpha + beta:.6g}: must be < 1 (a stationary GARCH); "
                   f"use a sum below 1, e.g. market.garch_alpha={MarketConf.garch_alpha} market.garch_beta="
                   f"{MarketConf.garch_beta}")
    if regime_mix:
        shares = {r: float(regime_mix.get(r, getattr(RegimeMixConf, r))) for r in REGIMES}
        total = sum(shares.values())
        if not abs(total - 1.0) <= MIX_TOLERANCE:
            out.append(f"regime_mix: the shares {', '.join(f'{r}={v:g}' for r, v in shares.items())} sum to "
                       f"{total:.4g}; use shares that sum to 1 (within {MIX_TOLERANCE}), e.g. "
                       + " ".join(f"regime_mix.{r}={getattr(RegimeMixConf, r)}" for r in REGIMES))
    return out


def rails_problems(rails: Mapping[str, Any]) -> list[str]:
    """The hard cap gives each episode K // N actions and keeps one for a safety exit: at least two each."""
    from hbbatch.config.sim import RailsConf

    k = int(rails.get("max_actions", RailsConf.max_actions))
    n = int(rails.get("max_actions_episodes", RailsConf.max_actions_episodes))
    if n >= 1 and k // n < 2:
        return [f"agent.rails.max_actions={k} per agent.rails.max_actions_episodes={n} leaves {k // n} action(s) an "
                f"episode, one kept for a safety exit; use max_actions of at least {2 * n}"]
    return []


def _walk_dataclass(value: Any, cls: type, prefix: str, inherited: Bounds | None, out: list[str]) -> None:
    if not isinstance(value, Mapping):
        return
    hints = _hints(cls)
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key in value:
        if key not in names:
            close = difflib.get_close_matches(str(key), list(names), n=1)
            fix = f"did you mean {prefix}{close[0]}?" if close else f"keys here: {', '.join(names)}"
            out.append(f"{prefix}{key}: not a key of the config (an appended +key is not a setting); {fix}")
    for name, f in names.items():
        if name in value:
            _walk(value[name], hints[name], field_bounds(f) or inherited, f"{prefix}{name}", _default(f), out)


def _walk(value: Any, tp: Any, bounds: Bounds | None, key: str, default: Any, out: list[str]) -> None:
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        _walk_dataclass(value, tp, key + ".", bounds, out)
    elif origin in (dict, Mapping) and isinstance(value, Mapping):
        value_type = (typing.get_args(tp) or (Any, Any))[1]
        for k, v in value.items():
            _walk(v, value_type, bounds, f"{key}.{k}", None, out)
    elif origin in (list, tuple) and isinstance(value, (list, tuple)):
        item_type = (typing.get_args(tp) or (Any,))[0]
        for i, v in enumerate(value):
            _walk(v, item_type, bounds, f"{key}[{i}]", None, out)
    elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
        if isinstance(value, str) and value == "???":
            return   # a mandatory value not given: OmegaConf names it when it is read
        rule = bounds if bounds is not None else _FINITE
        problem = rule.problem(value)
        if problem:
            example = f", e.g. {key}={default}" if default is not None and rule.problem(default) is None else ""
            out.append(f"{key}={_show(value)} {problem}: use {rule.describe()}{example}")


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else Any
    return tp


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return None


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def unbounded_numbers(schema: type | None = None) -> list[str]:
    """Numeric fields of `schema` (nested) that declare no bounds, directly or through a parent: each
    would accept any finite number. The schema's test keeps this list empty."""
    if schema is None:
        from hbbatch.config.schema import Config

        schema = Config
    out: list[str] = []
    _scan(schema, "", False, out)
    return out


def _scan(cls: type, prefix: str, inherited: bool, out: list[str]) -> None:
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        declared = field_bounds(f)
        has = inherited or (declared is not None and declared.numeric())
        _scan_type(hints[f.name], f"{prefix}{f.name}", has, out)


def _scan_type(tp: Any, key: str, has: bool, out: list[str]) -> None:
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        _scan(tp, key + ".", has, out)
    elif origin in (dict, Mapping):
        _scan_type((typing.get_args(tp) or (Any, Any))[1], key + ".*", has, out)
    elif origin in (list, tuple):
        _scan_type((typing.get_args(tp) or (Any,))[0], key + "[]", has, out)
    elif tp in (int, float) and not has:
        out.append(key)
