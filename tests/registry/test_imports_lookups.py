"""The import's bulk look-ups and event batches on both stores: many keys in one query, Chinese
names and quotes intact, and `branch.eligible` recorded right after a registration that earns it."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select

from libs.common.db import Database
from libs.common.tables import outbox
from services.registry.domain.imports import NewFile, Provenance, RowBatch
from services.registry.domain.organizations import Organization, Rules
from services.registry.file_forms import draft_of, registered_data, updated_data
from services.registry.service.imports import import_chunk
from services.registry.service.organizations import (
    announce_changed,
    announce_registered,
    new_organization,
    registered_event,
    updated_event,
)
from services.registry.store.imports import ImportRepository
from services.registry.store.organizations import OrganizationRepository
from services.registry.store.uow import RegistryUnitOfWork
from tests.factories import announced, stored_events
from tests.harness import ServiceDatabases
from tests.registry.imports_data import credit_code
from tests.registry.unit.test_import_plan import job as plan_job
from tests.registry.unit.test_import_plan import record as plan_record

KEYS = 2500  # more than one chunk of the old IN-list look-up


def named(n: int, name: str, **values: Any) -> Organization:
    return new_organization(
        credit_code=credit_code(n),
        name=name,
        kind="enterprise",
        region_code="140212101",
        **values,
    )


async def test_look_ups_by_many_codes_and_names_find_exactly_the_stored_ones(
    service_databases: ServiceDatabases,
) -> None:
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        stored = [
            named(1, "大同市新荣区\"引号\"'测试'物流有限公司"),
            named(2, "大同市新荣区测试二号有限责任公司"),
            named(3, "大同市新荣区测试三号有限公司"),
        ]
        async with db.unit_of_work() as uow:
            await OrganizationRepository(uow.session).add_many(stored)
        async with db.unit_of_work() as uow:
            repo = ImportRepository(uow.session)
            codes = [credit_code(n) for n in range(100, 100 + KEYS)] + [credit_code(2)]
            by_code = await repo.organizations_by_credit_code(codes)
            assert sorted(by_code) == [credit_code(2)]
            keys = [f"不存在{n}公司" for n in range(KEYS)] + [
                stored[0].name_key,
                stored[2].name_key,
            ]
            by_name = await repo.organizations_by_name_key(keys, "140212")
            assert {k: [o.credit_code for o in v] for k, v in by_name.items()} == {
                stored[0].name_key: [credit_code(1)],
                stored[2].name_key: [credit_code(3)],
            }
            assert await repo.organizations_by_name_key(keys, "140211") == {}
            assert await repo.said_before([o.id for o in stored], "tax") == {}
    finally:
        await db.dispose()


async def test_announce_registered_with_rules_records_eligibility_after_the_registrations(
    service_databases: ServiceDatabases,
) -> None:
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        batch = [
            named(1, "甲公司", full_members=3),
            named(2, "乙公司", full_members=2),
            named(3, "丙公司", full_members=5),
        ]
        async with db.unit_of_work() as uow:
            announce_registered(uow, batch, Rules())
        async with db.unit_of_work() as uow:
            announce_registered(uow, batch[:1])  # no rules: no eligibility check
        async with db.read() as session:
            rows = (
                await session.execute(select(outbox.c.type, outbox.c.data).order_by(outbox.c.seq))
            ).all()
        seen = [(t.split(".")[2], json.loads(d)["organization_id"]) for t, d in rows]
        ids = [o.id for o in batch]
        assert seen == [
            ("organization", ids[0]),
            ("organization", ids[1]),
            ("organization", ids[2]),
            ("branch", ids[0]),
            ("branch", ids[2]),
            ("organization", ids[0]),
        ]
    finally:
        await db.dispose()


def various() -> list[Organization]:
    """Organisations that take every branch of an event's state: provisional and individual
    businesses (masked names), coordinates given as whole numbers, areas, 三有 true, false and
    unknown, a reason with a number in it, a closed one, a complete ledger."""
    return [
        named(1, "大同市新荣区\"引号\"'测试'物流有限公司"),
        new_organization(credit_code="", name="张三烧烤", kind="enterprise", region_code="140212"),
        named(2, "李四小吃店", staff_count=3, has_premises=True, stable_operations=True),
        dataclasses.replace(
            named(3, "丙公司", staff_count=30, has_premises=True, stable_operations=True),
            credit_code=credit_code(3, kind="92"),
        ),
        named(4, "丁公司", latitude=40, longitude=113.3001, park_id=str(uuid4())),
        named(5, "戊公司", district_id=str(uuid4()), industry_code="I6513", full_members=3),
        named(6, "己公司", no_branch_reason="电话13812345678联系", operating_status="closed"),
        dataclasses.replace(
            named(7, "庚公司", probationary_members=1),
            version=7,
            updated_at=datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC),
        ),
    ]


def test_event_json_without_the_model_is_the_models_json_byte_for_byte() -> None:
    for organization in various():
        assert registered_data(organization) == (
            registered_event(organization).model_dump_json().encode()
        )
        for changed in ([], ["address"], ["credit_code", "operating_status"]):
            assert updated_data(organization, changed) == (
                updated_event(organization, changed).model_dump_json().encode()
            )


async def test_events_recorded_without_the_model_are_recorded_as_with_it(
    service_databases: ServiceDatabases,
) -> None:
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    batch = various()
    columns = (outbox.c.type, outbox.c.subject, outbox.c.source, outbox.c.data)
    try:
        async with db.unit_of_work() as uow:
            uow.record_many([registered_event(o) for o in batch])
            uow.record_many([updated_event(o, ["address"]) for o in batch])
        async with db.unit_of_work() as uow:
            announce_registered(uow, batch)
            announce_changed(uow, [(o, o, ["address"]) for o in batch], Rules())
        async with db.read() as session:
            rows = (await session.execute(select(*columns).order_by(outbox.c.seq))).all()
            ids = (await session.execute(select(outbox.c.event_id))).scalars().all()
        assert len(rows) == 4 * len(batch)
        assert rows[: 2 * len(batch)] == rows[2 * len(batch) :]
        assert len(set(ids)) == len(ids)
        assert all(str(UUID(i)) == i and UUID(i).version == 7 for i in ids)
    finally:
        await db.dispose()


async def test_bulk_updates_and_upserts_write_what_sqlalchemys_executemany_writes(
    service_databases: ServiceDatabases,
) -> None:
    """`save_changed` and the provenance upsert hand the driver their rows themselves
    (`execute_many` in libs/common/db.py: the compiled statement's `positiontup` and each bind's
    processor): what they store must be what SQLAlchemy's own executemany stored, JSON and
    aware timestamps included, on both stores."""
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        stored = [named(n, f"大同市新荣区批量{n}有限公司") for n in range(1, 4)]
        async with db.unit_of_work() as uow:
            await OrganizationRepository(uow.session).add_many(stored)
        said_at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        changed = [
            dataclasses.replace(
                o,
                address=f'新荣区"引号"路{n}号',
                investors=[{"name": "某某投资", "share": 0.5}],
                staff_count=None if n == 1 else n,
                version=o.version + 1,
                updated_at=said_at,
            )
            for n, o in enumerate(stored, start=1)
        ]
        said = [
            Provenance(o.id, "tax", {"name": o.name, "staff_count": n}, "job-1", n, "name", said_at)
            for n, o in enumerate(changed, start=1)
        ]
        async with db.unit_of_work() as uow:
            await OrganizationRepository(uow.session).save_changed(
                [(o, ["address", "investors", "staff_count"]) for o in changed]
            )
            repo = ImportRepository(uow.session)
            await repo.record_sources(said)
            await repo.record_sources([dataclasses.replace(said[0], row=9, values={"x": "一"})])
        async with db.read() as session:
            again = await OrganizationRepository(session).get_many(o.id for o in stored)
            assert [again[o.id] for o in changed] == changed
            sources = await ImportRepository(session).sources_of(changed[0].id)
            said_before = await ImportRepository(session).said_before([changed[1].id], "tax")
        assert [(s["row"], s["values"], s["said_at"]) for s in sources] == [
            (9, {"x": "一"}, said_at)
        ]
        assert said_before == {changed[1].id: {"name": changed[1].name, "staff_count": 2}}
    finally:
        await db.dispose()


async def test_save_changed_writes_each_change_and_only_it(
    service_databases: ServiceDatabases,
) -> None:
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        stored = [named(n, f"大同市新荣区测试{n}号有限公司", staff_count=5) for n in range(1, 6)]
        async with db.unit_of_work() as uow:
            await OrganizationRepository(uow.session).add_many(stored)
        later = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

        def changed(o: Organization, **values: Any) -> tuple[Organization, list[str]]:
            after = dataclasses.replace(o, **values, version=o.version + 1, updated_at=later)
            return after, sorted(values)

        changes = [
            changed(stored[0], address="新荣区测试路1号"),
            changed(stored[1], address="新荣区测试路2号"),  # the same fields: one statement
            changed(stored[2], name="大同市新荣区改名三号有限公司", staff_count=30),
            changed(stored[3], ledger=dataclasses.replace(stored[3].ledger, operations=True)),
            changed(  # a column of each kind of type: float, date, boolean, text, none
                stored[4],
                latitude=40.0931,
                longitude=113.1412,
                deregistered_on=date(2026, 11, 20),
                operating_status="closed",
                has_premises=True,
                no_branch_reason=None,
                deregistration_reason="注销",
            ),
        ]
        async with db.unit_of_work() as uow:
            await OrganizationRepository(uow.session).save_changed(changes)
        async with db.unit_of_work() as uow:
            repo = ImportRepository(uow.session)
            read = await repo.organizations_by_credit_code(o.credit_code for o in stored)
            assert [read[o.credit_code] for o in stored] == [after for after, _ in changes]
            renamed = await repo.organizations_by_name_key([changes[2][0].name_key], "140212")
            assert [o.id for o in renamed[changes[2][0].name_key]] == [stored[2].id]
    finally:
        await db.dispose()


async def test_a_chunk_writes_the_drafts_it_is_given_and_drafts_what_came_without_one(
    service_databases: ServiceDatabases,
) -> None:
    """The reader drafts each valid row's new file (`Draft`); a row that comes without one (no
    reader drafted it) is drafted by the job the same way: the same rows, events and
    `branch.eligible` either way, a draft's id and time kept as they are."""
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        rules = Rules()
        enough = rules.standalone_min_full_members
        drafted_at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        drafted = [plan_record(2, 1, full_members=enough), plan_record(3, 2, address="测试路2号")]
        for r in drafted:
            r.draft = draft_of(NewFile(r, str(uuid4()), drafted_at).organization(), enough)
        bare = [plan_record(4, 3, full_members=enough), plan_record(5, 4, address="测试路4号")]
        batch = RowBatch(records=[*drafted, *bare], consumed=4, rows=4)
        async with RegistryUnitOfWork(db) as uow:
            counts = await import_chunk(uow, plan_job(), batch, rules)
        assert (counts.new, counts.matched) == (4, 0)

        registered = await announced(db, "registered")
        assert [f["credit_code"] for f in registered] == [credit_code(n) for n in range(1, 5)]
        ids = [f["organization_id"] for f in registered]
        assert ids[:2] == [r.draft.id for r in drafted if r.draft is not None]
        async with db.read() as session:
            ledger = await OrganizationRepository(session).get_many(ids)
        for state, record in zip(registered, [*drafted, *bare], strict=True):
            file = ledger[state["organization_id"]]
            assert (file.credit_code, file.name, file.address) == (
                record.credit_code,
                record.name,
                record.values.get("address"),
            )
            assert (file.created_at == drafted_at) == (record.draft is not None)
            assert json.loads(registered_data(file)) == state
        eligible = [d for t, d in await stored_events(db) if t == "pb.registry.branch.eligible.v1"]
        assert [e["organization_id"] for e in eligible] == [ids[0], ids[2]]
    finally:
        await db.dispose()
