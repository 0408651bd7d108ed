"""`make chaos` in its short form: the four services and nats-server as real processes, a few
thousand events through imports and API writes while nats-server is killed three times, every
service once mid-batch and (on PostgreSQL) the services' connections are cut; afterwards every
consumer's state equals the registry's, and every fault was recovered from.

It runs on PostgreSQL (its faults include the connection cut) when the server is reachable,
which CI requires, and on SQLite otherwise.
"""

from __future__ import annotations

import pytest

from tests.conftest import IN_CI
from tests.harness import postgres_available
from tools.chaos.cluster import POSTGRES_URL
from tools.chaos.report import render
from tools.chaos.suite import Options, run
from tools.chaos.verify import compare_counts, compare_versions
from tools.chaos.watch import Position


async def test_nothing_lost_or_doubled_through_every_fault() -> None:
    store = "postgresql" if await postgres_available(POSTGRES_URL) else "sqlite"
    if store == "sqlite" and IN_CI:
        pytest.fail("PostgreSQL is required under CI=true")

    result = await run(Options.short(store, events=1_500))
    print(render(result))

    kinds = [fault.kind for fault in result.faults]
    assert kinds.count("nats-server SIGKILL") == 3
    assert {f.service for f in result.faults if f.service} == {
        "registry",
        "coverage",
        "stations",
        "training",
    }
    assert ("pg_terminate_backend" in kinds) == (store == "postgresql")
    assert all(o.connections_cut > 0 for o in result.outcomes if o.name.startswith("cut"))
    assert len(result.outcomes) == len(result.faults), "every fault was injected"
    assert result.unrecovered == []
    assert result.verdict.announced >= 1_500  # an import's files counted one by one
    assert result.verdict.events < result.verdict.announced  # ... in fewer events
    assert result.verdict.lost == 0
    assert result.verdict.doubled == 0
    assert result.verdict.dead_letters_without_reason == 0
    assert all(c.expected > 0 for c in result.verdict.checks if "roll-up" in c.name)
    assert result.ok


def test_the_checks_count_what_is_missing_behind_or_extra() -> None:
    truth = {"a": 2, "b": 1, "c": 3}
    held = {"a": 2, "b": 0, "d": 1, "c": 4}  # b behind, c ahead, d unknown
    check = compare_versions("facts", truth, held)
    assert (check.expected, check.found, check.lost, check.doubled) == (3, 4, 1, 2)
    assert compare_versions("facts", truth, {"a": 2}).lost == 2
    assert (compare_counts("roll-up", 10, 7).lost, compare_counts("roll-up", 10, 12).doubled) == (
        3,
        2,
    )


def test_a_consumer_has_caught_up_once_all_it_was_delivered_is_acknowledged() -> None:
    holding = Position(delivered=120, ack_floor=100, ack_pending=20, pending=0)
    assert not holding.caught_up_to(120)
    assert holding.caught_up_to(100)
    assert Position(delivered=120, ack_floor=100, ack_pending=0, pending=5).caught_up_to(120)
    assert Position(delivered=140, ack_floor=125, ack_pending=15, pending=0).caught_up_to(120)
