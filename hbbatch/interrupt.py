"""Ctrl-C held back while a module is being imported, then raised as usual.

A KeyboardInterrupt raised inside an import can leave a C extension half-initialised: interrupting the
command while it imported jaxlib (Hydra's callbacks import the simulator) crashed the interpreter (exit
-11, not 130) in 3 of 5 tries, and in others the interrupt was lost and the run went on to the end. The
command's handler lets an import finish first: it asks again a moment later, and raises KeyboardInterrupt
(the command's usual cancel: exit 130) as soon as no import is under way.
"""

from __future__ import annotations

import signal
import threading

RETRY_S = 0.05   # how soon a held Ctrl-C is looked at again
IMPORT_FILES = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")


def importing(frame) -> bool:
    """Whether the code at `frame` runs inside an import (an importlib frame below it)."""
    while frame is not None:
        if frame.f_code.co_filename in IMPORT_FILES:
            return True
        frame = frame.f_back
    return False


def _handle(signum, frame) -> None:
    if importing(frame):   # the signal again once the import may be done (a timer: no other signal is used)
        timer = threading.Timer(RETRY_S, signal.raise_signal, (signal.SIGINT,))
        timer.daemon = True
        timer.start()
        return
    raise KeyboardInterrupt


def install() -> None:
    """Hold Ctrl-C during imports, from the main thread, where SIGINT has Python's own handler (not where a
    caller ignores it, as a shell does for a background job)."""
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _handle)
