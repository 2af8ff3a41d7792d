"""Errors as users read them: one line (the bottom layer: imports nothing of hbbatch)."""

from __future__ import annotations

import re


def one_line(exc: BaseException) -> str:
    """An exception (and its cause, for Hydra's composition errors) as one line.

    Bad input raises ValueError subclasses whose message says what and how to fix it: shown as they are.
    Anything else (a KeyError, a TypeError: a bug, not input) keeps its type, so the line is never a bare
    'None' or "'x'"."""
    if type(exc).__name__ == "UncompletedJobError" and type(exc).__module__.startswith("submitit"):
        return uncompleted_job(str(exc))
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


def uncompleted_job(message: str) -> str:
    """submitit's error for a launcher job whose process ended without a result (killed, out of memory, a
    node lost), 40 lines of the job's log in it, as one line: the job, its state, its last error line and
    where its logs are."""
    found = re.match(r"Job (\S+) \(task: (\d+)\) with path (\S+?)_result\.pkl\s+has not produced any output "
                     r"\(state: ([^)]*)\)", message)
    if found is None:
        return " ".join(message.split())[:300]
    job, task, stem, state = found.groups()
    errors = message.split("Error stream produced:", 1)[1].splitlines() if "Error stream produced:" in message else []
    last = next((line.strip() for line in reversed(errors) if line.strip() and set(line.strip()) != {"-"}), "")
    return (f"launcher job {job} (task {task}) ended without a result (state: {state}: killed, out of memory or "
            f"its node lost?){'; its last error line: ' + last if last else ''}; its logs: {stem}_log.out and "
            f"{stem}_log.err")
