"""The ids the services make: UUIDv7 strings, unique, in the order they were made."""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from libs.common.ids import new_id


def test_an_id_is_a_canonical_uuid_version_7() -> None:
    value = new_id()
    parsed = uuid.UUID(value)
    assert str(parsed) == value  # canonical: lowercase, 36 characters, hyphens in place
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_an_id_begins_with_the_time_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= uuid.UUID(value).int >> 80 <= after


def test_ids_made_one_after_another_sort_in_that_order_and_never_repeat() -> None:
    made = []
    for _ in range(20):
        made += [new_id() for _ in range(1000)]
        time.sleep(0.001)  # across milliseconds as well as within one
    assert len(set(made)) == len(made)
    stamps = [uuid.UUID(i).int >> 64 for i in made]  # the time and its fraction, no random bits
    assert stamps == sorted(stamps)
    assert made[0] < made[-1]


def test_ids_of_one_instant_differ_in_their_random_bits() -> None:
    tails = {uuid.UUID(new_id()).int & ((1 << 62) - 1) for _ in range(1000)}
    assert len(tails) == 1000


def _random_bits(value: str) -> int:
    return uuid.UUID(value).int & ((1 << 62) - 1)


def test_threads_and_a_forked_child_never_share_random_bits() -> None:
    new_id()  # this thread has randomness drawn and not yet used
    with ThreadPoolExecutor(4) as pool:
        tails = list(pool.map(lambda _: _random_bits(new_id()), range(2000)))
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child's next ids, written for the parent to compare
        os.write(writer, ",".join(str(_random_bits(new_id())) for _ in range(50)).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader) as out:
        in_child = [int(t) for t in out.read().split(",")]
    in_parent = [_random_bits(new_id()) for _ in range(50)]
    assert len(set(tails)) == len(tails)
    assert not set(in_child) & set(in_parent)
