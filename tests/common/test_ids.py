"""The ids the services make: UUIDv7 strings, unique, in the order they were made."""

from __future__ import annotations

import time
import uuid

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
