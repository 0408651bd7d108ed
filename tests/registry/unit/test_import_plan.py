"""`plan_chunk`: what one chunk of an import does to the ledger, planned without a store."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import count
from typing import Any

from services.registry.domain.imports import (
    ChunkPlan,
    FilesTouched,
    ImportJob,
    Provenance,
    RowBatch,
    RowError,
    SourceRecord,
    plan_chunk,
)
from services.registry.domain.organizations import Organization
from tests.registry.imports_data import credit_code

SCOPE = "140212"
EARLIER = datetime(2026, 1, 5, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def job(source: str = "market_supervision") -> ImportJob:
    return ImportJob(
        id="job-1",
        source=source,
        region_code=SCOPE,
        filename="a.csv",
        content_hash="0" * 64,
        size_bytes=100,
        status="running",
        actor="office-7",
        actor_region=SCOPE,
        rows_total=10,
        rows_done=0,
        counts={},
        columns=None,
        reason=None,
        missing_columns=None,
        attempts=1,
        lease_owner="worker",
        lease_until=None,
        created_at=EARLIER,
        started_at=EARLIER,
        finished_at=None,
        updated_at=EARLIER,
    )


def stored(n: int, **values: Any) -> Organization:
    fields: dict[str, Any] = {
        "id": f"org-{n}",
        "credit_code": credit_code(n),
        "name": f"大同市新荣区测试{n}有限公司",
        "kind": "enterprise",
        "region_code": "140212101",
        "version": 3,
        "created_at": EARLIER,
        "updated_at": EARLIER,
    }
    return Organization(**{**fields, **values})


def record(row: int, n: int | None, **values: Any) -> SourceRecord:
    """A valid row stating organisation `n` (None: no credit code), with these values."""
    name = values.pop("name", f"大同市新荣区测试{n}有限公司")
    region = values.pop("region_code", "140212101")
    code = credit_code(n) if n is not None else None
    stated = {"name": name, "region_code": region, **values}
    if code is not None:
        stated["credit_code"] = code
    return SourceRecord(row, code, name, region, "enterprise", stated)


def ids() -> Iterator[str]:
    return (f"new-{i}" for i in count(1))


def plan(
    records: Sequence[SourceRecord],
    ledger: Sequence[Organization] = (),
    *,
    said_before: Mapping[str, Mapping[str, Any]] | None = None,
    errors: Sequence[RowError] = (),
    rejected_rows: int = 0,
) -> ChunkPlan:
    batch = RowBatch(
        records=list(records),
        errors=list(errors),
        consumed=len(records) + rejected_rows,
        rows=len(records) + rejected_rows,
        rejected_rows=rejected_rows,
    )
    by_name: dict[str, list[Organization]] = {}
    for o in ledger:
        if o.active:
            by_name.setdefault(o.name_key, []).append(o)
    fresh = ids()
    return plan_chunk(
        job(),
        batch,
        by_code={o.credit_code: o for o in ledger},
        by_name=by_name,
        said_before=said_before or {},
        now=NOW,
        new_id=lambda: next(fresh),
    )


def test_a_record_the_ledger_lacks_registers_a_new_organisation() -> None:
    result = plan([record(2, 1, address="测试路1号", staff_count=12)])
    [registered] = result.registered
    new = registered.organization()
    assert (new.id, new.version, new.created_at, new.updated_at) == ("new-1", 1, NOW, NOW)
    assert (new.credit_code, new.address, new.staff_count) == (credit_code(1), "测试路1号", 12)
    assert new.region_code == "140212101"
    assert result.counts.as_dict() == {
        "rows": 1,
        "new": 1,
        "matched": 0,
        "matched_by_name": 0,
        "updated": 0,
        "unchanged": 0,
        "conflicts": 0,
        "rejected": 0,
        "provisional": 0,
        "fields_left_out": 0,
    }
    assert result.changes == []
    said = {
        "name": new.name,
        "region_code": "140212101",
        "address": "测试路1号",
        "staff_count": 12,
        "credit_code": credit_code(1),
    }
    assert result.audit["organization.imported"] == [
        (
            "job-1",
            "140212",
            {"import_id": "job-1", "source": "market_supervision", "rows": [2], "ids": ["new-1"]},
        )
    ]  # one entry for the chunk: what row 2 said is its provenance
    assert result.audit["organization.updated_by_import"] == []
    assert result.provenance == [
        Provenance("new-1", "market_supervision", said, "job-1", 2, "new", NOW, first=True)
    ]


def test_a_match_fills_empty_fields_as_a_new_version_and_lists_conflicts() -> None:
    known = stored(1, staff_count=12)
    result = plan([record(2, 1, address="测试路1号", staff_count=30)], [known])
    [(before, after, changed)] = result.changes
    assert before is known
    assert changed == ["address"]
    assert (after.address, after.staff_count, after.version, after.updated_at) == (
        "测试路1号",
        12,
        4,
        NOW,
    )
    [conflict] = result.conflicts
    assert (conflict.row, conflict.organization_id, conflict.field) == (2, "org-1", "staff_count")
    assert (conflict.ledger_value, conflict.incoming_value) == (12, 30)
    counts = result.counts
    assert (counts.matched, counts.updated, counts.conflicts, counts.new) == (1, 1, 1, 0)
    assert result.registered == []
    assert result.audit["organization.updated_by_import"] == [
        (
            "org-1",
            "140212101",
            {
                "import_id": "job-1",
                "source": "market_supervision",
                "row": 2,
                "changes": {"address": "测试路1号"},
            },
        )
    ]
    assert [(p.organization_id, p.matched_by, p.row) for p in result.provenance] == [
        ("org-1", "credit_code", 2)
    ]


def test_a_record_that_agrees_changes_nothing() -> None:
    known = stored(1, address="测试路1号")
    result = plan([record(2, 1, address="测试路1号")], [known])
    assert result.changes == []
    assert result.conflicts == []
    assert (result.counts.matched, result.counts.unchanged) == (1, 1)
    assert result.audit["organization.updated_by_import"] == []
    assert len(result.provenance) == 1  # what the source said is kept all the same


def test_a_source_corrects_what_it_said_itself_but_not_an_office_edit() -> None:
    known = stored(1, staff_count=12, address="旧路1号")
    said = {"org-1": {"staff_count": 12}}  # the source said 12 last time; the address is not its
    result = plan([record(2, 1, staff_count=15, address="新路2号")], [known], said_before=said)
    [(_, after, changed)] = result.changes
    assert changed == ["staff_count"]
    assert after.staff_count == 15
    assert [c.field for c in result.conflicts] == ["address"]


def test_a_conflicting_name_of_an_individual_business_is_masked() -> None:
    owner = stored(1, credit_code=credit_code(1, kind="92"), name="张三")
    result = plan([record(2, None, name="张三丰")], [replace(owner, name="张三丰")])
    assert result.conflicts == []  # the same name: matched by name, nothing differs
    result = plan(
        [
            SourceRecord(
                2,
                owner.credit_code,
                "李四",
                "140212101",
                "enterprise",
                {"name": "李四", "region_code": "140212101", "credit_code": owner.credit_code},
            )
        ],
        [owner],
    )
    [conflict] = result.conflicts
    assert (conflict.field, conflict.ledger_value, conflict.incoming_value) == (
        "name",
        "张**",
        "李**",
    )


def test_a_record_without_a_code_matches_by_name_within_the_region() -> None:
    known = stored(1, name="大同市新荣区（测试）物流有限公司")
    result = plan(
        [record(3, None, name="大同市新荣区 测试 物流有限责任公司", full_members=3)], [known]
    )
    assert (result.counts.matched, result.counts.matched_by_name) == (1, 1)
    [(_, after, changed)] = result.changes
    assert changed == ["full_members"]
    assert after.full_members == 3
    assert [p.matched_by for p in result.provenance] == ["name"]


def test_rows_that_cannot_be_matched_are_rejected_with_the_file_errors() -> None:
    twins = [
        stored(1, name="大同市新荣区同名有限公司"),
        stored(2, name="大同市新荣区同名有限公司"),
    ]
    closed = stored(3, status="deregistered")
    elsewhere = stored(4, region_code="140211001")
    file_error = RowError(9, "staff_count", "not a number")
    result = plan(
        [
            record(2, None, name="大同市新荣区同名有限公司"),
            record(3, 3),
            record(4, 4),
            record(5, None, name="大同市新荣区无码小店"),
            record(6, 5),
            record(7, 5, name="重复的第二行"),
        ],
        [*twins, closed, elsewhere, stored(5)],
        errors=[file_error],
        rejected_rows=1,
    )
    reasons = {e.row: (e.field, e.reason) for e in result.errors}
    assert reasons[9] == ("staff_count", "not a number")
    assert reasons[2][0] == "name"
    assert "matches 2 organisations" in reasons[2][1]
    assert reasons[3] == ("credit_code", "the organisation has been deregistered")
    assert reasons[4][0] == "region_code"
    assert "outside your region" in reasons[4][1]
    assert elsewhere.region_code[:6] not in reasons[4][1]  # nothing of the other region named
    assert 5 not in reasons  # no code and no name match: a provisional file
    assert reasons[7] == ("name", "duplicate of row 6 (the same organisation)")
    assert [e.row for e in result.errors] == [9, 2, 3, 4, 7]
    counts = result.counts
    assert (counts.rows, counts.rejected, counts.matched, counts.new) == (7, 5, 1, 1)
    assert counts.provisional == 1
    assert sorted(p.row for p in result.provenance) == [5, 6]


def test_an_empty_chunk_plans_nothing() -> None:
    result = plan([])
    assert result.registered == []
    assert result.changes == []
    assert result.provenance == []
    assert all(entries == [] for entries in result.audit.values())
    assert result.counts.as_dict() == dict.fromkeys(result.counts.as_dict(), 0)


def test_provenance_says_whether_the_source_spoke_of_the_file_before() -> None:
    """A file the source never spoke of gets its first word inserted; one it did, replaced."""
    spoken, unspoken = stored(1), stored(2)
    result = plan(
        [record(2, 1, staff_count=15), record(3, 2, staff_count=16), record(4, 3)],
        [spoken, unspoken],
        said_before={spoken.id: {"staff_count": 15}},
    )
    first = {p.organization_id: p.first for p in result.provenance}
    assert first == {spoken.id: False, unspoken.id: True, "new-1": True}


def test_files_touched_are_what_a_chunk_looked_up_before_the_commit_would_miss() -> None:
    provisional = stored(5, credit_code="", name="大同市新荣区无码测试有限公司")
    result = plan(
        [
            record(2, 1),  # a new file
            record(3, 6, name="大同市新荣区无码测试有限公司"),  # gives the provisional its code
            record(4, 7, address="新地址"),  # a file changed, but not how it is found
        ],
        [provisional, stored(7)],
    )
    assert any("credit_code" in changed for _, _, changed in result.changes)
    touched = FilesTouched.by(result)

    def naming(*records: SourceRecord) -> bool:
        return touched.named_in(RowBatch(records=list(records)))

    assert naming(record(9, 1, name="别的名字"))  # the new file's code
    assert naming(record(9, 8, name="大同市新荣区测试1有限公司"))  # its name, another code
    assert naming(record(9, None, name="大同市新荣区测试1有限公司"))  # its name, no code
    assert naming(record(9, 6, name="别的名字"))  # the code the plan gives a file
    assert not naming(record(9, 7, name="别的名字"))  # found by its lock, as it was
    assert not naming(record(9, 8), record(10, None, name="别的名字"))
    assert not FilesTouched.by(plan([])).named_in(RowBatch(records=[record(9, 1)]))
