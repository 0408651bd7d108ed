"""The command line of every service: serve, worker, migrate, and the operator's outbox
commands."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

import uvicorn
from sqlalchemy import func, select

from libs.common.db import Database
from libs.common.migrations import upgrade_to_head
from libs.common.outbox import mark_for_republish, outbox_backlog
from libs.common.service import Command, ServiceFactory, build_app
from libs.common.tables import dead_letters


def _timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parser(name: str, own: list[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m services.{name}")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser(
        "serve",
        help="run the service (the default): all of it, or its API alone (PB_<NAME>_ROLE=api)",
    )
    commands.add_parser(
        "worker",
        help="run the service's outbox relay, consumers and background workers, no API "
        "(health, readiness and metrics only, on PB_<NAME>_PORT)",
    )
    commands.add_parser("migrate", help="bring the store to the newest migration and exit")
    outbox = commands.add_parser("outbox", help="inspect or re-publish the outbox")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True)
    outbox_commands.add_parser("status", help="events waiting to be published")
    republish = outbox_commands.add_parser(
        "republish",
        help="publish again the events recorded in a time range (after a broker lost messages)",
    )
    republish.add_argument("--since", type=_timestamp, required=True, help="ISO 8601, inclusive")
    republish.add_argument("--until", type=_timestamp, required=True, help="ISO 8601, exclusive")
    commands.add_parser("dead-letters", help="count unresolved dead letters per consumer")
    for command in own:
        command.arguments(commands.add_parser(command.name, help=command.help))
    return parser


def run(factory: ServiceFactory, argv: list[str] | None = None) -> None:
    definition = factory()
    settings = definition.settings
    args = _parser(settings.service_name, definition.commands).parse_args(argv)
    command = args.command or "serve"
    own = {c.name: c for c in definition.commands}
    if command in own:
        asyncio.run(own[command].run(args))
        return
    if command in ("serve", "worker"):
        if command == "worker":
            definition.settings.role = "worker"
        app = build_app(definition)
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
        return
    db = Database(settings.resolved_database_url(), source=f"/pb/{settings.service_name}")

    async def operate() -> None:
        try:
            if command == "migrate":
                await upgrade_to_head(db, definition.migrations)
                print(f"{settings.service_name}: store is at the newest migration")
            elif command == "outbox" and args.outbox_command == "status":
                count, oldest = await outbox_backlog(db)
                print(f"unsent events: {count}; oldest recorded: {oldest or '-'}")
            elif command == "outbox" and args.outbox_command == "republish":
                if args.until <= args.since:
                    raise SystemExit("--until must be after --since")
                marked = await mark_for_republish(db, args.since, args.until)
                print(
                    f"{marked} events marked for re-publishing; the running service's relay "
                    "publishes them with their original ids"
                )
            elif command == "dead-letters":
                async with db.read() as session:
                    rows = (
                        await session.execute(
                            select(dead_letters.c.consumer, func.count())
                            .where(dead_letters.c.resolved_at.is_(None))
                            .group_by(dead_letters.c.consumer)
                        )
                    ).all()
                for consumer, count in rows:
                    print(f"{consumer}: {count}")
                if not rows:
                    print("no unresolved dead letters")
        finally:
            await db.dispose()

    asyncio.run(operate())
