"""What coverage knows of one organisation, and the rules that say whether it is covered.

These are the definitions both rates, the gap list and the roll-ups share (see DOMAIN.md,
"The two coverage rates"); keep every reading of "in scope" and "covered" here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Literal

from libs.common.refusals import NotFound

#: Named denominators. `with_members` is the default for organisation coverage, `all_managed`
#: for work coverage; `three_haves` is also reported. None of them holds a closed (注销) or revoked
#: (吊销) organisation; only `all_registered` holds a suspended one (停业: still in the ledger,
#: not operating).
Scope = Literal["with_members", "three_haves", "all_managed", "all_registered"]
SCOPES: tuple[Scope, ...] = ("with_members", "three_haves", "all_managed", "all_registered")
DEFAULT_ORGANIZATION_SCOPE: Literal["with_members"] = "with_members"
DEFAULT_WORK_SCOPE: Literal["all_managed"] = "all_managed"

BranchKind = Literal["standalone", "joint", "temporary"]
#: The branches that give organisation coverage: an organisation's own or a joint one. A
#: temporary Party organisation (临时党组织) is its own figure (see `CoverageFacts.temporary`).
ORGANIZATION_BRANCH_KINDS: frozenset[str] = frozenset({"standalone", "joint"})

#: Operating status (经营状态) as the registry reports it.
OperatingStatus = Literal["operating", "suspended", "closed", "revoked"]
#: Statuses that take an organisation out of every scope, the gap list and the proposals.
GONE_STATUSES: frozenset[str] = frozenset({"closed", "revoked"})

#: Size bands by staff count (lower bound inclusive); unknown staff count is its own band.
SIZE_BANDS: tuple[tuple[str, int], ...] = (("300+", 300), ("50-299", 50), ("10-49", 10), ("1-9", 0))
UNKNOWN_SIZE = "unknown"


@lru_cache(maxsize=4096)
def size_band(staff_count: int | None) -> str:
    """The size band of a staff count (cached: it runs per organisation written)."""
    if staff_count is None:
        return UNKNOWN_SIZE
    return next(band for band, lower in SIZE_BANDS if staff_count >= lower)


class UnknownOrganization(NotFound):
    """No registry event about this organisation has reached coverage."""


@dataclass(frozen=True)
class CoverageFacts:
    """One organisation as the coverage projection holds it."""

    organization_id: str
    region_code: str
    kind: str
    industry_code: str | None = None
    staff_count: int | None = None
    area_ids: tuple[str, ...] = ()
    managed: bool = True  # in the ledger (not deregistered)
    three_haves: bool | None = None  # 三有; None: not known (never counted as true or false)
    operating_status: str = "operating"
    no_branch_reason: str | None = None  # 未建党组织原因 as the office recorded it, if known
    full_members: int = 0
    probationary_members: int = 0
    ledger_complete: bool = False
    branch_id: str | None = None
    branch_kind: BranchKind | None = None
    instructor_count: int = 0
    mass_organization_count: int = 0
    name: str = ""
    credit_code: str = ""
    latitude: float | None = None
    longitude: float | None = None
    branch_formed_on: date | None = field(default=None, compare=False)
    #: Its covering branch kept its routine (三会一课) in the last full quarter (see
    #: `domain/routine.py`); true when nothing says otherwise.
    branch_kept: bool = True

    @property
    def has_members(self) -> bool:
        return self.full_members + self.probationary_members > 0

    @property
    def counted(self) -> bool:
        """In the ledger and not closed or revoked: in some scope (`all_registered` at least)."""
        return self.managed and self.operating_status not in GONE_STATUSES

    @property
    def organization_covered(self) -> bool:
        """A Party organisation of its own or a joint one covers it (组织覆盖); a temporary one
        does not (it is reported apart, `temporary`)."""
        return self.managed and self.branch_kind in ORGANIZATION_BRANCH_KINDS

    @property
    def effective(self) -> bool:
        """Organisation coverage that is effective (有效覆盖): its own or joint branch kept its
        routine in the last full quarter."""
        return self.organization_covered and self.branch_kept

    @property
    def standalone(self) -> bool:
        """Covered by a branch of its own (单独组建)."""
        return self.organization_covered and self.branch_kind == "standalone"

    @property
    def temporary(self) -> bool:
        """Reached by a temporary Party organisation (临时党组织) and by no branch of its own or
        joint one: its own figure, never organisation coverage."""
        return self.managed and self.branch_kind == "temporary"

    @property
    def work_covered(self) -> bool:
        """A Party organisation (a temporary one included: it is a Party organisation doing Party
        work there), an instructor or a mass organisation reaches it (工作覆盖)."""
        return self.managed and (
            self.branch_id is not None
            or self.instructor_count > 0
            or self.mass_organization_count > 0
        )

    def in_scope(self, scope: Scope) -> bool:
        """Whether the organisation is in the named denominator (see `scopes_holding`)."""
        return scope in self.scopes

    @property
    def scopes(self) -> frozenset[Scope]:
        """The named denominators the organisation is in."""
        return scopes_holding(
            self.counted, self.operating_status, self.has_members, self.three_haves
        )


@lru_cache(maxsize=64)
def scopes_holding(
    counted: bool, operating_status: str, has_members: bool, three_haves: bool | None
) -> frozenset[Scope]:
    """The scopes an organisation is in: none when deregistered, closed or revoked (`counted`
    false); a suspended one only `all_registered`; `three_haves` only when 三有 is known true
    (unknown is never counted as true or false). Cached: it runs per organisation per batch."""
    if not counted:
        return frozenset()
    if operating_status == "suspended":
        return frozenset({"all_registered"})
    held: set[Scope] = {"all_managed", "all_registered"}
    if has_members:
        held.add("with_members")
    if three_haves is True:
        held.add("three_haves")
    return frozenset(held)
