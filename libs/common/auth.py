"""Bearer tokens (signed JWT) with scopes and a region, and the FastAPI dependency that checks them.

A caller sees and changes only data inside its region's subtree: the region code in its token is
a prefix of every division code it may touch.
"""

from __future__ import annotations

import argparse
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


class TokenService:
    def __init__(self, secret: str, issuer: str) -> None:
        self._secret = secret
        self._issuer = issuer

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenService:
        return cls(settings.auth_secret.get_secret_value(), settings.auth_issuer)

    def issue(
        self,
        *,
        subject: str,
        region_code: str,
        scopes: tuple[str, ...] | list[str] = ALL_SCOPES,
        lifetime: timedelta = timedelta(hours=12),
    ) -> str:
        now = datetime.now(UTC)
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
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": ["sub", "exp", "iss", "region"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token is not valid: {exc}") from exc
        try:
            region = canonical_region_code(str(claims["region"]))
        except InvalidCode as exc:
            raise Unauthorized("the token's region is not a division code") from exc
        return Principal(
            subject=str(claims["sub"]),
            region_code=region,
            scopes=frozenset(str(claims.get("scope", "")).split()),
        )


_bearer = HTTPBearer(auto_error=False)


def _tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    return _tokens(request).verify(credentials.credentials)


class Scope:
    """A dependency that admits callers holding `scope` (or admin): `Depends(Scope("x:read"))`."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    async def __call__(
        self, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if self.scope not in principal.scopes and ADMIN_SCOPE not in principal.scopes:
            raise Forbidden(f"the token lacks the scope {self.scope}")
        return principal


def main() -> None:
    """`python -m libs.common.auth --region 140212`: print a development token."""
    parser = argparse.ArgumentParser(description="Print a development bearer token.")
    parser.add_argument("--region", required=True, help="division code the token answers for")
    parser.add_argument("--subject", default="developer")
    parser.add_argument("--scopes", default=" ".join(ALL_SCOPES))
    parser.add_argument("--hours", type=float, default=12.0)
    args = parser.parse_args()
    tokens = TokenService.from_settings(ServiceSettings())
    print(
        tokens.issue(
            subject=args.subject,
            region_code=args.region,
            scopes=args.scopes.split(),
            lifetime=timedelta(hours=args.hours),
        )
    )


if __name__ == "__main__":
    main()
