"""Errors as users read them: one line (the bottom layer: imports nothing of hbbatch)."""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """An exception (and its cause, for Hydra's composition errors) as one line.

    Bad input raises ValueError subclasses whose message says what and how to fix it: shown as they are.
    Anything else (a KeyError, a TypeError: a bug, not input) keeps its type, so the line is never a bare
    'None' or "'x'"."""
    # Hydra appends its config search path to a missing-option error: noise on one line
    lines = [line.strip() for line in str(exc).split("Config search path:")[0].splitlines() if line.strip()]
    text = lines[0].rstrip(".") if lines else type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        text += ": " + str(cause).strip().splitlines()[0].rstrip(".")
    if len(lines) > 1:
        text += "; " + " ".join(" ".join(lines[1:]).split())
    if type(exc).__module__ == "builtins" and not isinstance(exc, (ValueError, OSError)) and lines:
        text = f"{type(exc).__name__}: {text}"
    return text
