"""After a flow that brings hostile data in every way it can come (an import with 法人身份证,
联系电话 and 备注 columns and an ID number in the credit code column, a phone typed into an
address, ID numbers in reasons, staff lists and rosters), no table of the registry's store holds
a raw ID number or phone in any column, and neither does anything it published on NATS."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from sqlalchemy import func, select

from libs.common.tables import outbox, platform_metadata
from libs.common.validators import id_number_check_char
from services.registry.app import definition
from services.registry.settings import RegistrySettings
from services.registry.store.tables import metadata
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve, wait_for
from tests.registry.imports_data import MARKET_HEADER, credit_code, csv_bytes, market_row
from tests.registry.party_helpers import id_number, new_organization
from tests.registry.test_branches_api import committee, form
from tests.registry.test_personal_data import flow, published

#: A token of digits standing alone (no digit, letter or decimal point beside it) that has the
#: shape of an ID number (18 with a matching check character and a birth date, or 15) or a
#: mobile number.
_TOKEN = re.compile(r"(?<![0-9A-Za-z.])(\d{17}[0-9Xx]|\d{15}|1[3-9]\d{9})(?![0-9A-Za-z])")
#: Phones and ID numbers this flow types into free text, written as people write them.
TYPED = {
    "address phone": "13912340001",
    "landline": "0352-5123456",
    "note ID": id_number(41),
    "reason ID": id_number(42),
    "reason phone": "+86 139-1234-0002",
}


def raw_numbers(text: str) -> list[str]:
    found = []
    for token in _TOKEN.findall(text):
        if len(token) == 18 and not _id_number(token):
            continue
        found.append(token)
    return found


def _id_number(token: str) -> bool:
    try:
        date(int(token[6:10]), int(token[10:12]), int(token[12:14]))
    except ValueError:
        return False
    return id_number_check_char(token[:17]) == token[17].upper()


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def every_value(service: RunningService) -> dict[str, list[str]]:
    """Every value of every column of every table of the store, as text, by table."""
    out: dict[str, list[str]] = {}
    async with service.runtime.db.read() as session:
        for table in [*platform_metadata.sorted_tables, *metadata.sorted_tables]:
            rows = (await session.execute(select(table))).all()
            out[table.name] = [_text(v) for row in rows for v in row if v is not None]
    return out


def hostile_import() -> bytes:
    header = [*MARKET_HEADER, "备注"]
    rows = [[*market_row(n), f"法人身份证 {TYPED['note ID']}"] for n in range(500, 505)]
    rows.append([*market_row(505, 统一社会信用代码=id_number(43)), ""])  # mistyped column
    rows.append([*market_row(506, 住所=f"新荣区某路6号 {TYPED['address phone']}"), ""])
    return csv_bytes(header, rows)


async def hostile_flow(registry: RunningService) -> None:
    headers = registry.as_region("140212")
    created = await new_organization(
        registry,
        950,
        address=f"新荣区某路1号 电话{TYPED['address phone']}",
        no_branch_reason=f"负责人身份证{TYPED['note ID']}，正在联系",
    )
    assert created["address"] == "新荣区某路1号 电话139****0001"  # masked on the way in
    patched = await registry.client.patch(
        f"/v1/organizations/{created['id']}",
        content=json.dumps({"address": f"新荣区某路2号 办公室{TYPED['landline']}"}),
        headers={
            **headers,
            "Content-Type": "application/merge-patch+json",
            "If-Match": f'"{created["version"]}"',
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["address"] == "新荣区某路2号 办公室0352-*****56"

    uploaded = await registry.client.post(
        "/v1/imports",
        data={"source": "market_supervision"},
        files={"file": ("摸排.csv", hostile_import(), "text/csv")},
        headers=headers,
    )
    assert uploaded.status_code == 202, uploaded.text

    async def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await registry.client.get(uploaded.headers["location"], headers=headers)
        ).json()
        return body if body["status"] in {"done", "rejected", "failed"} else None

    report = await wait_for(finished, timeout=30)
    assert report["status"] == "done", report
    assert (report["counts"]["new"], report["counts"]["rejected"]) == (6, 1)

    parent = await committee(registry)
    c = (await new_organization(registry, 951, full_members=1))["id"]
    d = (await new_organization(registry, 952, full_members=2))["id"]
    branch = await form(registry, kind="joint", parent_id=parent["id"], organization_ids=[c, d])
    assert branch.status_code == 201, branch.text
    dissolved = await registry.client.post(
        f"/v1/branches/{branch.json()['id']}/dissolve",
        json={
            "reason": f"联系人{TYPED['reason phone']}，证件{TYPED['reason ID']}",
            "on": date.today().isoformat(),
        },
        headers=headers,
    )
    assert dissolved.status_code == 200, dissolved.text
    await registry.client.get("/v1/audit", headers=registry.as_region("14"))


async def test_no_table_holds_a_raw_id_number_or_phone_after_a_hostile_flow(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"),
        nats_url=private_nats.url,
        outbox_poll_seconds=0.1,
    )
    async with serve(definition(settings)) as registry:
        await hostile_flow(registry)
        await flow(registry)  # staff lists, rosters, members (test_personal_data)
        unsent = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))

        async def relayed() -> bool:
            async with registry.runtime.db.read() as session:
                return int((await session.execute(unsent)).scalar_one()) == 0

        await wait_for(relayed, timeout=30)
        async with registry.runtime.db.read() as session:
            sent = (await session.execute(select(func.count()).select_from(outbox))).scalar_one()
        on_nats = await published(private_nats.url, sent)
        stored = await every_value(registry)

    assert sum(len(values) for values in stored.values()) > 1000  # the scan saw the store
    assert stored["import_file_chunks"] == []  # the import is done: its rows are gone
    found = {
        table: raw_numbers("\n".join(values))
        for table, values in stored.items()
        if raw_numbers("\n".join(values))
    }
    assert found == {}, "raw ID numbers or phones at rest"
    assert raw_numbers("\n".join(on_nats)) == [], "raw ID numbers or phones published"
    everything = "\n".join([*on_nats, *(v for values in stored.values() for v in values)])
    for what, typed in TYPED.items():
        assert typed not in everything, f"the {what} is kept raw"
    assert "13912340002" not in everything  # the phone written with +86 and hyphens


def test_the_scan_finds_numbers_and_passes_over_codes_and_hashes() -> None:
    assert raw_numbers(f"x {TYPED['note ID']} y 13912340001") == [TYPED["note ID"], "13912340001"]
    assert raw_numbers(id_number(41)[:17] + "0" if id_number(41)[17] != "0" else "1") == []
    assert raw_numbers(credit_code(500)) == []
    assert (
        raw_numbers("1a2b3c13912340001f 550e8400-e29b-41d4-a716-446655440000 40.13912340001") == []
    )
