"""A webhook subscription and its rules: which events (by type or family), which region, which
target, which secret. Plain Python: the store, the API and the delivery worker build on it."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from libs.common.refusals import Invalid, NotFound
from libs.common.validators import InvalidCode, is_within

#: Standard Webhooks: a secret is `whsec_` and the base64 of its bytes.
SECRET_PREFIX = "whsec_"
#: Bytes of a generated secret (the specification asks for 24 to 64).
SECRET_BYTES = 32
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
#: A wildcard event type: every type of a family (`pb.registry.organization.*`) or of the service
#: (`pb.registry.*`).
WILDCARD = "*"


#: What a delivery carries by default: the event itself. A service may offer other payloads
#: built from the event (`ServiceDefinition.webhook_payloads`), such as the registry's
#: `provincial_profile`.
EVENT_PAYLOAD = "event"


class SubscriptionNotFound(NotFound):
    """No such webhook subscription (or not for this caller)."""


@dataclass(frozen=True)
class Subscription:
    """One subscriber's standing order: the events of `event_types` whose `region_code` lies
    within `region_code` (None: every event, with or without a region), POSTed to `url`."""

    id: str
    event_types: tuple[str, ...]
    region_code: str | None
    url: str
    active: bool
    #: Deliveries start with the events stored from this moment (creation, or a replay).
    start_at: datetime
    #: Bumped by each replay: the delivery consumer is made again from `start_at`.
    generation: int
    version: int
    created_at: datetime
    updated_at: datetime
    #: `event`, or a payload the service builds from each event (its name).
    payload: str = EVENT_PAYLOAD

    @property
    def consumer_name(self) -> str:
        """The durable JetStream consumer that feeds this subscription."""
        return consumer_name(self.id)

    def takes(self, event_type: str) -> bool:
        """Whether the subscription asks for `event_type` (by name or by a wildcard)."""
        return event_type in self.event_types or any(
            covers(w, event_type) for w in self.event_types
        )

    def read_types(self, parts: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
        """The event types its consumer reads: those it asks for, and each event type that
        carries some of them as parts (`parts`: type -> the types it carries) without being
        asked for itself; the delivery sends such an event's parts one by one."""
        carriers = [
            t
            for t, carried in parts.items()
            if not self.takes(t) and any(self.takes(c) for c in carried)
        ]
        return (*self.event_types, *sorted(carriers))

    def wants(self, event_region: str | None) -> bool:
        """Whether an event in `event_region` (None: an event without a region) is delivered."""
        if self.region_code is None:
            return True
        if event_region is None:
            return False
        try:
            return is_within(event_region, self.region_code)
        except InvalidCode:
            return False

    def replayed_from(self, start_at: datetime, now: datetime) -> Subscription:
        """Delivered again from `start_at`: the next generation of its consumer."""
        if start_at.tzinfo is None:
            raise Invalid("from", "needs a time zone (e.g. 2026-11-30T08:00:00Z)")
        if start_at > now:
            raise Invalid("from", "lies in the future")
        return replace(
            self,
            start_at=start_at,
            generation=self.generation + 1,
            version=self.version + 1,
            updated_at=now,
        )


def consumer_name(subscription_id: str) -> str:
    return f"webhook-{subscription_id}"


def subscription_of_consumer(name: str) -> str | None:
    """The subscription id a consumer name belongs to, or None for any other consumer."""
    prefix = consumer_name("")
    return name[len(prefix) :] if name.startswith(prefix) else None


def event_types_of(requested: Iterable[str], service: str, known: Iterable[str]) -> tuple[str, ...]:
    """The event types a subscription asks for, checked against the service's catalogue
    (`known`): exact versioned types (`pb.registry.organization.registered.v1`) or wildcards by
    family (`pb.registry.organization.*`) or for the whole service (`pb.registry.*`).

    Sorted, without repeats and without what a wildcard in the list already covers."""
    known = sorted(known)
    space = f"pb.{service}."
    chosen: set[str] = set()
    for index, item in enumerate(requested):
        field = f"event_types.{index}"
        if not item.startswith(space):
            raise Invalid(field, f"not an event type of this service (pb.{service}.…)")
        if item.endswith(f".{WILDCARD}"):
            family = item[: -len(WILDCARD)]
            if WILDCARD in family or family.count(".") > 3:
                raise Invalid(field, "a wildcard ends pb.<service>.* or pb.<service>.<family>.*")
            if not any(t.startswith(family) for t in known):
                raise Invalid(field, "no event type of this service is in this family")
        elif item not in known:
            raise Invalid(field, "not an event type of this service (see docs/events)")
        chosen.add(item)
    if not chosen:
        raise Invalid("event_types", "name at least one event type or family")
    return tuple(sorted(t for t in chosen if not any(covers(w, t) for w in chosen if w != t)))


def covers(wildcard: str, event_type: str) -> bool:
    """Whether the wildcard `wildcard` takes in `event_type` (itself a type or a wildcard)."""
    return wildcard.endswith(f".{WILDCARD}") and event_type.startswith(wildcard[:-1])


def filter_subjects(event_types: Iterable[str]) -> list[str]:
    """The NATS subjects of a subscription's types: a wildcard takes every deeper token (`>`)."""
    return sorted(t[:-1] + ">" if t.endswith(f".{WILDCARD}") else t for t in event_types)


def new_secret() -> str:
    """A fresh signing secret, as Standard Webhooks writes it: `whsec_` + base64 of 32 bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The key bytes of a `whsec_` secret; `Invalid` when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise Invalid("secret", f"starts with {SECRET_PREFIX} (Standard Webhooks)")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("secret", f"is {SECRET_PREFIX} and base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise Invalid("secret", f"holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes")
    return key


@dataclass(frozen=True)
class Target:
    """A checked target URL: its host, and whether that host is a name to resolve."""

    url: str
    host: str
    port: int
    is_name: bool


def target_of(url: str, *, allow_local: bool) -> Target:
    """Check a target URL: https (or http to a loopback host where `allow_local` allows), no
    credentials or fragment in it, and an address literal only when it is public (or local where
    allowed). A host name is checked once resolved: `check_addresses`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid("url", "is not a URL") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"https", "http"} or not host:
        raise Invalid("url", "is an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise Invalid("url", "carries no credentials (the signature authenticates)")
    if parts.fragment:
        raise Invalid("url", "has no fragment")
    address = _address(host)
    if parts.scheme == "http":
        loopback = host == "localhost" or (address is not None and address.is_loopback)
        if not (allow_local and loopback):
            raise Invalid("url", "is an https:// URL (http only to a loopback host in development)")
    if address is not None:
        check_addresses([str(address)], allow_local=allow_local)
    elif host == "localhost" and not allow_local:
        raise Invalid("url", "points at a private or local address")
    default = 443 if parts.scheme == "https" else 80
    return Target(url=url, host=host, port=port or default, is_name=address is None)


def check_addresses(addresses: Iterable[str], *, allow_local: bool) -> None:
    """Refuse a target whose host resolves to a loopback, private, link-local, multicast or
    reserved address (server-side request forgery), unless `allow_local`."""
    if allow_local:
        return
    for text in addresses:
        address = _address(text.split("%")[0])
        if address is None or not address.is_global:
            raise Invalid("url", "points at a private or local address")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        found = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found
