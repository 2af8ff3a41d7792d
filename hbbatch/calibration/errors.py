"""Errors of the calibration pipeline: each message is one line naming the file or query, the field and the fix."""

from __future__ import annotations


class CalibrationError(ValueError):
    """Bad input to calibration; the CLI prints the message and exits non-zero."""


class SourceError(CalibrationError):
    """A query result could not be obtained or read (missing file, API failure, malformed payload).
    `credits`: what a failed execution was still charged (the planner's budget counts it)."""

    def __init__(self, message: str, credits: float = 0.0):
        super().__init__(message)
        self.credits = float(credits)


class GateError(CalibrationError):
    """A data-quality gate failed; the message lists every failed expectation with its observed value."""


class ReportError(CalibrationError):
    """A calibration report is malformed, truncated or violates the schema."""
