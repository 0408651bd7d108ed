"""The roll-up delta of a batch, spread a level at a time, equals each organisation's counters
added to every row it counts in (`rollup_keys`), one organisation at a time."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from services.coverage.domain.facts import CoverageFacts
from services.coverage.domain.rollups import COUNTERS, RollupDelta, RollupKey, counts, rollup_keys

# villages and townships of two counties, a township of 东莞 (no county level), a code that is
# not a division code at all, and the levels above
REGIONS = (
    "14",
    "1401",
    "140101",
    "140101001",
    "140101001001",
    "140101001002",
    "140102003004",
    "441900003",
    "441900003001",
    "not-a-code",
)


def _facts(rng: random.Random) -> CoverageFacts:
    return CoverageFacts(
        organization_id="o",
        region_code=rng.choice(REGIONS),
        kind=rng.choice(["enterprise", "social_organization"]),
        industry_code=rng.choice([None, "C1311", "I6513"]),
        staff_count=rng.choice([None, 0, 5, 60, 400]),
        area_ids=tuple(sorted(rng.sample(["park-a", "park-b", "park-c"], rng.randint(0, 2)))),
        managed=rng.random() < 0.9,
        operating_status=rng.choice(["operating", "suspended", "closed"]),
        three_haves=rng.choice([None, True, False]),
        full_members=rng.randint(0, 4),
        branch_id=rng.choice([None, "b1"]),
        branch_kind=rng.choice([None, "standalone", "joint", "temporary"]),
        instructor_count=rng.randint(0, 1),
    )


def _add_some(
    rng: random.Random,
    delta: RollupDelta,
    expected: defaultdict[RollupKey, list[int]],
    *,
    most: int,
) -> None:
    """Add or take up to `most` random organisations to `delta`, and their counts to each of
    their rows in `expected`."""
    for _ in range(rng.randint(1, most)):
        facts, sign = _facts(rng), rng.choice([1, -1])
        delta.add(facts, sign)
        for key in rollup_keys(facts):
            for i, value in enumerate(counts(facts)):
                expected[key][i] += sign * value


@pytest.mark.parametrize("seed", range(20))
def test_a_batch_delta_equals_each_organisation_added_to_each_of_its_rows(seed: int) -> None:
    rng = random.Random(seed)
    delta = RollupDelta()
    expected: defaultdict[RollupKey, list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    _add_some(rng, delta, expected, most=80)
    want = {key: tuple(row) for key, row in sorted(expected.items()) if any(row)}

    parks = delta.take(lambda key: key.area_id != "")  # as a rebuild takes them, then the rest
    rest = delta.rows()

    assert {**parks, **rest} == want
    assert list(rest) == sorted(rest)  # in key order, so writers lock rows in one order
    assert all(key.area_id for key in parks)
    assert not any(key.area_id for key in rest)


@pytest.mark.parametrize("seed", range(10))
def test_a_delta_spread_in_rounds_sums_every_round(seed: int) -> None:
    """A place's sums are shared by its rows and its parent's place while spreading (never
    changed in place): what is taken, then added and spread again, still sums right."""
    rng = random.Random(seed)
    delta = RollupDelta()
    expected: defaultdict[RollupKey, list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    taken: defaultdict[RollupKey, list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    for _ in range(3):
        _add_some(rng, delta, expected, most=40)
        for key, row in delta.take(lambda key: key.region_code.startswith("1401")).items():
            taken[key] = [a + b for a, b in zip(taken[key], row, strict=True)]
    for key, row in delta.rows().items():
        taken[key] = [a + b for a, b in zip(taken[key], row, strict=True)]

    want = {key: row for key, row in expected.items() if any(row)}
    assert {key: row for key, row in taken.items() if any(row)} == want
