"""Holding the cyclic garbage collector off over a unit of bulk work."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# The least time between two turns of the collector while units end back to back.
REST_SECONDS = 1.0

_lock = threading.Lock()
_holders = 0  # units (tasks, threads) inside `collector_paused` now
_resume = False  # whether the collector was on when the first of them paused it
_owed = False  # the last unit ended within the rest: the collector is to be turned on later
_timer_set = False  # a timer will look at `_owed` when the rest is over
_turned_on_at = float("-inf")  # time.monotonic() of this module's last turning it on


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
    began (left off when the process chose so).

    Turning it on is not free: the first young collection after a unit scans whatever the unit
    left alive, and a consumer's next batch, read ahead while this one was applied, is all alive
    (11 ms a batch of 2,000, 6 % of the coverage worker's CPU). So while units end back to back
    it is turned on at most once every `REST_SECONDS`: a unit that ends sooner leaves it off and
    a timer turns it on when the rest is over, if no unit holds it then (else the last to end
    does)."""
    global _holders, _resume
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled() or _owed
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _resume:
                _turn_on_or_owe()


def _turn_on(now: float) -> None:
    """With `_lock` held: the collector on, nothing owed, the rest counted from `now`."""
    global _owed, _turned_on_at
    gc.enable()
    _owed, _turned_on_at = False, now


def _turn_on_or_owe() -> None:
    """With `_lock` held, once the last unit has ended."""
    global _owed, _timer_set
    now = time.monotonic()
    if now - _turned_on_at >= REST_SECONDS:
        _turn_on(now)
        return
    _owed = True
    if not _timer_set:
        _timer_set = True
        timer = threading.Timer(_turned_on_at + REST_SECONDS - now, _turn_on_if_owed)
        timer.daemon = True  # never holds the interpreter's exit
        timer.start()


def _turn_on_if_owed() -> None:
    """The timer: the rest is over; turned on unless a unit has begun since (it owes it then)."""
    global _timer_set
    with _lock:
        _timer_set = False
        if _owed and _holders == 0:
            _turn_on(time.monotonic())
