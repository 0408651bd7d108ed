"""Walking a list the way a client does: follow `next` (and check the `Link` header says the
same) until the last page."""

from __future__ import annotations

from typing import Any

import httpx

MAX_PAGES = 100


async def walk(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    **params: Any,
) -> list[dict[str, Any]]:
    """Every item of every page of the list at `path` with `params`."""
    items: list[dict[str, Any]] = []
    response = await client.get(path, params=params, headers=headers)
    for _ in range(MAX_PAGES):
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        link = response.headers.get("link")
        if body["next"] is None:
            assert body["next_cursor"] is None, body
            assert link is None, link
            return items
        assert link == f'<{body["next"]}>; rel="next"', link
        assert f"cursor={body['next_cursor']}" in body["next"]
        response = await client.get(body["next"], headers=headers)
    raise AssertionError(f"{path}: more than {MAX_PAGES} pages")
