"""Webhook signing and subscription rules, without a store: signatures checked by the
`standardwebhooks` package (the specification's reference verifier), sealed secrets, event types
and wildcards, region filters, target URLs (SSRF)."""

from __future__ import annotations

import base64
import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from libs.common.events import Envelope
from libs.common.refusals import Invalid
from libs.common.webhooks import signing
from libs.common.webhooks.delivery import carried_events, structured
from libs.common.webhooks.subscriptions import (
    Subscription,
    check_addresses,
    event_types_of,
    filter_subjects,
    new_secret,
    secret_bytes,
    target_of,
)
from services.registry.events import (
    OrganizationImportedV1,
    OrganizationRegisteredV1,
    OrganizationUpdatedV1,
)

KNOWN = [
    "pb.registry.organization.registered.v1",
    "pb.registry.organization.updated.v1",
    "pb.registry.branch.formed.v1",
]


def envelope() -> Envelope:
    return Envelope(
        id="0b5a3c1e-1111-4d7e-9d55-3a0f0e2b7c01",
        source="/pb/registry",
        type="pb.registry.organization.registered.v1",
        subject="org-1",
        time=datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
        data=b'{"organization_id":"org-1","name":"\xe5\xa4\xa7\xe5\x90\x8c"}',
    )


def test_a_signature_verifies_with_the_reference_verifier() -> None:
    secret = new_secret()
    body = structured(envelope(), {"organization_id": "org-1", "name": "大同"})
    headers = signing.headers(secret_bytes(secret), "msg-1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers)["data"]["name"] == "大同"


def test_a_changed_body_id_timestamp_or_secret_does_not_verify() -> None:
    secret = new_secret()
    now = int(time.time())
    body = b'{"a":1}'
    headers = signing.headers(secret_bytes(secret), "msg-1", now, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "msg-2"})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-timestamp": str(now + 1)})
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    old = signing.headers(secret_bytes(secret), "msg-1", now - 600, body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, old)


def test_the_signature_is_the_specifications_hmac() -> None:
    # the example secret and message of the Standard Webhooks specification
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert (
        signing.signature(
            secret_bytes_any(secret), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body
        )
        == expected
    )


def secret_bytes_any(secret: str) -> bytes:
    """The bytes of a secret shorter than our minimum (the specification's example)."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def test_the_structured_event_carries_the_cloudevents_attributes() -> None:
    body = structured(envelope(), {"organization_id": "org-1"})
    assert body.startswith(b'{"specversion":"1.0","id":"0b5a3c1e-')
    assert b'"time":"2026-11-30T08:00:00+00:00"' in body
    assert b'"datacontenttype":"application/json","data":{"organization_id":"org-1"}' in body


def test_a_sealed_secret_opens_only_with_its_key_and_unaltered() -> None:
    secret = new_secret()
    sealed = signing.seal(b"key-one", secret)
    assert secret not in sealed
    assert signing.seal(b"key-one", secret) != sealed  # a fresh nonce each time
    assert signing.unseal(b"key-one", sealed) == secret
    with pytest.raises(signing.UnsealError):
        signing.unseal(b"key-two", sealed)
    raw = bytearray(base64.b64decode(sealed.partition(".")[2]))
    raw[20] ^= 1
    with pytest.raises(signing.UnsealError):
        signing.unseal(b"key-one", "s1." + base64.b64encode(bytes(raw)).decode())
    with pytest.raises(signing.UnsealError):
        signing.unseal(b"key-one", "not sealed")


def test_secrets_are_whsec_and_base64_of_24_to_64_bytes() -> None:
    assert len(secret_bytes(new_secret())) == 32
    for bad, reason in [
        ("abc", "starts with whsec_"),
        ("whsec_***", "base64"),
        ("whsec_" + base64.b64encode(b"x" * 8).decode(), "24 to 64 bytes"),
    ]:
        with pytest.raises(Invalid, match="secret") as caught:
            secret_bytes(bad)
        assert reason in caught.value.reason


def test_event_types_are_the_services_own_with_family_wildcards() -> None:
    types = event_types_of(
        [
            "pb.registry.organization.registered.v1",
            "pb.registry.organization.*",
            "pb.registry.branch.formed.v1",
            "pb.registry.branch.formed.v1",
        ],
        "registry",
        KNOWN,
    )
    assert types == ("pb.registry.branch.formed.v1", "pb.registry.organization.*")
    assert filter_subjects(types) == ["pb.registry.branch.formed.v1", "pb.registry.organization.>"]
    assert event_types_of(["pb.registry.*", "pb.registry.branch.*"], "registry", KNOWN) == (
        "pb.registry.*",
    )
    for bad, at in [
        (["pb.coverage.rates.changed.v1"], "event_types.0"),
        (["pb.registry.organization.registered.v1", "pb.registry.nothing.*"], "event_types.1"),
        (["pb.registry.organization.registered.v9"], "event_types.0"),
        (["pb.registry.organization.registered.*"], "event_types.0"),
        (["pb.registry.*.registered.v1"], "event_types.0"),
        ([], "event_types"),
    ]:
        with pytest.raises(Invalid) as caught:
            event_types_of(bad, "registry", KNOWN)
        assert caught.value.field == at, bad


def subscription(
    region_code: str | None, event_types: tuple[str, ...] = ("pb.registry.*",)
) -> Subscription:
    now = datetime.now(UTC)
    return Subscription(
        id="s",
        event_types=event_types,
        region_code=region_code,
        url="https://example.org/hook",
        active=True,
        start_at=now,
        generation=1,
        version=1,
        created_at=now,
        updated_at=now,
    )


def test_the_region_filter_takes_the_subtree_and_an_unfiltered_one_takes_all() -> None:
    county = subscription("140212")
    assert county.wants("140212101")
    assert county.wants("140212")
    assert not county.wants("140211101")
    assert not county.wants("14")
    assert not county.wants(None)  # an event without a region: unfiltered subscriptions only
    assert not county.wants("not a code")
    everything = subscription(None)
    assert everything.wants(None)
    assert everything.wants("140211101")


def test_a_replay_starts_a_new_generation_from_a_past_time() -> None:
    s = subscription("140212")
    now = datetime.now(UTC)
    replayed = s.replayed_from(now - timedelta(hours=1), now)
    assert (replayed.generation, replayed.version) == (2, 2)
    assert replayed.start_at == now - timedelta(hours=1)
    with pytest.raises(Invalid, match="future"):
        s.replayed_from(now + timedelta(hours=1), now)
    with pytest.raises(Invalid, match="time zone"):
        s.replayed_from(datetime(2026, 11, 30, 8, 0), now)


@pytest.mark.parametrize(
    "url",
    [
        "http://platform.example.org/hook",  # http outside development
        "ftp://platform.example.org/hook",
        "https://user:pw@platform.example.org/hook",
        "https://platform.example.org/hook#x",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://[fd00::1]/hook",
        "https://localhost/hook",
        "https://0.0.0.0/hook",
        "not a url",
        "https://:443/hook",
    ],
)
def test_production_refuses_plain_http_and_private_or_local_targets(url: str) -> None:
    with pytest.raises(Invalid) as caught:
        target_of(url, allow_local=False)
    assert caught.value.field == "url"


def test_production_takes_https_to_a_public_address_or_a_name() -> None:
    assert target_of("https://8.8.8.8/hook", allow_local=False).is_name is False
    found = target_of("https://platform.example.org:8443/hook?x=1", allow_local=False)
    assert (found.host, found.port, found.is_name) == ("platform.example.org", 8443, True)
    with pytest.raises(Invalid):  # what the name resolves to is checked too
        check_addresses(["93.184.215.14", "10.0.0.7"], allow_local=False)
    check_addresses(["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"], allow_local=False)


def test_development_takes_http_to_loopback_only() -> None:
    assert target_of("http://127.0.0.1:8080/hook", allow_local=True).port == 8080
    assert target_of("http://localhost/hook", allow_local=True).port == 80
    assert target_of("https://10.1.2.3/hook", allow_local=True).host == "10.1.2.3"
    with pytest.raises(Invalid):
        target_of("http://10.1.2.3/hook", allow_local=True)
    with pytest.raises(Invalid):
        target_of("http://platform.example.org/hook", allow_local=True)


IMPORTED = "pb.registry.organization.imported.v1"
CARRIED = {
    IMPORTED: ["pb.registry.organization.registered.v1", "pb.registry.organization.updated.v1"]
}


def test_a_subscription_to_a_carried_type_reads_its_carrier_too() -> None:
    registered = subscription(None, ("pb.registry.organization.registered.v1",))
    assert registered.takes("pb.registry.organization.registered.v1")
    assert not registered.takes(IMPORTED)
    assert registered.read_types(CARRIED) == ("pb.registry.organization.registered.v1", IMPORTED)
    family = subscription(None, ("pb.registry.organization.*",))
    assert family.takes(IMPORTED)
    assert family.read_types(CARRIED) == ("pb.registry.organization.*",)  # as it is
    branches = subscription(None, ("pb.registry.branch.formed.v1",))
    assert branches.read_types(CARRIED) == ("pb.registry.branch.formed.v1",)


def test_carried_events_have_their_own_type_subject_and_an_id_kept_across_deliveries() -> None:
    assert OrganizationImportedV1.parts == {
        "registered": OrganizationRegisteredV1,
        "updated": OrganizationUpdatedV1,
    }
    example = OrganizationImportedV1.example()
    assert example is not None
    carrier = envelope()
    events = carried_events(carrier, example, OrganizationImportedV1.parts)
    assert [(e.type, e.subject) for e, _ in events] == [
        ("pb.registry.organization.registered.v1", example["registered"][0]["organization_id"]),
        ("pb.registry.organization.updated.v1", example["updated"][0]["organization_id"]),
    ]
    assert [data for _, data in events] == [example["registered"][0], example["updated"][0]]
    assert all((e.source, e.time) == (carrier.source, carrier.time) for e, _ in events)
    ids = [e.id for e, _ in events]
    assert len(set(ids) | {carrier.id}) == 3
    assert [e.id for e, _ in carried_events(carrier, example, OrganizationImportedV1.parts)] == ids
    other = dataclasses.replace(carrier, id="not-a-uuid")
    again = carried_events(other, example, OrganizationImportedV1.parts)
    assert not {e.id for e, _ in again} & set(ids)
