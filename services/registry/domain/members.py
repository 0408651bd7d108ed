"""Members found at organisations (隐形党员): staff lists, the member roster, and member status.

A staff list (name, ID number, phone per person) of an organisation is matched against the roster
an office extracts from the Party-member information system. A person on both is a member at the
organisation, `discovered`; they then declare themselves at work (亮明身份, `declared`) and have
their membership relationship transferred to where they work (组织关系转接, `transferred`). Only a
transferred member counts in the organisation's member counts: until then the relationship, and
the member, belong to the Party organisation elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from libs.common.identity import IdentityKey, mask_name
from libs.common.personal import mask_attributes
from libs.common.refusals import Conflict, NotFound, RuleBroken
from libs.common.validators import InvalidCode
from services.registry.domain.branches import Branch
from services.registry.domain.identity import Person
from services.registry.domain.names import name_key

Membership = Literal["full", "probationary"]
MemberStatus = Literal["discovered", "declared", "transferred", "moved_out"]

#: Which step each status follows: a member moves one step at a time.
NEXT_STATUS: dict[MemberStatus, MemberStatus] = {
    "discovered": "declared",
    "declared": "transferred",
}

#: Column names as offices write them, for staff lists and roster extracts (files).
STAFF_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "姓名"),
    "id_number": ("id_number", "身份证号", "身份证号码", "公民身份号码", "证件号码"),
    "phone": ("phone", "手机号", "手机号码", "联系电话", "电话", "手机"),
}
ROSTER_HEADERS: dict[str, tuple[str, ...]] = {
    "name": STAFF_HEADERS["name"],
    "id_number": STAFF_HEADERS["id_number"],
    "membership": ("membership", "党员类别", "人员类别", "党籍状态", "党员状态"),
    "registered_with": (
        "registered_with",
        "组织关系所在党组织",
        "所在党组织",
        "党组织名称",
        "所在党支部",
    ),
}
REQUIRED_STAFF = ("name", "id_number")
REQUIRED_ROSTER = ("name", "id_number", "membership")

_MEMBERSHIP_WORDS: dict[str, Membership] = {
    "full": "full",
    "正式党员": "full",
    "正式": "full",
    "probationary": "probationary",
    "预备党员": "probationary",
    "预备": "probationary",
}


def parse_membership(raw: str) -> Membership:
    word = raw.strip().lower()
    if word not in _MEMBERSHIP_WORDS:
        raise ValueError("must be full (正式党员) or probationary (预备党员)")
    return _MEMBERSHIP_WORDS[word]


class MemberNotFound(NotFound):
    """No such member at any organisation."""

    def __init__(self, member_id: str) -> None:
        super().__init__("member not found")
        self.member_id = member_id


class StaleMember(Conflict):
    """The member changed while this step was being taken."""

    def __init__(self, member_id: str) -> None:
        super().__init__("the member changed meanwhile; read it again")
        self.member_id = member_id


@dataclass(frozen=True)
class RowError:
    """One rejected value of an uploaded list: where (`people[3].id_number`, `row 5.phone`)."""

    field: str
    reason: str


@dataclass(frozen=True)
class RosterEntry:
    """One person of the roster extract: who, full or probationary, and where registered."""

    person: Person
    membership: Membership
    registered_with: str | None


def read_staff(
    rows: Iterable[tuple[str, Mapping[str, str | None]]], key: IdentityKey
) -> tuple[list[Person], list[RowError], int]:
    """Validate staff rows (each with its place for errors); a person listed twice counts once.

    Returns the people, the errors, and how many rows repeated a person already listed."""
    people: dict[str, Person] = {}
    errors: list[RowError] = []
    repeated = 0
    for where, row in rows:
        person = _person(where, row, key, errors)
        if person is None:
            continue
        if person.id_hash in people:
            repeated += 1
        people[person.id_hash] = person
    return list(people.values()), errors, repeated


def read_roster(
    rows: Iterable[tuple[str, Mapping[str, str | None]]], key: IdentityKey
) -> tuple[list[RosterEntry], list[RowError], int]:
    """Validate roster rows as `read_staff` does, with the membership of each."""
    entries: dict[str, RosterEntry] = {}
    errors: list[RowError] = []
    repeated = 0
    for where, row in rows:
        person = _person(where, row, key, errors)
        membership: Membership | None = None
        try:
            membership = parse_membership(row.get("membership") or "")
        except ValueError as exc:
            errors.append(RowError(f"{where}.membership", str(exc)))
        if person is None or membership is None:
            continue
        if person.id_hash in entries:
            repeated += 1
        registered = (row.get("registered_with") or "").strip() or None
        entries[person.id_hash] = RosterEntry(person, membership, registered)
    return list(entries.values()), errors, repeated


def _person(
    where: str, row: Mapping[str, str | None], key: IdentityKey, errors: list[RowError]
) -> Person | None:
    name = (row.get("name") or "").strip()
    failed = False
    if not name:
        errors.append(RowError(f"{where}.name", "must not be empty"))
        failed = True
    elif len(name) > 100:
        errors.append(RowError(f"{where}.name", "must be at most 100 characters"))
        failed = True
    id_number = row.get("id_number") or ""
    phone = (row.get("phone") or "").strip() or None
    try:
        person = Person.of(key, name, id_number, phone)
    except InvalidCode as exc:
        # the reason never contains the value (validators never echo ID numbers or phones)
        errors.append(RowError(f"{where}.{exc.field}", exc.reason))
        return None
    return None if failed else person


@dataclass(frozen=True)
class Member:
    """A Party member at an organisation, as the registry knows them (no raw identifiers)."""

    id: str
    organization_id: str
    region_code: str
    id_hash: str
    name: str
    id_masked: str
    phone_masked: str | None
    membership: Membership
    registered_with: str | None
    status: MemberStatus
    discovered_at: datetime
    declared_on: date | None = None
    transferred_on: date | None = None
    version: int = 1
    moved_out_on: date | None = None
    branch_id: str | None = None  # the Party organisation holding the relationship, once here

    def __post_init__(self) -> None:
        mask_attributes(self, "name", "registered_with")

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)

    def advanced(self, to: MemberStatus, on: date) -> Member:
        """The member one step further; refuses a step out of order (亮明身份 before 转接)."""
        if NEXT_STATUS.get(self.status) != to:
            raise RuleBroken(
                "member_status_order",
                f"a {self.status} member cannot become {to}: "
                "the steps are discovered -> declared -> transferred",
                [self.organization_id],
            )
        if to == "declared":
            return replace(self, status=to, declared_on=on, version=self.version + 1)
        if self.declared_on is not None and on < self.declared_on:
            raise RuleBroken(
                "member_transfer_date",
                "a transfer cannot be dated before the declaration",
                [self.organization_id],
            )
        return replace(self, status=to, transferred_on=on, version=self.version + 1)

    def transferred_to(self, branch: Branch | None, on: date) -> Member:
        """The member's relationship transferred (组织关系转接) to `branch`, the Party
        organisation covering their organisation: a relationship goes to a Party
        organisation, never to a company, and a temporary one does not take it."""
        moved = self.advanced("transferred", on)  # the order of steps is checked first
        target = check_transfer_target(self.organization_id, branch)
        return replace(moved, branch_id=target.id, registered_with=target.name)

    def moved_out(self, on: date) -> Member:
        """A transferred member whose organisation left the ledger: the relationship no longer
        belongs to it (it goes back to the Party organisation the office names)."""
        if self.status != "transferred":
            raise RuleBroken(
                "member_status_order",
                f"only a transferred member moves out, not a {self.status} one",
                [self.organization_id],
            )
        return replace(self, status="moved_out", moved_out_on=on, version=self.version + 1)

    def snapshot(self) -> dict[str, object]:
        """What an audit entry may keep of the member: masked values only."""
        return {
            "organization_id": self.organization_id,
            "name": self.name_masked,
            "id_number": self.id_masked,
            "phone": self.phone_masked,
            "membership": self.membership,
            "status": self.status,
        }


def header_map(header: list[str], columns: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Which position of a file's header row holds each known column."""
    found: dict[str, int] = {}
    for position, title in enumerate(header):
        text = title.strip().lower()
        for column, names in columns.items():
            if column not in found and text in {n.lower() for n in names}:
                found[column] = position
    return found


def check_transfer_target(organization_id: str, branch: Branch | None) -> Branch:
    """A relationship is transferred to the active branch covering the organisation, not a
    temporary one (its members stay registered where they were)."""
    if branch is None or not branch.active or organization_id not in branch.organization_ids:
        raise RuleBroken(
            "transfer_to_party_organization",
            "a relationship is transferred to a Party organisation covering the organisation: "
            "it has none (form its branch or a joint branch first)",
            [organization_id],
        )
    if branch.kind == "temporary":
        raise RuleBroken(
            "transfer_to_party_organization",
            "a temporary Party organisation does not take members' relationships",
            [organization_id],
        )
    return branch


def registered_here(registered_with: str | None, branch: Branch | None) -> bool:
    """The roster says the member is already registered with the branch covering their
    organisation (names compared normalised): matched as transferred, not discovered."""
    if not registered_with or branch is None or not branch.active or branch.kind == "temporary":
        return False
    return name_key(registered_with) == name_key(branch.name)
