"""Bearer tokens and region scope."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from libs.common.auth import Principal, TokenService
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


def test_a_token_without_a_valid_region_is_refused() -> None:
    bad = jwt.encode(
        {"sub": "u", "region": "99", "iss": "pb-test", "exp": 4_000_000_000},
        "a-test-secret-that-is-long-enough-0123",
        algorithm="HS256",
    )
    with pytest.raises(Unauthorized, match="region"):
        tokens.verify(bad)
