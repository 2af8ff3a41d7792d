"""Bounds declared beside each config field, in the field's metadata: the one place a key's valid range lives.

    price_start_usd: float = bounded(2270.0, gt=0, le=1e9)
    mode: str = one_of("ev", ("ev", "off"))
    experiment_name: str = plain_name("default")
    pool: str = address("0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640")
    vol_annual: PerRegime = bounded(per_regime(0.55, 0.75, 0.65), gt=0, le=20)   # each regime's number
    refresh_s: Dict[str, int] = bounded(factory=lambda: {"P0": 0}, ge=0)          # each value

A bound on a container field (a nested dataclass, a dict, a list) applies to every number inside it
that does not declare its own. Every number is also required to be finite: NaN and infinities are never
a setting. `hbbatch.config.checks` walks a composed config against these declarations before anything
runs. This module is plain Python (no Hydra, no OmegaConf): the simulator imports the schemas.
"""

from __future__ import annotations

import math
import re
from dataclasses import MISSING, dataclass, field
from typing import Any, Callable

METADATA_KEY = "hbbatch.bounds"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.,=+-]*")   # one path component, never '.' or '..'
ADDRESS_PATTERN = re.compile(r"0x[0-9a-fA-F]{40}")                # an Ethereum address (a pool, a token)


@dataclass(frozen=True)
class Bounds:
    """What one field accepts. Numbers: ge / gt / le / lt. Strings: choices, a plain name, an output path or an
    address."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] | None = None
    name: bool = False          # one path component: no separator, not '.' or '..'
    output_path: bool = False   # where files are written: relative paths may not climb out with '..'
    address: bool = False       # an Ethereum address: 0x and 40 hex digits

    def numeric(self) -> bool:
        return any(v is not None for v in (self.ge, self.gt, self.le, self.lt))

    def describe(self) -> str:
        """The accepted range in interval notation: '(0, 1]', '>= 0', 'one of ev, off'."""
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        if self.name:
            return "a plain name (letters, digits, _ . , = + -; no path separator)"
        if self.output_path:
            return "an absolute path or a relative one without '..'"
        if self.address:
            return "0x and 40 hex digits"
        low = self.ge if self.ge is not None else self.gt
        high = self.le if self.le is not None else self.lt
        if low is not None and high is not None:
            opening, closing = "[" if self.ge is not None else "(", "]" if self.le is not None else ")"
            return f"{opening}{_num(low)}, {_num(high)}{closing}"
        if low is not None:
            return f"{'>=' if self.ge is not None else '>'} {_num(low)}"
        if high is not None:
            return f"{'<=' if self.le is not None else '<'} {_num(high)}"
        return "any finite number"

    def problem(self, value: Any) -> str | None:
        """Why `value` is refused (None: accepted). None values are the schema's business (Optional)."""
        if value is None:
            return None
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            if isinstance(value, float) and math.isnan(value):
                return "is not a number"
            if isinstance(value, float) and math.isinf(value):
                return "is infinite"
            if ((self.ge is not None and value < self.ge) or (self.gt is not None and value <= self.gt)
                    or (self.le is not None and value > self.le) or (self.lt is not None and value >= self.lt)):
                return "is out of range"
            return None
        if isinstance(value, str):
            if self.choices is not None and value not in self.choices:
                return "is not a known choice"
            if self.name and not NAME_PATTERN.fullmatch(value):
                return "is not a plain name"
            if self.output_path and not value.startswith("/") and ".." in re.split(r"[\\/]", value):
                return "climbs out of the working folder"
            if self.address and not ADDRESS_PATTERN.fullmatch(value):
                return "is not an address"
        return None


def _num(value: float) -> str:
    if value == 2**63:
        return "2^63"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"


def _field(default: Any, factory: Callable[[], Any] | None, bounds: Bounds) -> Any:
    metadata = {METADATA_KEY: bounds}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def bounded(default: Any = MISSING, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
            lt: float | None = None, factory: Callable[[], Any] | None = None) -> Any:
    """A numeric field (or a container of numbers) with its range. Give `factory` for a mutable default."""
    if all(v is None for v in (ge, gt, le, lt)):
        raise TypeError("bounded(): give at least one of ge, gt, le, lt")
    if isinstance(default, (list, dict, set)) or (hasattr(default, "__dataclass_fields__") and factory is None):
        value = default
        factory, default = (lambda: _copy(value)), MISSING
    return _field(default, factory, Bounds(ge=ge, gt=gt, le=le, lt=lt))


def seed_field(default: int) -> Any:
    """A seed: an integer in [0, 2^63), the range every stage can key its random draws with."""
    return bounded(default, ge=0, lt=2**63)


def one_of(default: Any, choices: tuple[str, ...] | list[str], *, factory: Callable[[], Any] | None = None) -> Any:
    """A string field (or a list of strings) limited to `choices`; a None default makes the field Optional."""
    return _field(default, factory, Bounds(choices=tuple(choices)))


def plain_name(default: Any) -> Any:
    """A name that becomes one folder under the outputs: no separators, not '.' or '..'."""
    return _field(default, None, Bounds(name=True))


def output_path(default: Any) -> Any:
    """A folder the run writes into: absolute, or relative without climbing out via '..'."""
    return _field(default, None, Bounds(output_path=True))


def address(default: Any) -> Any:
    """An Ethereum address (a pool, a token): 0x and 40 hex digits."""
    return _field(default, None, Bounds(address=True))


def field_bounds(f: Any) -> Bounds | None:
    """The bounds a dataclass field declares, if any."""
    return f.metadata.get(METADATA_KEY)


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)
