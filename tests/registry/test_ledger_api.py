"""The ledger's six points (六清) derived from the recorded data, over real HTTP on both stores."""

from __future__ import annotations

import json

from tests.factories import organization, outbox_events
from tests.harness import RunningService

PATCH = "application/merge-patch+json"


async def test_six_points_follow_the_data_and_an_empty_file_cannot_be_made_complete(
    registry: RunningService,
) -> None:
    headers = registry.as_region("140212")
    empty = organization(600, staff_count=None)
    created = await registry.client.post("/v1/organizations", json=empty, headers=headers)
    assert created.status_code == 201, created.text
    org_id = created.json()["id"]
    assert created.json()["ledger"]["missing"] == [
        "operations",
        "workforce",
        "members",
        "investors",
        "no_branch_reason",
        "mass_organizations",
    ]
    all_true = dict.fromkeys(
        [
            "operations",
            "workforce",
            "members",
            "investors",
            "no_branch_reason",
            "mass_organizations",
        ],
        True,
    )
    refused = await registry.client.patch(
        f"/v1/organizations/{org_id}",
        content=json.dumps({"ledger": all_true}),
        headers={**headers, "If-Match": '"1"', "Content-Type": PATCH},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "ledger.investors"
    refused_on_create = await registry.client.post(
        "/v1/organizations", json=organization(601, ledger={"operations": True}), headers=headers
    )
    assert refused_on_create.json()["errors"][0]["field"] == "ledger.operations"

    # the data fills the points; members and mass organisations may be confirmed by hand
    filled = await registry.client.patch(
        f"/v1/organizations/{org_id}",
        content=json.dumps(
            {
                "investors": [{"kind": "person", "name": "王小明", "share": 100}],
                "no_branch_reason": "党员不足3名",
                "staff_count": 8,
                "stable_operations": True,
                "ledger": {"members": True},
            }
        ),
        headers={**headers, "If-Match": '"1"', "Content-Type": PATCH},
    )
    assert filled.status_code == 200, filled.text
    assert filled.json()["ledger"]["missing"] == ["mass_organizations"]
    union = await registry.client.post(
        f"/v1/organizations/{org_id}/mass-organizations",
        json={"kind": "union", "established_on": "2026-05-01"},
        headers=headers,
    )
    assert union.status_code == 201, union.text
    read = await registry.client.get(f"/v1/organizations/{org_id}", headers=headers)
    assert (read.json()["ledger"]["complete"], read.json()["version"]) == (True, 3)
    updated = await outbox_events(registry.runtime, "pb.registry.organization.updated.v1")
    assert [(e["version"], e["ledger_complete"]) for e in updated] == [(2, False), (3, True)]
    # data taken away takes its point with it
    cleared = await registry.client.patch(
        f"/v1/organizations/{org_id}",
        content=json.dumps({"investors": []}),
        headers={**headers, "If-Match": '"3"', "Content-Type": PATCH},
    )
    assert cleared.json()["ledger"]["missing"] == ["investors"]
