"""No raw ID number, phone or person's name leaves the registry: not in a log line (before the
log scrubber, and after), not in an event (outbox and NATS), not in a response; and no raw ID
number or phone is stored anywhere in its database."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import httpx
import nats
import openpyxl
import pytest
import structlog
from nats.js.api import DeliverPolicy
from sqlalchemy import func, select

from libs.common.tables import outbox, platform_metadata
from services.registry.app import definition
from services.registry.settings import RegistrySettings
from services.registry.store.tables import metadata
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve, wait_for
from tests.registry.party_helpers import id_number, new_organization, person, phone, roster_person
from tests.registry.test_branches_api import committee, form

PEOPLE = range(900, 906)
BAD_ID = id_number(906)[:17] + ("1" if id_number(906)[17] != "1" else "2")
BAD_PHONE = "12812345678"


class RawRecords(logging.Handler):
    """Every log line as it would be written, rendered without the scrubber."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=[structlog.stdlib.add_log_level],
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=False),
                ],
            )
        )

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def secrets() -> list[str]:
    numbers = [id_number(n) for n in PEOPLE] + [BAD_ID]
    phones = [phone(n) for n in PEOPLE] + [BAD_PHONE]
    return numbers + phones


def names() -> list[str]:
    return [person(n)["name"] for n in PEOPLE]


async def published(nats_url: str, expected: int) -> list[str]:
    """Every event on the registry's stream, read back by a plain nats-py consumer."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        subscription = await js.subscribe(
            "pb.registry.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        out: list[str] = []
        while len(out) < expected:
            message = await subscription.next_msg(timeout=10)
            out.append(json.dumps(dict(message.headers or {}), ensure_ascii=False))
            out.append(message.data.decode())
        return out
    finally:
        await connection.close()


async def stored(service: RunningService) -> str:
    """Every row of every table of the registry's store, as one text."""
    rows: list[str] = []
    async with service.runtime.db.read() as session:
        for table in [*platform_metadata.sorted_tables, *metadata.sorted_tables]:
            for row in (await session.execute(select(table))).all():
                rows.append(
                    " ".join(
                        v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in row
                    )
                )
    return "\n".join(rows)


async def test_no_raw_personal_data_leaves_the_registry(
    private_nats: NatsServer,
    service_databases: ServiceDatabases,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"),
        nats_url=private_nats.url,
        outbox_poll_seconds=0.1,
        log_level="DEBUG",
    )
    raw = RawRecords()
    bodies: list[str] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        bodies.append(response.text)

    async with serve(definition(settings)) as registry:
        logging.getLogger().addHandler(raw)
        registry.client.event_hooks["response"].append(keep)
        try:
            await flow(registry)
            unsent = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))

            async def relayed() -> bool:
                async with registry.runtime.db.read() as session:
                    return int((await session.execute(unsent)).scalar_one()) == 0

            await wait_for(relayed, timeout=20)
            async with registry.runtime.db.read() as session:
                events = [
                    row.data.decode()
                    for row in (await session.execute(select(outbox.c.data))).all()
                ]
            on_nats = await published(private_nats.url, len(events))
            database = await stored(registry)
        finally:
            logging.getLogger().removeHandler(raw)
    stdout = capsys.readouterr().out

    member_events = [e for e in events if '"member_id"' in e]
    assert len(member_events) == 3 + 2 + 2  # discovered 3, declared 2, transferred 2
    assert any("********" in body for body in bodies)  # masked forms were shown
    assert raw.lines
    places = {
        "raw log records, DEBUG included": "\n".join(raw.lines),
        "stdout logs": stdout,
        "responses": "\n".join(bodies),
        "outbox events": "\n".join(events),
        "NATS messages": "\n".join(on_nats),
    }
    for where, text in places.items():
        for secret in secrets():
            assert secret not in text, f"a raw ID number or phone in the {where}"
    # Names are stored (the office needs them) but no log line, DEBUG included, may show one:
    # the SQLite driver's DEBUG echo of statement parameters is silenced by the logging set-up.
    for where, text in {
        "raw log records, DEBUG included": "\n".join(raw.lines),
        "outbox events": "\n".join(events),
        "NATS messages": "\n".join(on_nats),
    }.items():
        for name in names():
            assert name not in text, f"a person's name in the {where}"
    for secret in secrets():
        assert secret not in database, "a raw ID number or phone in the database"
    for name in names():
        assert name not in "\n".join(bodies), "an unmasked name in a response"


async def flow(registry: RunningService) -> None:
    headers = registry.as_region("140212")
    a = (await new_organization(registry, 901, full_members=2))["id"]
    b = (await new_organization(registry, 902, full_members=1))["id"]
    parent = await committee(registry)
    joint = await form(registry, kind="joint", parent_id=parent["id"], organization_ids=[a, b])
    assert joint.status_code == 201, joint.text  # the Party organisation transfers go to
    listed = await registry.client.post(
        f"/v1/organizations/{a}/staff-lists",
        json={"people": [person(n) for n in (900, 901, 902, 903)]},
        headers=headers,
    )
    assert listed.status_code == 200, listed.text
    csv_text = "姓名,身份证号,手机号\n" + "\n".join(
        f"{person(n)['name']},{id_number(n)},{phone(n)}" for n in (904, 905)
    )
    uploaded = await registry.client.post(
        f"/v1/organizations/{b}/staff-lists",
        files={"file": ("staff.csv", csv_text.encode(), "text/csv")},
        headers=headers,
    )
    assert uploaded.status_code == 200, uploaded.text
    refused = await registry.client.post(
        f"/v1/organizations/{a}/staff-lists",
        json={"people": [person(906, id_number=BAD_ID), person(907, phone=BAD_PHONE)]},
        headers=headers,
    )
    assert refused.status_code == 422
    bad_file = await registry.client.post(
        f"/v1/organizations/{b}/staff-lists",
        files={"file": ("staff.csv", f"姓名,身份证号\n某人,{BAD_ID}\n".encode(), "text/csv")},
        headers=headers,
    )
    assert bad_file.status_code == 422

    found = await registry.client.post(
        "/v1/member-rosters",
        json={"members": [roster_person(900), roster_person(901, "probationary")]},
        headers=headers,
    )
    assert len(found.json()["discovered"]) == 2
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "身份证号码", "党员类别"])
    sheet.append([person(905)["name"], id_number(905), "正式党员"])
    buffer = io.BytesIO()
    book.save(buffer)
    more = await registry.client.post(
        "/v1/member-rosters",
        files={"file": ("roster.xlsx", buffer.getvalue(), "application/octet-stream")},
        headers=headers,
    )
    assert len(more.json()["discovered"]) == 1
    members: list[dict[str, Any]] = found.json()["discovered"]
    for member in members:
        await registry.client.post(f"/v1/members/{member['id']}/declare", headers=headers)
        moved = await registry.client.post(f"/v1/members/{member['id']}/transfer", headers=headers)
        assert moved.status_code == 200, moved.text
        await registry.client.get(f"/v1/members/{member['id']}", headers=headers)
    for org in (a, b):
        await registry.client.get(f"/v1/organizations/{org}/members", headers=headers)
        await registry.client.get(f"/v1/organizations/{org}", headers=headers)
    await registry.client.get("/v1/audit", headers=registry.as_region("14"))
