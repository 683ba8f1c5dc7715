"""Worker processes forked from this one, for the lanes of a month-end run.

A worker inherits what this process has loaded (compiled schemas, catalogs, the
sandbox PAC's certificate) instead of loading it again, and talks to it through a pipe.
Forking is safe only while this process runs a single thread: a lock held by another
thread at that moment would stay locked forever in the child. Where it is not safe
(another OS, a threaded web server) callers do the work in this process instead.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any


def can_fork() -> bool:
    """True on POSIX while this process runs a single thread."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


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
        self._proc.join(timeout=10)
        if self._proc.is_alive():  # pragma: no cover - a stuck worker
            self._proc.terminate()
            self._proc.join()
        self.conn.close()


def messages(conn: Any) -> Iterator[Any]:
    """In a worker: what the parent sends, until it sends ``None`` or goes away."""
    while True:
        try:
            item = conn.recv()
        except EOFError:  # the parent went away
            return
        if item is None:
            return
        yield item
