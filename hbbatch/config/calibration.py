"""Schema of the `calibration` config group (owned by the calibration package)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CalibrationConf:
    source: str = "none"          # none | default | file | snapshot | dune | files
    path: str | None = None       # a calibration_report.json (for `file`)
