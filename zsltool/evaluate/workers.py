"""Worker processes of ``zsl experiment --jobs N``, and how Ctrl-C stops them.

A Ctrl-C in a terminal goes to every process of the foreground group: the parent and its workers. A worker
that took it would print its own KeyboardInterrupt traceback (one per worker), so workers ignore SIGINT
from their first instruction on: the parent's main thread blocks SIGINT while the workers are started (a
blocked signal stays blocked across fork and exec), each worker sets SIGINT to ignored and unblocks it, and
the parent unblocks it again. The parent alone then gets the KeyboardInterrupt; it terminates the workers
and re-raises, so the CLI prints its one ``Error: interrupted`` line and exits 130. A trial a worker had not
finished leaves no trial file (trial files are written atomically) and is run again on resume.
"""

from __future__ import annotations

import contextlib
import signal
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator


def _ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread (and so in the processes it starts) for the block; a Ctrl-C that came
    meanwhile is delivered when the block ends. (Where there are no signal masks, a worker that takes a Ctrl-C
    before its initializer runs may still print a traceback.)"""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _results(futures: list, poll: float = 0.2) -> list:
    """Every future's result, waiting in short slices: a Ctrl-C that the kernel delivered to another thread of
    this process (the pool's manager or queue threads) only sets Python's flag, which the main thread acts on
    when it next runs Python code, so it must never block on one long wait."""
    from concurrent.futures import FIRST_EXCEPTION, wait

    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=poll, return_when=FIRST_EXCEPTION)
        for f in done:
            f.result()  # a worker's error is raised at once, not after the others finish
    return [f.result() for f in futures]


def run_in_workers(fn: Callable, shards: list, jobs: int) -> list:
    """``[fn(shard) for shard in shards]`` in ``jobs`` spawned processes; Ctrl-C stops them all quietly."""
    import multiprocessing as mp

    ex = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_ignore_interrupts)
    try:
        with _sigint_blocked():
            futures = [ex.submit(fn, shard) for shard in shards]
        out = _results(futures)
    except BaseException:  # Ctrl-C, or one worker's error: stop the others rather than wait for them
        for p in list((getattr(ex, "_processes", None) or {}).values()):
            p.terminate()
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)
    return out
