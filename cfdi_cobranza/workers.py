"""Worker processes forked from this one, for the lanes of a month-end run.

A worker inherits what this process has loaded (compiled schemas, catalogs, the
sandbox PAC's certificate) instead of loading it again, and talks to it through a pipe.
Forking is safe only while this process runs a single thread: a lock held by another
thread at that moment would stay locked forever in the child. Where it is not safe
(another OS, a threaded web server) callers do the work in this process instead.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

# How long a caller waits for a worker's answer before taking it for gone. Generous: a
# batch of 50 stamps or one REP's validation takes well under a second.
ANSWER_TIMEOUT_S = 300.0


def can_fork() -> bool:
    """True on Linux while this process runs a single thread (macOS has fork() too, but
    its system libraries are not safe in a forked child)."""
    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


class ForkedWorker:
    """A child process running ``target(conn, *args)``; ``conn`` is the child's end of a
    pipe whose other end is ``self.conn``. ``close`` sends ``None`` (the child's cue to
    return) and waits for it."""

    def __init__(self, target: Callable[..., None], *args: Any, name: str) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=target, args=(child, *args), name=name, daemon=True)
        self._proc.start()
        child.close()

    def close(self) -> None:
        with suppress(OSError):
            self.conn.send(None)
        deadline = time.monotonic() + 10
        while self._proc.is_alive() and time.monotonic() < deadline:
            # An answer nobody will read (the caller stopped early) keeps the worker
            # blocked in send(): read it and drop it, so the worker gets to its cue.
            try:
                while self.conn.poll(0.05):
                    self.conn.recv()
            except (EOFError, OSError):
                pass  # the worker closed its end: it is exiting
            self._proc.join(timeout=0.05)
        if self._proc.is_alive():  # pragma: no cover - a stuck worker
            self._proc.terminate()
            self._proc.join()
        self.conn.close()


def messages(conn: Any) -> Iterator[Any]:
    """In a worker: what the parent sends, until it sends ``None`` or goes away."""
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):  # the parent went away
            return
        if item is None:
            return
        yield item
