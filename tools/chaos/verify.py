"""After the load and the faults: every consumer's state against the source of truth.

The source of truth is the registry's store (and what the load was told by its API); the
expected figures are computed here from it, never read from the consumer being checked:

* the registry holds exactly the organisations and branches the load filed (none lost, none
  twice), and its stream holds each event of its outbox once;
* each durable consumer applied (its inbox) or dead-lettered, with a reason, every event of the
  types it consumes that its producer's outbox holds;
* coverage's facts are every organisation of the registry at the registry's version, and its
  county roll-ups count what the registry's organisations say (in scope, with members, covered,
  standalone), computed here from the registry's rows;
* training learnt every branch and stations every organisation, at the registry's version;
  stations holds the workers the load registered, and coverage counts each of them once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine

import services.registry.events  # noqa: F401  (registers the registry's events: their parts)
from libs.common.events import catalogue
from libs.common.tables import consumer_positions, dead_letters, inbox, outbox
from services.coverage.store.new_employment import NewEmploymentRepository
from services.coverage.store.tables import organization_facts, rollups
from services.coverage.store.tables import workers as coverage_workers
from services.registry.store.party_tables import branches
from services.registry.store.tables import organizations
from services.stations.store.tables import operators, workers
from services.training.store.tables import branch_routines
from tools.chaos.cluster import Cluster
from tools.chaos.load import COUNTY, Tally
from tools.chaos.watch import Consumer, Watch

GONE = ("closed", "revoked")


@dataclass
class Check:
    """One comparison: what the source of truth says, what the consumer holds."""

    name: str
    expected: int
    found: int
    lost: int = 0
    doubled: int = 0
    note: str = ""


@dataclass
class Verdict:
    checks: list[Check] = field(default_factory=list)
    events: int = 0  # events the producers recorded
    #: the same, an event that carries others (an import's files) counted as those it carries
    announced: int = 0
    deliveries: int = 0  # (event, consumer) pairs checked
    dead_letters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return sum(c.lost for c in self.checks)

    @property
    def doubled(self) -> int:
        return sum(c.doubled for c in self.checks)

    @property
    def dead_letters_without_reason(self) -> int:
        return sum(1 for d in self.dead_letters if not (d["reason"] or "").strip())


@asynccontextmanager
async def _store(url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


def compare_versions(name: str, expected: dict[str, int], found: dict[str, int]) -> Check:
    """Ids at versions: missing or older in `found` is lost, unknown there is doubled."""
    lost = sum(1 for key, version in expected.items() if found.get(key, -1) < version)
    doubled = sum(1 for key in found if key not in expected)
    ahead = sum(1 for key, version in expected.items() if found.get(key, -1) > version)
    note = f"{ahead} ahead of the registry" if ahead else ""
    return Check(name, len(expected), len(found), lost, doubled + ahead, note)


def compare_counts(name: str, expected: int, found: int, note: str = "") -> Check:
    return Check(name, expected, found, max(0, expected - found), max(0, found - expected), note)


async def verify(
    cluster: Cluster, watch: Watch, tally: Tally, jobs: list[dict[str, Any]]
) -> Verdict:
    verdict = Verdict()
    urls = {name: service.database_url for name, service in cluster.services.items()}

    # The source of truth: the registry's store.
    async with _store(urls["registry"]) as registry:
        orgs = (await registry.execute(select(organizations))).mappings().all()
        branch_rows = (await registry.execute(select(branches.c.id, branches.c.version))).all()
    truth_orgs = {row["id"]: int(row["version"]) for row in orgs}
    truth_branches = {str(row.id): int(row.version) for row in branch_rows}

    imported_new = sum(int(job["counts"].get("new", 0)) for job in jobs)
    statuses = Counter(job["status"] for job in jobs)
    verdict.checks.append(
        compare_counts(
            "registry: organisations filed",
            tally.imported_rows + len(tally.organizations),
            len(truth_orgs),
            note=f"imports {dict(statuses)}, {imported_new:,} new rows",
        )
    )
    verdict.checks.append(
        compare_counts("registry: rows imported as new files", tally.imported_rows, imported_new)
    )
    verdict.checks.append(
        compare_counts("registry: branches formed", len(tally.branches), len(truth_branches))
    )

    # Every event of every producer's outbox, and each consumer's inbox and dead letters.
    produced: dict[str, dict[str, str]] = {}
    for producer in {c.producer for c in watch.consumers}:
        async with _store(urls[producer]) as conn:
            rows = (await conn.execute(select(outbox.c.event_id, outbox.c.type))).all()
            verdict.announced += len(rows) + await _carried_beyond_one(conn)
        produced[producer] = {str(r.event_id): str(r.type) for r in rows}
        verdict.events += len(rows)
        held = await watch.stream_messages(f"PB_{producer.upper()}")
        verdict.checks.append(
            compare_counts(f"JetStream: PB_{producer.upper()} messages", len(rows), held or 0)
        )
    for service, url in urls.items():
        async with _store(url) as conn:
            for row in (await conn.execute(select(dead_letters))).mappings().all():
                verdict.dead_letters.append(
                    {
                        "service": service,
                        "consumer": row["consumer"],
                        "event_type": row["event_type"],
                        "reason": row["reason"],
                        "deliveries": row["deliveries"],
                    }
                )
    for consumer in watch.consumers:
        verdict.checks.append(
            await _consumer_check(consumer, urls[consumer.service], produced, watch)
        )
        verdict.deliveries += verdict.checks[-1].expected

    # Coverage: facts per organisation, and the county's roll-ups computed from the registry.
    async with _store(urls["coverage"]) as coverage:
        facts = (
            await coverage.execute(
                select(organization_facts.c.organization_id, organization_facts.c.version)
            )
        ).all()
        sums = (
            await coverage.execute(
                select(
                    func.sum(rollups.c.all_registered_in_scope),
                    func.sum(rollups.c.with_members_in_scope),
                    func.sum(rollups.c.all_registered_covered),
                    func.sum(rollups.c.all_registered_standalone),
                ).where(rollups.c.region_code == COUNTY, rollups.c.area_id == "")
            )
        ).one()
    verdict.checks.append(
        compare_versions(
            "coverage: organisation facts",
            truth_orgs,
            {str(r.organization_id): int(r.version) for r in facts},
        )
    )
    counted = [o for o in orgs if o["status"] == "active" and o["operating_status"] not in GONE]
    operating = [o for o in counted if o["operating_status"] != "suspended"]
    covered = [o for o in counted if o["branch_kind"] in ("standalone", "joint")]
    expected_rollups = {
        "in scope (all registered)": len(counted),
        "in scope (with members)": sum(
            1 for o in operating if o["full_members"] + o["probationary_members"] > 0
        ),
        "covered": len(covered),
        "standalone": sum(1 for o in covered if o["branch_kind"] == "standalone"),
    }
    for (label, expected), found in zip(expected_rollups.items(), sums, strict=True):
        verdict.checks.append(
            compare_counts(f"coverage: county roll-up, {label}", expected, int(found or 0))
        )

    async with _store(urls["training"]) as training:
        learnt = (
            await training.execute(select(branch_routines.c.branch_id, branch_routines.c.version))
        ).all()
    verdict.checks.append(
        compare_versions(
            "training: branches learnt",
            truth_branches,
            {str(r.branch_id): int(r.version) for r in learnt},
        )
    )
    async with _store(urls["stations"]) as stations:
        known = (
            await stations.execute(
                select(operators.c.id, operators.c.version).where(
                    operators.c.kind == "organization"
                )
            )
        ).all()
        registered = {str(r.id): 0 for r in (await stations.execute(select(workers.c.id))).all()}
    async with _store(urls["coverage"]) as coverage:
        workers_learnt = {
            str(r.worker_id): 0
            for r in (await coverage.execute(select(coverage_workers.c.worker_id))).all()
        }
        # the worker's own check (`drifted_days`): the day rows written in the batches that
        # wrote the items, so a crash between the two would show here
        drifted = await NewEmploymentRepository(AsyncSession(bind=coverage)).drifted_days()
    verdict.checks.append(
        compare_counts("stations: workers registered", len(tally.workers), len(registered))
    )
    verdict.checks.append(compare_versions("coverage: workers learnt", registered, workers_learnt))
    verdict.checks.append(
        compare_counts(
            "coverage: new-employment day rows",
            0,
            drifted,
            "province days whose day rows differ from the workers, stations and requests",
        )
    )
    verdict.checks.append(
        compare_versions(
            "stations: organisations learnt",
            truth_orgs,
            {str(r.id): int(r.version) for r in known},
        )
    )
    return verdict


async def _consumer_check(
    consumer: Consumer, url: str, produced: dict[str, dict[str, str]], watch: Watch
) -> Check:
    expected = {
        event_id
        for event_id, event_type in produced[consumer.producer].items()
        if event_type in consumer.event_types
    }
    async with _store(url) as conn:
        if consumer.dedupe == "sequence":  # applied: what its position covers in the stream
            position = (
                await conn.execute(
                    select(consumer_positions.c.last_sequence).where(
                        consumer_positions.c.consumer == consumer.name
                    )
                )
            ).scalar_one_or_none()
            applied = await watch.event_ids(consumer, int(position or 0))
        else:
            applied = {
                str(r.event_id)
                for r in (
                    await conn.execute(
                        select(inbox.c.event_id).where(inbox.c.consumer == consumer.name)
                    )
                ).all()
            }
        dead = {
            str(r.event_id)
            for r in (
                await conn.execute(
                    select(dead_letters.c.event_id).where(dead_letters.c.consumer == consumer.name)
                )
            ).all()
        }
    lost = expected - applied - dead
    unknown = applied - expected
    note = f"{len(dead)} dead-lettered" if dead else ""
    if unknown:
        note += f" {len(unknown)} applied ids not in the producer's outbox"
    # The inbox's key (consumer, event id) holds an id once: doubling shows in the effects
    # (roll-ups, facts) and in the stream, checked apart.
    return Check(
        f"{consumer.name}: events applied",
        len(expected),
        len(applied & expected),
        len(lost),
        len(unknown),
        note.strip(),
    )


async def _carried_beyond_one(conn: AsyncConnection) -> int:
    """How many more events the outbox's carrying events (`IntegrationEvent.parts`) hold than
    their own number: each carries its items, not itself."""
    carriers = catalogue.parts()
    rows = await conn.execute(
        select(outbox.c.type, outbox.c.data).where(outbox.c.type.in_(sorted(carriers)))
    )
    more = 0
    for type_name, data in rows:
        document = json.loads(data)
        more += sum(len(document.get(part) or []) for part in carriers[type_name]) - 1
    return more


def as_json(verdict: Verdict) -> str:
    return json.dumps(
        {
            "events": verdict.events,
            "announced": verdict.announced,
            "deliveries": verdict.deliveries,
            "lost": verdict.lost,
            "doubled": verdict.doubled,
            "checks": [c.__dict__ for c in verdict.checks],
            "dead_letters": verdict.dead_letters,
        },
        ensure_ascii=False,
        indent=2,
    )
