"""The process's exit status, dbt-style: 0 success, 1 a success criterion failed, 2 an error; 130 cancelled.

Hydra ignores the task function's return value, so the task and the multirun callback record their
outcome here and the command exits with the worst one.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

OK, FAILED, ERROR = 0, 1, 2
CANCELLED = 130   # Ctrl-C, as a shell reports a process ended by SIGINT (128 + 2)
_recorded: list[int] = []


def record(code: int) -> None:
    _recorded.append(int(code))


def final() -> int:
    return max(_recorded, default=OK)


def reset() -> None:
    _recorded.clear()


def exit_now(code: int) -> NoReturn:
    """Exit with `code` at once, once what was written is flushed. For Ctrl-C: a simulation interrupted while XLA's
    threads still run it crashed the interpreter's normal shutdown (SIGSEGV, exit 139 instead of 130)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(int(code))
