"""Holding the cyclic garbage collector off over a unit of bulk work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector held off over a unit of bulk work: a consumed batch, an
    import's chunk. Such a unit makes tens of thousands of objects (messages, envelopes, events,
    facts, rows) that live until it commits: the young collections found them alive and moved
    them on, and the full collections that followed rescanned them and every cache the process
    had filled (a third of the projection's CPU, a fifth of an import's). Reference counting
    frees them when the unit ends; a cycle among them goes at the first collection after.

    Left as it is when already off (an enclosing unit, another task's, or the process's own
    choice): the first to pause it turns it on again."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
