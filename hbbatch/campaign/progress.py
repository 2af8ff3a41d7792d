"""Progress of a long job: a rich bar on a terminal, one log line per stage otherwise.

`scale.progress`: auto (a bar when stderr is a terminal), bar, log, or off.
"""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType

log = logging.getLogger(__name__)
LOG_EVERY_S = 60.0   # without a terminal, a line while simulating at most this often (besides each stage)


class Progress:
    """`with Progress(label, total_episodes, mode) as p: p.advance(n); p.stage("statistics")`."""

    def __init__(self, label: str, total_episodes: int, mode: str = "auto") -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "log"
        self.label, self.total, self.mode = label, int(total_episodes), mode
        self.done, self.started = 0, time.perf_counter()
        self._bar = None
        self._task = None
        self._last_line = self.started

    def __enter__(self) -> "Progress":
        if self.mode == "bar":
            from rich.markup import escape
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

            # escaped: "[default]" (a single run's label) or "[red]" would be read as a style and not shown
            self._bar = Bar(TextColumn(escape(f"[{self.label}]") + " {task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("episodes"), TimeRemainingColumn(), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("simulating", total=self.total)
        return self

    def advance(self, episodes: int) -> None:
        self.done += int(episodes)
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif self.mode == "log" and time.perf_counter() - self._last_line >= LOG_EVERY_S and self.done < self.total:
            elapsed = time.perf_counter() - self.started
            left = elapsed / max(self.done, 1) * (self.total - self.done)
            log.info("[%s] simulated %d of %d episodes (%.0f s, about %.0f s left)", self.label, self.done,
                     self.total, elapsed, left)
            self._last_line = time.perf_counter()

    def stage(self, name: str) -> None:
        """A new stage (statistics, writing): a log line, or the bar's description."""
        if self._bar is not None:
            self._bar.update(self._task, description=name)
        elif self.mode != "off":
            log.info("[%s] %s", self.label, name)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
