"""Bearer tokens (signed JWT) with scopes and a region, and the FastAPI dependency that checks them.

A caller sees and changes only data inside its region's subtree: the region code in its token is
a prefix of every division code it may touch.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol, TypeVar

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.common.problems import Forbidden, NotFound, Unauthorized
from libs.common.settings import ServiceSettings
from libs.common.validators import InvalidCode, canonical_region_code, is_within


class InRegion(Protocol):
    """Anything kept in a region: an organisation, a station, a member, ..."""

    @property
    def region_code(self) -> str: ...


R = TypeVar("R", bound=InRegion)

ALGORITHM = "HS256"
ADMIN_SCOPE = "admin"
#: Every scope the platform knows; `make token` grants them all.
ALL_SCOPES = (
    "registry:read",
    "registry:write",
    "coverage:read",
    "coverage:write",
    "stations:read",
    "stations:write",
    "training:read",
    "training:write",
    "webhooks:manage",
    ADMIN_SCOPE,
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a subject, the region it answers for, and what it may do."""

    subject: str
    region_code: str
    scopes: frozenset[str]

    def covers(self, region_code: str) -> bool:
        try:
            return is_within(region_code, self.region_code)
        except InvalidCode:
            return False

    def ensure_covers(self, region_code: str) -> None:
        """For a region the caller names itself: outside its subtree is a 403."""
        if not self.covers(region_code):
            raise Forbidden(f"region {region_code} is outside your region {self.region_code}")

    def ensure_visible(self, region_code: str, what: str) -> None:
        """For a resource found by id: outside the subtree it does not exist for this caller."""
        if not self.covers(region_code):
            raise NotFound(f"{what} not found")

    def visible(self, found: R | None, what: str) -> R:
        """A resource looked up by id, if it exists for this caller: a missing one and one
        outside the caller's subtree are the same 404 (`{what} not found`)."""
        if found is None:
            raise NotFound(f"{what} not found")
        self.ensure_visible(found.region_code, what)
        return found


#: The lifetime a token may have when no setting says otherwise.
DEFAULT_MAX_LIFETIME = timedelta(hours=12)


class TokenService:
    """Issues and verifies bearer tokens. A token lives at most `max_lifetime` (`exp - iat`,
    and `exp - now`): a stolen token is useful for hours, never for years."""

    #: Verified tokens remembered (the oldest forgotten first): a client sends one token with
    #: each of its requests until it expires, and checking its signature and claims again cost
    #: about 0.3-0.6 ms a request, the same work each time.
    REMEMBERED = 1024

    def __init__(
        self, secret: str, issuer: str, *, max_lifetime: timedelta = DEFAULT_MAX_LIFETIME
    ) -> None:
        self._secret = secret
        self._issuer = issuer
        self.max_lifetime = max_lifetime
        # token -> (its caller, its exp): see `verify`
        self._verified: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenService:
        return cls(
            settings.auth_secret.get_secret_value(),
            settings.auth_issuer,
            max_lifetime=timedelta(hours=settings.auth_token_max_hours),
        )

    def issue(
        self,
        *,
        subject: str,
        region_code: str,
        scopes: tuple[str, ...] | list[str] = ALL_SCOPES,
        lifetime: timedelta | None = None,
        issued_at: datetime | None = None,
    ) -> str:
        """A signed token; `lifetime` defaults to the longest allowed and may not exceed it."""
        lifetime = self.max_lifetime if lifetime is None else lifetime
        if lifetime > self.max_lifetime:
            hours = self.max_lifetime.total_seconds() / 3600
            raise ValueError(f"a token may live at most {hours:g} hours (PB_AUTH_TOKEN_MAX_HOURS)")
        now = issued_at or datetime.now(UTC)
        claims = {
            "sub": subject,
            "region": canonical_region_code(region_code),
            "scope": " ".join(scopes),
            "iss": self._issuer,
            "iat": now,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        """The caller a token names, or a 401 in our own words (the library's text can quote
        the token's claims and says nothing a client can act on).

        A token verified before is known by its whole text (signature included) until its
        `exp`; a refused one is checked afresh each time."""
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, expires = remembered
            if time.time() < expires:
                return principal
            del self._verified[token]
            raise Unauthorized("the token has expired")
        principal, expires = self._check(token)
        if len(self._verified) >= self.REMEMBERED:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, expires)
        return principal

    def _check(self, token: str) -> tuple[Principal, float]:
        """The caller a token names and when it expires (epoch seconds), or a 401."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": ["sub", "exp", "iat", "iss", "region"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"the token lacks the {exc.claim} claim") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("the token was issued by another issuer") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("the token is issued in the future") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("the token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("the token is not a valid bearer token") from exc
        self._check_lifetime(claims)
        try:
            region = canonical_region_code(str(claims["region"]))
        except InvalidCode as exc:
            raise Unauthorized("the token's region is not a division code") from exc
        principal = Principal(
            subject=str(claims["sub"]),
            region_code=region,
            scopes=frozenset(str(claims.get("scope", "")).split()),
        )
        return principal, float(str(claims["exp"]))

    def _check_lifetime(self, claims: dict[str, object]) -> None:
        # PyJWT has checked both read as numbers, exp not past and iat not in the future
        try:
            issued, expires = float(str(claims["iat"])), float(str(claims["exp"]))
        except ValueError as exc:
            raise Unauthorized("the token's iat or exp is not a time") from exc
        longest = self.max_lifetime.total_seconds()
        now = datetime.now(UTC).timestamp()
        if expires - issued > longest or expires - now > longest:
            hours = f"{longest / 3600:g}"
            raise Unauthorized(f"the token lives longer than the {hours} hours allowed")


_bearer = HTTPBearer(auto_error=False)


def _tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required", invalid_token=False)
    return _tokens(request).verify(credentials.credentials)


class Scope:
    """A dependency that admits callers holding `scope`: `Depends(Scope("x:read"))`.

    `admin` is a permission of its own (reading the audit trail, taking snapshots), not a
    superset: an admin token without `x:read` cannot read x."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    async def __call__(
        self, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if self.scope not in principal.scopes:
            raise Forbidden(f"the token lacks the scope {self.scope}")
        return principal


def main() -> None:
    """`python -m libs.common.auth --region 140212`: print a development token."""
    parser = argparse.ArgumentParser(description="Print a development bearer token.")
    parser.add_argument("--region", required=True, help="division code the token answers for")
    parser.add_argument("--subject", default="developer")
    parser.add_argument("--scopes", default=" ".join(ALL_SCOPES))
    parser.add_argument(
        "--hours", type=float, default=None, help="lifetime (default and most: the setting)"
    )
    args = parser.parse_args()
    tokens = TokenService.from_settings(ServiceSettings())
    lifetime = None if args.hours is None else timedelta(hours=args.hours)
    try:
        token = tokens.issue(
            subject=args.subject,
            region_code=args.region,
            scopes=args.scopes.split(),
            lifetime=lifetime,
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(token)


if __name__ == "__main__":
    main()
