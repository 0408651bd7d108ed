"""Dead letters on a served service, real NATS and both stores: listed for an administrator,
re-driven once through their consumer after the cause is fixed, never applied twice."""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from libs.common.auth import ADMIN_SCOPE
from libs.common.cli import run
from libs.common.db import Database, UnitOfWork
from libs.common.events import Envelope
from libs.common.inbox import ConsumerSpec, DeadLetter
from libs.common.problems import PROBLEM_JSON
from libs.common.service import ServiceDefinition
from libs.common.settings import ServiceSettings
from libs.common.tables import platform_metadata
from tests.harness import SQLITE_ONLY, NatsServer, RunningService, serve, token, wait_for

REGION = "140212"
note_metadata = MetaData()
notes = Table(
    "notes",
    note_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("value", String(50), nullable=False),
)


class Noted(BaseModel):
    value: str


@dataclass
class NoteService:
    """A service with one consumer of its own notes; a `poison` note is refused (dead-lettered
    at once) until `fixed` is set."""

    running: RunningService
    service: str
    state: dict[str, bool]

    @property
    def consumer(self) -> str:
        return f"{self.service}-notes"

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(REGION, scopes=(ADMIN_SCOPE,))}"}

    def envelope(self, value: str, event_id: str | None = None) -> Envelope:
        return Envelope(
            id=event_id or f"evt-{value}-{random.random()}",
            source=f"/pb/{self.service}",
            type=f"pb.{self.service}.note.made.v1",
            subject=value,
            time=datetime.now(UTC),
            data=Noted(value=value).model_dump_json().encode(),
        )

    async def publish(self, env: Envelope, msg_id: str | None = None) -> None:
        headers = env.headers()
        if msg_id is not None:
            headers["Nats-Msg-Id"] = msg_id
        await self.running.runtime.link.js.publish(env.type, env.data, headers=headers)

    async def count(self, value: str) -> int:
        async with self.running.runtime.db.read() as session:
            query = select(func.count()).select_from(notes).where(notes.c.value == value)
            return int((await session.execute(query)).scalar_one())

    async def letters(self, **params: Any) -> list[dict[str, Any]]:
        answer = await self.running.client.get(
            "/v1/dead-letters", params=params, headers=self.admin
        )
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    async def redrive(self, letter_id: int) -> httpx.Response:
        return await self.running.client.post(
            f"/v1/dead-letters/{letter_id}/redrive", headers=self.admin
        )


def note_definition(settings: ServiceSettings, state: dict[str, bool]) -> ServiceDefinition:
    spec = ConsumerSpec[UnitOfWork](
        name=f"{settings.service_name}-notes", stream=settings.stream_name
    )

    @spec.on(f"pb.{settings.service_name}.note.made.v1", Noted)
    async def on_note(uow: UnitOfWork, envelope: Envelope, event: Noted) -> None:
        await uow.session.execute(insert(notes).values(event_id=envelope.id, value=event.value))
        if event.value.startswith("poison") and not state["fixed"]:
            raise DeadLetter(f"note {event.value} refused: the handler cannot take it yet")

    return ServiceDefinition(
        settings=settings,
        title="notes",
        description="a test service",
        metadata=note_metadata,
        migrations=Path("unused"),  # the tables are created by the fixture
        consumers=[spec],
    )


def note_settings(nats_url: str, database_url: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="t" + "".join(random.choices(string.ascii_lowercase, k=8)),
        database_url=database_url,
        nats_url=nats_url,
        migrate_on_start=False,
        inbox_max_deliveries=2,
        inbox_backoff_seconds=[0.05],
    )


@pytest.fixture
async def notes_service(nats_server: NatsServer, database_url: str) -> AsyncIterator[NoteService]:
    settings = note_settings(nats_server.url, database_url)
    db = Database(database_url, source="/pb/setup")
    async with db.engine.begin() as conn:
        await conn.run_sync(platform_metadata.create_all)
        await conn.run_sync(note_metadata.create_all)
    await db.dispose()
    state = {"fixed": False}
    async with serve(note_definition(settings, state)) as running:
        await asyncio.wait_for(running.runtime.link.ready.wait(), 10)
        yield NoteService(running, settings.service_name, state)


async def test_a_poison_event_is_listed_then_redriven_once_after_the_fix(
    notes_service: NoteService,
) -> None:
    s = notes_service
    poison = s.envelope("poison-1")
    await s.publish(poison)
    await s.publish(s.envelope("good-1"))
    [letter] = await wait_for(lambda: s.letters(), timeout=10)
    await wait_for(lambda: s.count("good-1"))

    assert letter["consumer"] == s.consumer
    assert letter["event_id"] == poison.id
    assert letter["event_type"] == poison.type
    assert letter["subject"] == poison.type
    assert letter["stream_sequence"] == 1
    assert letter["deliveries"] == 1
    assert "note poison-1 refused" in letter["reason"]
    assert letter["resolved_at"] is None
    assert letter["redrives"] == 0
    assert letter["traceparent"] is None  # published without a trace
    assert letter["event"] == {"value": "poison-1"}  # as the consumer's model reads it
    assert "data" not in letter
    assert await s.count("poison-1") == 0

    # admin only
    other = {"Authorization": f"Bearer {token(REGION, scopes=('x:read',))}"}
    for method, url in (
        ("GET", "/v1/dead-letters"),
        ("POST", f"/v1/dead-letters/{letter['id']}/redrive"),
    ):
        answer = await s.running.client.request(method, url, headers=other)
        assert answer.status_code == 403
        assert answer.headers["content-type"] == PROBLEM_JSON

    # re-driven before the fix: it fails again, stays open with the new reason
    answer = await s.redrive(letter["id"])
    assert answer.status_code == 200, answer.text
    again = answer.json()
    assert again["redrive_outcome"] == "failed"
    assert again["resolved_at"] is None
    assert again["redrives"] == 1
    assert "note poison-1 refused" in again["reason"]
    assert await s.count("poison-1") == 0

    # the cause fixed, re-driven (four at once, as from two replicas and the CLI): applied
    # once, resolved, and the others refused
    s.state["fixed"] = True
    answers = await asyncio.gather(*(s.redrive(letter["id"]) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409], [a.text for a in answers]
    done = next(a for a in answers if a.status_code == 200).json()
    assert done["redrive_outcome"] == "applied"
    assert done["resolved_at"] is not None
    assert done["redrives"] == 2
    assert await s.count("poison-1") == 1

    # a second re-drive is refused and applies nothing
    answer = await s.redrive(letter["id"])
    assert answer.status_code == 409
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert "already resolved" in answer.json()["detail"]
    assert await s.count("poison-1") == 1

    # an unknown id is a 404 problem; filters split open from resolved
    answer = await s.redrive(letter["id"] + 1000)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert await s.letters(resolved="false") == []
    [resolved] = await s.letters(resolved="true", consumer=s.consumer)
    assert resolved["id"] == letter["id"]
    assert await s.letters(consumer="someone-else") == []


@SQLITE_ONLY
async def test_an_event_applied_meanwhile_is_not_applied_again_by_a_redrive(
    notes_service: NoteService,
) -> None:
    s = notes_service
    poison = s.envelope("poison-2")
    await s.publish(poison)
    [letter] = await wait_for(lambda: s.letters(), timeout=10)
    # fixed, and a copy of the same event delivered again (re-published with another msg id)
    s.state["fixed"] = True
    await s.publish(poison, msg_id="copy-of-poison-2")
    await wait_for(lambda: s.count("poison-2"))

    answer = await s.redrive(letter["id"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["redrive_outcome"] == "already_applied"
    assert answer.json()["resolved_at"] is not None
    assert await s.count("poison-2") == 1


@SQLITE_ONLY
async def test_bulk_redrive_by_filter_and_ids_and_keyset_pages(notes_service: NoteService) -> None:
    s = notes_service
    for i in range(3):
        await s.publish(s.envelope(f"poison-b{i}"))
    await wait_for(lambda: _has(s.letters(), 3), timeout=10)

    first = await s.running.client.get("/v1/dead-letters?limit=2", headers=s.admin)
    assert first.status_code == 200
    page = first.json()
    assert [i["event"]["value"] for i in page["items"]] == ["poison-b2", "poison-b1"]
    second = await s.running.client.get(
        "/v1/dead-letters", params={"limit": 2, "cursor": page["next_cursor"]}, headers=s.admin
    )
    assert [i["event"]["value"] for i in second.json()["items"]] == ["poison-b0"]
    assert second.json()["next_cursor"] is None
    bad = await s.running.client.get("/v1/dead-letters?cursor=nonsense", headers=s.admin)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"

    bodies: list[dict[str, Any]] = [{}, {"ids": [1], "consumer": s.consumer}, {"ids": []}]
    for body in bodies:
        answer = await s.running.client.post("/v1/dead-letters/redrive", json=body, headers=s.admin)
        assert answer.status_code == 422, body
        assert answer.headers["content-type"] == PROBLEM_JSON

    s.state["fixed"] = True
    ids = sorted(i["id"] for i in page["items"])
    answer = await s.running.client.post(
        "/v1/dead-letters/redrive", json={"ids": [*ids, 999]}, headers=s.admin
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"] == [
        {"id": ids[0], "outcome": "applied", "reason": None},
        {"id": ids[1], "outcome": "applied", "reason": None},
        {"id": 999, "outcome": "not_found", "reason": None},
    ]
    answer = await s.running.client.post(
        "/v1/dead-letters/redrive", json={"consumer": s.consumer}, headers=s.admin
    )
    assert [r["outcome"] for r in answer.json()["results"]] == ["applied"]  # only the open one
    for i in range(3):
        assert await s.count(f"poison-b{i}") == 1


@SQLITE_ONLY
async def test_the_cli_lists_and_redrives(
    notes_service: NoteService, capsys: pytest.CaptureFixture[str]
) -> None:
    s = notes_service
    await s.publish(s.envelope("poison-c"))
    [letter] = await wait_for(lambda: s.letters(), timeout=10)
    definition = note_definition(s.running.runtime.settings, s.state)

    async def cli(*argv: str) -> str:
        await asyncio.to_thread(run, lambda: definition, list(argv))
        return capsys.readouterr().out

    out = await cli("dead-letters", "--list")
    assert f"{letter['id']}\t{s.consumer}\t{letter['event_type']}" in out
    assert "note poison-c refused" in out
    assert "open" in out
    with pytest.raises(SystemExit):  # still refused: exits non-zero
        await cli("dead-letters", "redrive", str(letter["id"]))
    assert f"{letter['id']}: failed" in capsys.readouterr().out

    s.state["fixed"] = True
    assert f"{letter['id']}: applied" in await cli("dead-letters", "redrive", str(letter["id"]))
    assert await s.count("poison-c") == 1
    with pytest.raises(SystemExit):
        await cli("dead-letters", "redrive", str(letter["id"]))
    assert f"{letter['id']}: already_resolved" in capsys.readouterr().out
    assert "no dead letters" in await cli("dead-letters", "--list")
    assert "resolved" in await cli("dead-letters", "--list", "--all")
    assert "no unresolved dead letters" in await cli("dead-letters")


async def _has(found: Any, n: int) -> bool:
    return len(await found) >= n
