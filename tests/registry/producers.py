"""Training's and stations' events as their relays publish them, built by hand from the published
schemas (docs/events/schemas/pb.training.member.*.v1.json,
pb.stations.worker.member_declared.v1.json) rather than from the producers' classes, so the
registry's consumer is tested against the contract; publish them with
`tests.coverage.feed.ProducerStream.on(url, "training", "stations")`."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from libs.common.events import Envelope

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)
#: The registry's development identity key (its settings' default), which stations shares.
SHARED_KEY = b"development-only-identity-key-change-me-0123456789"


def keyed_hash(label: str, normalised: str, key: bytes = SHARED_KEY) -> str:
    """HMAC-SHA256 hex of `label NUL value`: what stations sends and the registry keeps, written
    here from the contract, not from either service's code."""
    return hmac.new(key, label.encode() + b"\x00" + normalised.encode(), hashlib.sha256).hexdigest()


def candidate(candidate_id: str, organization_id: str, step: str, **extra: Any) -> Envelope:
    """`pb.training.member.<step>.v1` for a candidate of the organisation."""
    data: dict[str, Any] = {
        "candidate_id": candidate_id,
        "organization_id": organization_id,
        "branch_id": "branch-1",
        "region_code": "140212",
        "membership": "full" if step == "confirmed" else "probationary",
        f"{step}_on": TODAY.isoformat(),
        **extra,
    }
    if step == "admitted":
        data["approved_on"] = TODAY.isoformat()
    return _envelope("training", f"pb.training.member.{step}.v1", candidate_id, data)


def declared(
    worker_id: str, phone: str, *, region_code: str = "140212", id_number: str | None = None
) -> Envelope:
    """`pb.stations.worker.member_declared.v1` of a worker with this phone (and ID number)."""
    data = {
        "worker_id": worker_id,
        "region_code": region_code,
        "community_code": None,
        "match_key": keyed_hash("phone", phone),
        "id_match_key": keyed_hash("id_number", id_number) if id_number else None,
        "declared_on": TODAY.isoformat(),
    }
    return _envelope("stations", "pb.stations.worker.member_declared.v1", worker_id, data)


def _envelope(service: str, type_: str, subject: str, data: dict[str, Any]) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        source=f"/pb/{service}",
        type=type_,
        subject=subject,
        time=NOW,
        data=json.dumps(data).encode(),
    )
