"""Progress for long jobs (extraction, training) on stderr, readable in a terminal and in a log file.

* stderr is a terminal: a tqdm bar that disappears when the job ends.
* stderr is not a terminal (SLURM, nohup, a pipe, CI): a plain line every ``interval`` seconds (default 30;
  ``ZSL_PROGRESS_INTERVAL`` sets it) with the items done, the rate and the time left, e.g.
  ``extract-audio: 1200/5000 clips (24%), 8.1 clips/s, ETA 7m49s``, and one closing line
  ``extract-audio: 5000 clips in 10m17s (8.1 clips/s)`` when at least one line was printed. A job shorter
  than the interval prints nothing, so short runs stay quiet.
* ``enabled=False`` (``--quiet``): nothing.

Usage::

    with Progress(total=len(todo), desc="extract-audio", unit="clip", enabled=not quiet) as bar:
        for batch in loader:
            ...
            bar.update(len(batch))
"""

from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator, Optional, TextIO, TypeVar

T = TypeVar("T")
DEFAULT_INTERVAL = 30.0


def default_interval() -> float:
    try:
        return max(0.0, float(os.environ.get("ZSL_PROGRESS_INTERVAL", DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


def fmt_duration(seconds: float) -> str:
    """``42s``, ``7m49s``, ``2h05m``."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def count_of(n: int, noun: str) -> str:
    """``1 trial``, ``3 trials``: a count with its noun in the right number (plural by adding ``s``)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """A progress reporter: a tqdm bar on a terminal, plain timed lines elsewhere (see the module docstring)."""

    def __init__(self, total: Optional[int] = None, desc: str = "", unit: str = "item", *, enabled: bool = True,
                 interval: Optional[float] = None, stream: Optional[TextIO] = None, clock=time.monotonic):
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = default_interval() if interval is None else interval
        self.clock = clock
        self.n = 0
        self.lines = 0
        self._bar = None
        self.mode = "off" if not enabled else ("bar" if _isatty(self.stream) else "lines")
        self.t0 = self._last = clock()
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True, file=self.stream)

    def _units(self, n: float) -> str:
        if n == 1:
            return self.unit
        return self.unit + ("es" if self.unit.endswith(("s", "x", "sh", "tch")) else "s")  # clips, epochs, batches

    def line(self) -> str:
        """The progress line for the current state."""
        el = self.clock() - self.t0
        rate = self.n / el if el > 0 else 0.0
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        parts = [f"{self.desc}: {done} {self._units(self.total or self.n)}"]
        if self.total:
            parts[0] += f" ({100 * self.n / self.total:.0f}%)"
        parts.append(f"{rate:.3g} {self.unit}/s")
        if self.total and rate > 0:
            parts.append(f"ETA {fmt_duration((self.total - self.n) / rate)}")
        return ", ".join(parts)

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
        self.lines += 1

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.mode == "bar":
            self._bar.update(n)
        elif self.mode == "lines":
            now = self.clock()
            if now - self._last >= self.interval:
                self._last = now
                self._write(self.line())

    def close(self) -> None:
        if self.mode == "bar" and self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "lines" and self.lines:
            el = self.clock() - self.t0
            rate = f" ({self.n / el:.3g} {self.unit}/s)" if el > 0 else ""
            self._write(f"{self.desc}: {self.n} {self._units(self.n)} in {fmt_duration(el)}{rate}")
        self.mode = "off"

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def track(iterable: Iterable[T], total: Optional[int] = None, desc: str = "", unit: str = "item", *,
          enabled: bool = True, interval: Optional[float] = None) -> Iterator[T]:
    """Iterate ``iterable`` while reporting progress (one item = one step)."""
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with Progress(total=total, desc=desc, unit=unit, enabled=enabled, interval=interval) as p:
        for x in iterable:
            yield x
            p.update(1)
