"""Holding the cyclic garbage collector off over a unit of bulk work."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0  # units (tasks, threads) inside `collector_paused` now
_resume = False  # whether the collector was on when the first of them paused it


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector held off over a unit of bulk work: a consumed batch, an
    import's chunk, a batch received from the import's reader. Such a unit makes tens of thousands
    of objects (messages, envelopes, events, facts, rows) that live until it commits: the young
    collections found them alive and moved them on, and the full collections that followed
    rescanned them and every cache the process had filled (a third of the projection's CPU, a
    fifth of an import's). Reference counting frees them when the unit ends; a cycle among them
    goes at the first collection after.

    Units overlap (two consumers' batches, each awaiting its store; a unit in a thread beside
    one in the event loop): the collector stays off until the last of them ends (the first to
    end used to turn it on under the others), and on again only if it was on when the first
    began (left off when the process chose so)."""
    global _holders, _resume
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _resume:
                gc.enable()
