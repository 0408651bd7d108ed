"""A write the store's constraints refuse (a race past the use case's checks) is a 409 problem."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from libs.common.problems import PROBLEM_JSON, install_problem_handlers


async def test_a_constraint_violation_is_a_409_problem_without_the_stored_values() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def add() -> None:
        raise IntegrityError(
            "INSERT ...", {}, Exception("duplicate key value (credit_code)=(91140212MA0AB12C3X)")
        )

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/things")
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"].endswith("/conflict")
    assert "91140212MA0AB12C3X" not in response.text


async def failing_commit() -> AsyncIterator[None]:
    """A request's transaction whose commit the store refuses, after the route returned."""
    yield
    raise IntegrityError("COMMIT", {}, Exception("unique constraint failed"))


Transaction = Annotated[None, Depends(failing_commit, scope="function")]


async def test_a_constraint_refusing_the_commit_after_the_route_is_a_409_too() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things", status_code=201)
    async def add(transaction: Transaction) -> dict[str, str]:
        return {"id": "1"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/things")
    assert response.status_code == 409, response.text  # never a 201 for what was not stored


async def test_a_lost_store_connection_is_a_503_to_retry_not_a_500() -> None:
    """The chaos suite cuts the services' PostgreSQL connections mid-request: the client is told
    to retry (nothing was committed), not that the service broke."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/cut")
    async def cut() -> None:
        raise OperationalError(
            "SELECT 1", {}, ConnectionResetError("server closed the connection unexpectedly")
        )

    @app.post("/invalidated")
    async def invalidated() -> None:
        raise DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)

    @app.post("/other")
    async def other() -> None:
        raise DBAPIError("SELECT 1", {}, Exception("a driver bug"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/cut", "/invalidated"):
            response = await client.post(path)
            assert response.status_code == 503, path
            assert response.headers["retry-after"] == "1"
            assert response.json()["type"].endswith("/store-unavailable")
            assert "closed the connection" not in response.text
        assert (await client.post("/other")).status_code == 500
