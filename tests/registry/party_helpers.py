"""Helpers for the registry's Party tests: people with valid ID numbers, organisations, events."""

from __future__ import annotations

from typing import Any

from libs.common.validators import id_number_check_char
from tests.factories import organization, outbox_data, outbox_records
from tests.harness import RunningService

REGION = "140212"


def id_number(n: int, region: str = REGION) -> str:
    """A valid resident ID number (GB 11643), distinct per `n`."""
    first17 = f"{region}1990{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return first17 + id_number_check_char(first17)


def phone(n: int) -> str:
    return f"139{n:08d}"


def person(n: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"张{n}明", "id_number": id_number(n), "phone": phone(n)}
    body.update(overrides)
    return body


def roster_person(n: int, membership: str = "full", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"张{n}明",
        "id_number": id_number(n),
        "membership": membership,
        "registered_with": "新荣区某村党支部",
    }
    body.update(overrides)
    return body


async def new_organization(
    service: RunningService, n: int, *, region: str = "14", **overrides: Any
) -> dict[str, Any]:
    response = await service.client.post(
        "/v1/organizations", json=organization(n, **overrides), headers=service.as_region(region)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def events(
    service: RunningService, type_prefix: str = ""
) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of every outbox event, in order, whose type starts with the prefix."""
    return await outbox_records(service.runtime, type_prefix)


async def data_of(service: RunningService, type_: str) -> list[dict[str, Any]]:
    return await outbox_data(service.runtime, type_)


async def set_members(service: RunningService, organization_id: str, full: int) -> None:
    """Set an organisation's full-member count the way an office corrects its file."""
    response = await service.client.get(
        f"/v1/organizations/{organization_id}", headers=service.as_region("14")
    )
    response = await service.client.patch(
        f"/v1/organizations/{organization_id}",
        json={"full_members": full},
        headers={**service.as_region("14"), "If-Match": response.headers["etag"]},
    )
    assert response.status_code == 200, response.text
