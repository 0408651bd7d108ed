"""Bearer tokens and region scope."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from libs.common.auth import Principal, Scope, TokenService
from libs.common.problems import Forbidden, NotFound, Unauthorized

tokens = TokenService("a-test-secret-that-is-long-enough-0123", "pb-test")


def test_a_token_round_trips_with_canonical_region_and_scopes() -> None:
    token = tokens.issue(subject="u1", region_code="140212000000", scopes=["registry:read"])
    principal = tokens.verify(token)
    assert principal == Principal("u1", "140212", frozenset({"registry:read"}))


@pytest.mark.parametrize(
    ("region", "inside"),
    [
        ("140212", True),
        ("140212101", True),
        ("140212101203", True),
        ("140211", False),
        ("14", False),
        ("1402", False),
        ("not-a-code", False),
    ],
)
def test_a_principal_covers_its_subtree_only(region: str, inside: bool) -> None:
    principal = Principal("u1", "140212", frozenset())
    assert principal.covers(region) is inside


def test_outside_the_region_is_403_when_named_and_404_when_found_by_id() -> None:
    principal = Principal("u1", "140212", frozenset())
    with pytest.raises(Forbidden):
        principal.ensure_covers("140211")
    with pytest.raises(NotFound):
        principal.ensure_visible("140211101", "organisation")
    principal.ensure_covers("140212101")


def test_expired_forged_and_foreign_tokens_are_refused() -> None:
    expired = tokens.issue(subject="u", region_code="14", lifetime=timedelta(seconds=-1))
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(expired)
    forged = TokenService("another-secret-that-is-long-enough-99", "pb-test").issue(
        subject="u", region_code="14"
    )
    with pytest.raises(Unauthorized):
        tokens.verify(forged)
    other_issuer = TokenService("a-test-secret-that-is-long-enough-0123", "elsewhere").issue(
        subject="u", region_code="14"
    )
    with pytest.raises(Unauthorized):
        tokens.verify(other_issuer)
    none_alg = jwt.encode(
        {"sub": "u", "region": "14", "iss": "pb-test", "exp": 4_000_000_000},
        key="",
        algorithm="none",
    )
    with pytest.raises(Unauthorized):
        tokens.verify(none_alg)


def test_a_verified_token_is_remembered_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    service = TokenService("a-test-secret-that-is-long-enough-0123", "pb-test")
    token = service.issue(subject="u", region_code="14", lifetime=timedelta(minutes=5))
    first = service.verify(token)
    assert service.verify(token) is first  # remembered, not decoded again
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(Unauthorized, match="signature"):
        service.verify(tampered)  # another text: checked in full
    later = time.time() + 301
    monkeypatch.setattr("libs.common.auth.time.time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        service.verify(token)


def test_remembered_tokens_are_bounded() -> None:
    service = TokenService("a-test-secret-that-is-long-enough-0123", "pb-test")
    service.REMEMBERED = 3
    issued = [service.issue(subject=f"u{n}", region_code="14") for n in range(5)]
    for token in issued:
        service.verify(token)
    assert [service.verify(token).subject for token in issued] == [f"u{n}" for n in range(5)]
    assert len(service._verified) == 3


def test_a_token_without_a_valid_region_is_refused() -> None:
    now = int(time.time())
    bad = jwt.encode(
        {"sub": "u", "region": "99", "iss": "pb-test", "iat": now, "exp": now + 60},
        "a-test-secret-that-is-long-enough-0123",
        algorithm="HS256",
    )
    with pytest.raises(Unauthorized, match="region"):
        tokens.verify(bad)


SECRET = "a-test-secret-that-is-long-enough-0123"


def _signed(**claims: object) -> str:
    return jwt.encode({"sub": "u", "region": "14", "iss": "pb-test", **claims}, SECRET, "HS256")


def test_a_token_lives_at_most_the_configured_lifetime() -> None:
    now = int(time.time())
    hundred_years = _signed(iat=now, exp=now + 100 * 365 * 86400)
    with pytest.raises(Unauthorized, match="longer than the 12 hours allowed"):
        tokens.verify(hundred_years)
    # backdated iat cannot stretch it: exp - now counts as well as exp - iat
    backdated = _signed(iat=now - 3600, exp=now + 13 * 3600)
    with pytest.raises(Unauthorized, match="longer than"):
        tokens.verify(backdated)
    assert tokens.verify(_signed(iat=now, exp=now + 12 * 3600)).subject == "u"
    shorter = TokenService(SECRET, "pb-test", max_lifetime=timedelta(hours=1))
    with pytest.raises(Unauthorized, match="1 hours"):
        shorter.verify(_signed(iat=now, exp=now + 2 * 3600))


def test_a_token_without_iat_or_issued_in_the_future_is_refused() -> None:
    now = int(time.time())
    with pytest.raises(Unauthorized, match="lacks the iat claim"):
        tokens.verify(_signed(exp=now + 60))
    with pytest.raises(Unauthorized, match="future"):
        tokens.verify(_signed(iat=now + 600, exp=now + 1200))


def test_issuing_a_longer_token_than_allowed_is_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        tokens.issue(subject="u", region_code="14", lifetime=timedelta(hours=13))
    issued = jwt.decode(
        tokens.issue(subject="u", region_code="14"), options={"verify_signature": False}
    )
    assert issued["exp"] - issued["iat"] == 12 * 3600


def test_the_401_detail_is_ours_not_the_jwt_librarys() -> None:
    now = int(time.time())
    wrong_key = jwt.encode(
        {"sub": "u", "region": "14", "iss": "pb-test", "iat": now, "exp": now + 60},
        "another-secret-that-is-long-enough-99",
        "HS256",
    )
    cases = {
        "not.a.token": "not a valid bearer token",
        wrong_key: "signature does not verify",
        _signed(iat=now, exp=now + 60, iss="elsewhere"): "another issuer",
    }
    for token, words in cases.items():
        with pytest.raises(Unauthorized) as refused:
            tokens.verify(token)
        assert refused.value.detail == f"the token {words}" or words in refused.value.detail
        challenge = refused.value.challenge()
        assert challenge.startswith('Bearer error="invalid_token", error_description="the token')
        # PyJWT's own words ("Signature verification failed", "Invalid issuer", ...) never leak
        for library_text in ("Signature verification", "Invalid issuer", "Not enough segments"):
            assert library_text not in refused.value.detail


async def test_admin_is_a_permission_of_its_own_not_every_scope() -> None:
    admin_only = Principal("u", "14", frozenset({"admin"}))
    with pytest.raises(Forbidden, match="registry:read"):
        await Scope("registry:read")(admin_only)
    assert await Scope("admin")(admin_only) is admin_only
    reader = Principal("u", "14", frozenset({"registry:read"}))
    with pytest.raises(Forbidden, match="admin"):
        await Scope("admin")(reader)


def test_an_issued_at_in_the_past_is_kept_as_given() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    claims = jwt.decode(
        tokens.issue(subject="u", region_code="14", issued_at=at, lifetime=timedelta(hours=1)),
        options={"verify_signature": False},
    )
    assert claims["iat"] == int(at.timestamp())
