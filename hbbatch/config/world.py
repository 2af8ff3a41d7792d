"""The world: where a campaign's market paths come from, and whether it is validated before simulating."""

from __future__ import annotations

from dataclasses import dataclass, field

from hbbatch.config.world_validation import WorldValidationConf


@dataclass
class WorldConf:
    name: str = "regimes"                     # the scenario label (conf/world/<name>.yaml)
    validate: bool = True                     # false: simulate without checking the world (the manifest says so)
    validation: WorldValidationConf = field(default_factory=WorldValidationConf)
