"""The command line of every service: serve, worker, relay, migrate, and the operator's outbox and
dead-letter commands."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

import uvicorn
from opentelemetry import trace
from sqlalchemy import func, select

from libs.common.broker import BrokerLink
from libs.common.db import Database
from libs.common.dead_letters import DeadLetterQuery, DeadLetters, DeadLetterView
from libs.common.inbox import InboxConsumer
from libs.common.metrics import ServiceMetrics
from libs.common.migrations import upgrade_to_head
from libs.common.outbox import mark_for_republish, outbox_backlog
from libs.common.service import Command, ServiceDefinition, ServiceFactory, build_app
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
        "(health, readiness and metrics only, on PB_<NAME>_PORT; no relay where "
        "PB_<NAME>_RELAY_PROCESS=true)",
    )
    commands.add_parser(
        "relay",
        help="run the service's outbox relay alone (health, readiness and metrics only, on "
        "PB_<NAME>_PORT), beside processes started with PB_<NAME>_RELAY_PROCESS=true",
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
    letters = commands.add_parser(
        "dead-letters", help="count unresolved dead letters per consumer; list or re-drive them"
    )
    letters.add_argument("--list", action="store_true", help="list them, newest first")
    letters.add_argument("--consumer", help="only this consumer's (with --list)")
    letters.add_argument(
        "--all", action="store_true", help="resolved ones too (with --list; default: open ones)"
    )
    letters.add_argument("--limit", type=int, default=50, help="at most this many (with --list)")
    letter_commands = letters.add_subparsers(dest="letters_command")
    redrive = letter_commands.add_parser(
        "redrive", help="send dead letters back through their consumer, once each"
    )
    redrive.add_argument("ids", nargs="+", type=int, metavar="ID")
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
    if command in ("serve", "worker", "relay"):
        if command == "worker":
            definition.settings.role = "worker"
        elif command == "relay":
            definition.settings.role = "relay"
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
            elif command == "dead-letters" and args.letters_command == "redrive":
                await _redrive(_dead_letters(definition, db), args.ids)
            elif command == "dead-letters" and args.list:
                found = await _dead_letters(definition, db).find(
                    DeadLetterQuery(
                        consumer=args.consumer,
                        resolved=None if args.all else False,
                        limit=args.limit,
                    )
                )
                for view in found:
                    print(_line(view))
                if not found:
                    print("no dead letters")
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


def _dead_letters(definition: ServiceDefinition, db: Database) -> DeadLetters:
    """The service's dead letters with its consumers, built but not started: a re-drive applies
    through them in this process, on the same store as the running service (its inbox decides
    what was applied already; the running relay publishes what the handlers record)."""
    settings = definition.settings
    link = BrokerLink(settings)  # never started: a re-drive publishes nothing
    metrics = ServiceMetrics(settings.service_name)
    tracer = trace.get_tracer(f"pb.{settings.service_name}")
    consumers = [
        InboxConsumer(spec, db, link, settings, metrics, tracer, definition.unit_of_work)
        for spec in definition.consumers
    ]
    return DeadLetters(db, consumers)


def _line(view: DeadLetterView) -> str:
    state = f"resolved {view.resolved_at.isoformat()}" if view.resolved_at else "open"
    redriven = f", re-driven {view.redrives}x ({view.redrive_outcome})" if view.redrives else ""
    return (
        f"{view.id}\t{view.consumer}\t{view.event_type or '-'}\t{view.event_id or '-'}\t"
        f"seq {view.stream_sequence}\t{view.deliveries} deliveries\t"
        f"failed {view.failed_at.isoformat()}\t{state}{redriven}\t{view.reason}"
    )


async def _redrive(letters: DeadLetters, ids: list[int]) -> None:
    failed = False
    for result in await letters.redrive_many(ids):
        print(f"{result.id}: {result.outcome}" + (f": {result.reason}" if result.reason else ""))
        failed = failed or result.outcome not in ("applied", "already_applied")
    if failed:
        raise SystemExit(1)
