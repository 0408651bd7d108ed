"""The operator commands every service has: migrate, outbox status and republish, dead letters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from libs.common.cli import run
from libs.common.db import Database
from libs.common.tables import outbox
from services.registry.app import definition
from services.registry.events import OrganizationRegisteredV1


async def test_migrate_status_and_republish(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url
    monkeypatch.setenv("PB_REGISTRY_DATABASE_URL", url)
    await _in_thread(["migrate"])
    assert "newest migration" in capsys.readouterr().out

    db = Database(url, source="/pb/registry")
    async with db.unit_of_work() as uow:
        for i in range(3):
            uow.record(
                OrganizationRegisteredV1(
                    organization_id=f"o{i}",
                    credit_code="91350100M000100Y43",
                    name="n",
                    kind="enterprise",
                    region_code="14",
                    registered_at=datetime.now(UTC),
                )
            )
    await _in_thread(["outbox", "status"])
    assert "unsent events: 3" in capsys.readouterr().out

    async with db.unit_of_work() as uow:
        await uow.session.execute(update(outbox).values(sent_at=datetime.now(UTC)))
    await db.dispose()
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await _in_thread(["outbox", "republish", "--since", since, "--until", until])
    assert "3 events marked for re-publishing" in capsys.readouterr().out
    await _in_thread(["dead-letters"])
    assert "no unresolved dead letters" in capsys.readouterr().out


async def _in_thread(argv: list[str]) -> None:
    # the command runs its own event loop, as it does from a shell
    await asyncio.to_thread(run, definition, argv)
