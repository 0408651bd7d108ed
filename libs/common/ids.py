"""Ids of what the services create (rows, events, uploads): UUIDv7 (RFC 9562), time-ordered.

A random UUIDv4 lands anywhere in an index: each of a bulk write's rows touches its own page of
every index its id is in (the row's primary key, the outbox's `event_id`, an inbox's key, the
provenance of an organisation), and each such page is written again at commit (SQLite's WAL,
PostgreSQL's WAL with a full page after each checkpoint). A UUIDv7 begins with the time it was
made: ids made together sort together, so their index entries fill the same few pages at the
index's end. A 50,000-row import on SQLite spent 30-37 % less of SQLite's CPU on inserting its
organisations and outbox rows with them (docs/architecture.md, "Ids").

The 48 bits of Unix time in milliseconds are followed by 12 bits of the millisecond's fraction
(RFC 9562 method 3), so ids of one process stay in order at a resolution of about 0.25 µs, and
62 bits from the system's randomness, so ids are unique across processes and cannot be guessed
from one another. They say when they were made, which `created_at` says anyway.

The randomness is drawn from the system 4 KB at a time (512 ids), per thread: one `getrandom`
call per id was a third of making one idle, and up to a tenth of an import's event-loop time
beside other busy processes. A forked child starts with none drawn, never its parent's.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["new_id"]

_FRACTION = 1 << 12
_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62
_RANDOM_MASK = (1 << 62) - 1
_DRAW = 4096  # bytes of randomness drawn at once: 8 per id


class _Randomness(threading.local):
    """What this thread has drawn from the system and not used yet."""

    def __init__(self) -> None:
        self.drawn = b""
        self.at = 0

    def take8(self) -> int:
        at = self.at
        if at >= len(self.drawn):
            self.drawn, at = os.urandom(_DRAW), 0
        self.at = at + 8
        return int.from_bytes(self.drawn[at : at + 8])


_randomness = _Randomness()


def _forget_in_child() -> None:
    global _randomness
    _randomness = _Randomness()


os.register_at_fork(after_in_child=_forget_in_child)


def new_id() -> str:
    """A new id: a UUIDv7 as its canonical 36-character string."""
    ms, ns = divmod(time.time_ns(), 1_000_000)
    value = (
        (ms << 80)
        | _VERSION
        | ((ns * _FRACTION // 1_000_000) << 64)
        | _VARIANT
        | (_randomness.take8() & _RANDOM_MASK)
    )
    h = value.to_bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
