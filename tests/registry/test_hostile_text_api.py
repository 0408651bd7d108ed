"""Hostile strings, counts and tokens at the registry's HTTP boundary, on SQLite and PostgreSQL:
U+0000 and its kin are a 422 naming the field (never a 500 from the store), names are stored
NFC and trimmed, counts are integers, LIKE wildcards match only themselves, a 409 names nothing
outside the caller's region, and tokens live a bounded time."""

from __future__ import annotations

import json
import time
import unicodedata
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select

from libs.common.settings import DEVELOPMENT_AUTH_SECRET
from libs.common.tables import outbox
from tests.factories import organization
from tests.harness import SQLITE_ONLY, RunningService
from tests.registry.party_helpers import id_number, new_organization, phone

HOSTILE_NAMES = {
    "nul": ("大同\u0000物流有限公司", "contains a control character (U+0000)"),
    "bel": ("大同\u0007物流有限公司", "contains a control character (U+0007)"),
    "esc": ("大同\u001b[31m物流有限公司", "contains a control character (U+001B)"),
    "ffff": ("大同物流有限公司\uffff", "contains a non-character (U+FFFF)"),
    "zero-width only": ("\u200b\u200c\u200d", "has no visible character"),
    "rtl override": ("\u202e司公限有流物同大", "contains a bidirectional override (U+202E)"),
    "lone surrogate": ("大同\ud800物流", "contains a surrogate (U+D800)"),
}


async def outbox_rows(service: RunningService) -> int:
    async with service.runtime.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(outbox))).scalar_one())


def _errors(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors: list[dict[str, str]] = response.json()["errors"]
    return errors


@pytest.mark.parametrize("case", HOSTILE_NAMES, ids=list(HOSTILE_NAMES))
async def test_a_hostile_name_is_422_naming_the_field(registry: RunningService, case: str) -> None:
    name, reason = HOSTILE_NAMES[case]
    # as a client escaping non-ASCII sends it (a lone surrogate can only travel as \ud800)
    response = await registry.client.post(
        "/v1/organizations",
        content=json.dumps(organization(401, name=name)),
        headers={**registry.as_region("14"), "Content-Type": "application/json"},
    )
    assert _errors(response) == [{"field": "name", "reason": reason}]
    assert await outbox_rows(registry) == 0


async def test_nul_anywhere_is_422_on_every_store(registry: RunningService) -> None:
    """U+0000 made PostgreSQL answer 500 ("invalid byte sequence"): in a query string, a path,
    a nested body field, a field no text type covers, or a JSON key, it is a 422 first."""
    headers = registry.as_region("14")
    created = await registry.client.post(
        "/v1/organizations", json=organization(402), headers=headers
    )
    assert created.status_code == 201
    org_id = created.json()["id"]
    checks = [
        registry.client.get("/v1/organizations", params={"name": "大同\x00"}, headers=headers),
        registry.client.get("/v1/organizations", params={"park_id": "\x00"}, headers=headers),
        registry.client.get("/v1/organizations", params={"cursor": "a\x00"}, headers=headers),
        registry.client.get("/v1/organizations/%00", headers=headers),
        registry.client.get(f"/v1/organizations/{org_id}%00", headers=headers),
        registry.client.get("/v1/audit", params={"actor": "\x00"}, headers=headers),
        registry.client.post(
            "/v1/organizations",
            json=organization(403, investors=[{"kind": "person", "name": "张\x00三"}]),
            headers=headers,
        ),
        registry.client.post(
            "/v1/organizations", json=organization(404, kind="enterprise\x00"), headers=headers
        ),
        registry.client.post(
            "/v1/organizations", json={**organization(405), "na\x00me": "x"}, headers=headers
        ),
        registry.client.patch(
            f"/v1/organizations/{org_id}",
            json={"address": "新荣区\x00"},
            headers={**headers, "If-Match": '"1"'},
        ),
        registry.client.request(
            "DELETE",
            f"/v1/organizations/{org_id}",
            params={"reason": "关闭\x00"},
            headers={**headers, "If-Match": '"1"'},
        ),
    ]
    for call in checks:
        response = await call
        errors = _errors(response)
        assert any("U+0000" in e["reason"] for e in errors), response.text
    seen = await registry.client.get(f"/v1/organizations/{org_id}", headers=headers)
    assert seen.json()["version"] == 1  # nothing was changed by any of them


async def test_the_guard_names_the_nested_field(registry: RunningService) -> None:
    response = await registry.client.post(
        "/v1/organizations",
        json=organization(406, investors=[{"kind": "person", "name": "张\x07三"}]),
        headers=registry.as_region("14"),
    )
    assert _errors(response) == [
        {"field": "investors.0.name", "reason": "contains a control character (U+0007)"}
    ]


@SQLITE_ONLY
async def test_names_are_stored_nfc_and_trimmed(registry: RunningService) -> None:
    decomposed = unicodedata.normalize("NFD", "大同市Café有限公司")
    assert decomposed != "大同市Café有限公司"
    created = await registry.client.post(
        "/v1/organizations",
        json=organization(407, name=f"\u3000 {decomposed}  ", address=" 新荣区  "),
        headers=registry.as_region("14"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "大同市Café有限公司"
    assert created.json()["address"] == "新荣区"


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("full_members", "3"),
        ("full_members", True),
        ("probationary_members", 1.0),
        ("staff_count", "12"),
        ("has_premises", "true"),
        ("has_premises", 1),
        ("latitude", "40.1"),
    ],
)
async def test_counts_and_flags_are_strict(
    registry: RunningService, field: str, value: object
) -> None:
    response = await registry.client.post(
        "/v1/organizations",
        json=organization(408, **{field: value}),
        headers=registry.as_region("14"),
    )
    assert [e["field"] for e in _errors(response)] == [field]


async def test_like_wildcards_match_only_themselves(registry: RunningService) -> None:
    headers = registry.as_region("14")
    for n, name in [(410, "大同市甲乙物流有限公司"), (411, "大同市丙丁商贸有限公司")]:
        created = await registry.client.post(
            "/v1/organizations", json=organization(n, name=name), headers=headers
        )
        assert created.status_code == 201
    for wildcard in ["%", "_", "%%", "__", "%_", " % "]:
        found = await registry.client.get(
            "/v1/organizations", params={"name": wildcard}, headers=headers
        )
        assert found.status_code == 200
        assert found.json()["items"] == [], wildcard
    found = await registry.client.get("/v1/organizations", params={"name": "甲乙"}, headers=headers)
    assert [o["name"] for o in found.json()["items"]] == ["大同市甲乙物流有限公司"]


async def test_a_duplicate_outside_the_callers_region_names_nothing(
    registry: RunningService,
) -> None:
    first = await registry.client.post(
        "/v1/organizations", json=organization(420), headers=registry.as_region("140212")
    )
    assert first.status_code == 201
    elsewhere = await registry.client.post(
        "/v1/organizations",
        json=organization(420, name="另一个名字", region_code="140213002"),
        headers=registry.as_region("140213"),
    )
    assert elsewhere.status_code == 409
    body = elsewhere.json()
    assert "existing_id" not in body
    assert first.json()["id"] not in elsewhere.text
    code = organization(420)["credit_code"]
    assert body["detail"] == f"credit code {code} is already registered, outside your region"
    assert "140212101" not in elsewhere.text  # the existing file's township
    assert body["errors"] == [
        {"field": "credit_code", "reason": "already registered outside your region"}
    ]
    inside = await registry.client.post(
        "/v1/organizations",
        json=organization(420, name="另一个名字"),
        headers=registry.as_region("14"),
    )
    assert inside.status_code == 409
    assert inside.json()["existing_id"] == first.json()["id"]


def _token(**claims: Any) -> dict[str, str]:
    now = int(time.time())
    body = {"sub": "t", "region": "14", "iss": "pb-dev", "scope": "registry:read", "iat": now}
    payload = {k: v for k, v in {**body, **claims}.items() if v is not None}
    token = jwt.encode(payload, DEVELOPMENT_AUTH_SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


@SQLITE_ONLY
async def test_a_token_longer_than_allowed_is_401_in_our_words(registry: RunningService) -> None:
    now = int(time.time())
    century = await registry.client.get(
        "/v1/organizations", headers=_token(exp=now + 100 * 365 * 86400)
    )
    assert century.status_code == 401
    assert century.json()["detail"] == "the token lives longer than the 12 hours allowed"
    assert century.headers["www-authenticate"] == (
        'Bearer error="invalid_token", '
        'error_description="the token lives longer than the 12 hours allowed"'
    )
    no_iat = await registry.client.get("/v1/organizations", headers=_token(iat=None, exp=now + 60))
    assert no_iat.status_code == 401
    assert no_iat.json()["detail"] == "the token lacks the iat claim"
    garbage = await registry.client.get(
        "/v1/organizations", headers={"Authorization": "Bearer abc.def"}
    )
    assert garbage.status_code == 401
    assert garbage.json()["detail"] == "the token is not a valid bearer token"
    fine = await registry.client.get("/v1/organizations", headers=_token(exp=now + 3600))
    assert fine.status_code == 200


@SQLITE_ONLY
async def test_admin_alone_reads_the_audit_trail_but_not_the_ledger(
    registry: RunningService,
) -> None:
    admin_only = registry.as_region("14", scopes=("admin",))
    assert (await registry.client.get("/v1/audit", headers=admin_only)).status_code == 200
    ledger = await registry.client.get("/v1/organizations", headers=admin_only)
    assert ledger.status_code == 403
    assert "registry:read" in ledger.json()["detail"]
    written = await registry.client.post(
        "/v1/organizations", json=organization(430), headers=admin_only
    )
    assert written.status_code == 403


async def test_a_staff_list_file_with_a_hostile_cell_is_422_naming_row_and_column(
    registry: RunningService,
) -> None:
    """A file's cells skip the JSON guard: they get the same check, row by row."""
    org = await new_organization(registry, 440)
    csv_text = "姓名,身份证号码,手机号码\n" + "\n".join(
        [f"李70华,{id_number(70)},{phone(70)}", f"李\x0771华,{id_number(71)},{phone(71)}"]
    )
    uploaded = await registry.client.post(
        f"/v1/organizations/{org['id']}/staff-lists",
        files={"file": ("职工名册.csv", csv_text.encode("utf-8"), "text/csv")},
        headers=registry.as_region("140212"),
    )
    assert _errors(uploaded) == [
        {"field": "row 3.name", "reason": "contains a control character (U+0007)"}
    ]
    listed = await registry.client.get(
        f"/v1/organizations/{org['id']}/members", headers=registry.as_region("14")
    )
    assert listed.json()["items"] == []  # nothing of the file was stored
