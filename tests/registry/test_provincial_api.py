"""The provincial profile over real HTTP on both stores: the bulk export (JSON Lines and XLSX)
and the reconciliation of a platform's export with the ledger."""

from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import load_workbook

from tests.factories import credit_code
from tests.harness import RunningService
from tests.registry.party_helpers import new_organization
from tests.registry.test_branches_api import committee, form

REGION = "140212"


async def _ledger(registry: RunningService) -> dict[str, str]:
    """A standalone branch, a union, an instructor, an individual business, a deregistered
    file, one with too few members and one in another district."""
    headers = registry.as_region(REGION)
    ids = {
        "branch": (await new_organization(registry, 701, full_members=3))["id"],
        "few": (await new_organization(registry, 702, probationary_members=1))["id"],
        "individual": (
            await new_organization(
                registry, 703, credit_code=credit_code(703, prefix="92"), name="张三烧烤店"
            )
        )["id"],
        "gone": (await new_organization(registry, 704))["id"],
        "elsewhere": (
            await new_organization(
                registry,
                705,
                credit_code=credit_code(705, region="140211"),
                region_code="140211001",
            )
        )["id"],
    }
    parent = await committee(registry)
    formed = await form(
        registry,
        kind="standalone",
        parent_id=parent["id"],
        organization_ids=[ids["branch"]],
        formed_on="2026-03-01",
    )
    assert formed.status_code == 201, formed.text
    union = await registry.client.post(
        f"/v1/organizations/{ids['branch']}/mass-organizations",
        json={"kind": "union"},
        headers=headers,
    )
    assert union.status_code == 201, union.text
    instructor = await registry.client.post(
        "/v1/instructors", json={"name": "王建国", "region_code": REGION}, headers=headers
    )
    assigned = await registry.client.post(
        f"/v1/instructors/{instructor.json()['id']}/assignments",
        json={"organization_id": ids["few"], "starts_on": "2026-01-01"},
        headers=headers,
    )
    assert assigned.status_code == 201, assigned.text
    read = await registry.client.get(f"/v1/organizations/{ids['gone']}", headers=headers)
    gone = await registry.client.delete(
        f"/v1/organizations/{ids['gone']}",
        params={"reason": "注销"},
        headers={**headers, "If-Match": read.headers["etag"]},
    )
    assert gone.status_code == 200, gone.text
    return ids


def _lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines()]


async def test_export_and_reconcile(registry: RunningService) -> None:
    ids = await _ledger(registry)
    headers = registry.as_region(REGION)

    exported = await registry.client.get("/v1/provincial/organizations.jsonl", headers=headers)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    records = {r["organization_id"]: r for r in _lines(exported.content)}
    assert set(records) == {ids["branch"], ids["few"], ids["individual"], ids["gone"]}
    branch = records[ids["branch"]]
    assert (
        branch["party_situation"],
        branch["party_organization_category"],
        branch["party_organization_formed_on"],
        branch["union"],
        branch["instructor_assigned"],
        branch["region_name"],
    ) == ("standalone", "631", "2026-03-01", True, False, "古店镇")
    few = records[ids["few"]]
    assert (few["party_situation"], few["instructor_assigned"], few["union"]) == (
        "none_few_members",
        True,
        False,
    )
    individual = records[ids["individual"]]
    assert (individual["unit_category"], individual["name"]) == ("个体工商户", "张三烧烤店")
    assert (records[ids["gone"]]["status"], records[ids["gone"]]["party_situation"]) == (
        "deregistered",
        "none_no_members",
    )

    # the district office sees only its subtree; a township narrows it; outside is 403
    township = await registry.client.get(
        "/v1/provincial/organizations.jsonl",
        params={"region_code": "140212101"},
        headers=headers,
    )
    assert len(_lines(township.content)) == 4
    outside = await registry.client.get(
        "/v1/provincial/organizations.jsonl", params={"region_code": "140211"}, headers=headers
    )
    assert outside.status_code == 403

    workbook = await registry.client.get("/v1/provincial/organizations.xlsx", headers=headers)
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content), read_only=True).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[1][:3] == ["法人单位统一社会信用代码", "单位名称", "单位类别"]
    assert len(rows) == 2 + 4
    by_code = {r[0]: r for r in rows[2:]}
    situation = rows[1].index("法人单位建立党组织情况")
    assert by_code[branch["credit_code"]][situation] == "已单独建立党组织"

    # the platform's own XLSX, unchanged: everything matches
    same = await registry.client.post(
        "/v1/provincial/reconciliations",
        files={"file": ("平台导出.xlsx", workbook.content)},
        headers=headers,
    )
    assert same.status_code == 200, same.text
    report = same.json()
    assert (report["matched"], report["same"], report["differences_total"]) == (4, 4, 0)
    assert (report["only_in_ledger_total"], report["only_in_platform_total"]) == (0, 0)

    # a platform that lacks one file, holds another region's, and has an old staff count
    platform = [dict(r) for r in _lines(exported.content) if r["organization_id"] != ids["few"]]
    platform[0]["staff_count"] = 99
    platform.append({"credit_code": credit_code(705, region="140211"), "name": "外区企业"})
    platform.append({"credit_code": platform[1]["credit_code"], "name": "重复"})
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in platform).encode()
    compared = await registry.client.post(
        "/v1/provincial/reconciliations",
        files={"file": ("platform.jsonl", body)},
        headers=headers,
    )
    assert compared.status_code == 200, compared.text
    report = compared.json()
    assert (report["ledger_total"], report["platform_total"]) == (4, 5)
    assert [d["field"] for d in report["differences"]] == ["staff_count"]
    assert (report["differences"][0]["ledger"], report["differences"][0]["platform"]) == (
        str(records[platform[0]["organization_id"]]["staff_count"]),
        "99",
    )
    assert [r["organization_id"] for r in report["only_in_ledger"]] == [ids["few"]]
    assert [r["reason"] for r in report["only_in_platform"]] == ["not in the ledger of this region"]
    assert [r["row"] for r in report["repeated_in_platform"]] == [5]

    unreadable = await registry.client.post(
        "/v1/provincial/reconciliations",
        files={"file": ("platform.jsonl", b'{"credit_code": "x"}\nnot json\n')},
        headers=headers,
    )
    assert unreadable.status_code == 422
    assert unreadable.json()["errors"] == [
        {"field": "file", "reason": "line 2 is not a JSON object"}
    ]
