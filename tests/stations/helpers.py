"""Valid inputs for the stations tests."""

from __future__ import annotations

from typing import Any

from tests.harness import RunningService

REGION = "140212"
TOWNSHIP = "140212101"
#: 新荣区, Datong (WGS-84).
HERE = (40.2566, 113.1402)


def station_body(n: int = 1, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"新荣区小哥驿站{n}",
        "kind": "courier",
        "region_code": TOWNSHIP,
        "address": f"新荣镇{n}号",
        "location": {"latitude": HERE[0] + n * 0.001, "longitude": HERE[1]},
        "facilities": ["water", "charging", "rest"],
        "open_24h": True,
        "standard": {"has_sign": True, "has_space": True, "has_equipment": True},
    }
    body.update(overrides)
    return body


async def new_station(service: RunningService, n: int = 1, **overrides: Any) -> dict[str, Any]:
    response = await service.client.post(
        "/v1/stations", json=station_body(n, **overrides), headers=service.as_region(REGION)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
