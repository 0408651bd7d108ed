"""What reaches an organisation from outside its own file: the branch covering it, instructors and
mass organisations. Kept apart from the organisation so that an event naming an organisation
coverage has not heard of yet is applied when the organisation arrives."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from services.coverage.domain.facts import BranchKind, CoverageFacts

#: When several branches name one organisation (a standalone branch and a temporary one on its
#: site), the organisation counts under its own branch first.
_PREFERENCE: dict[str, int] = {"standalone": 0, "joint": 1, "temporary": 2}


@dataclass(frozen=True)
class BranchLink:
    """A live branch that names the organisation among those it covers."""

    branch_id: str
    kind: BranchKind
    formed_on: date | None = None
    kept: bool = True  # kept its routine in the last full quarter (effective coverage)


@dataclass(frozen=True)
class Links:
    """Everything that reaches one organisation, as the projection's own tables say."""

    branch: BranchLink | None = None
    instructor_count: int = 0
    mass_organization_count: int = 0


def covering_branch(links: Iterable[BranchLink]) -> BranchLink | None:
    """The branch an organisation is counted under: its own before a joint before a temporary."""
    return min(links, key=lambda b: (_PREFERENCE.get(b.kind, 9), b.branch_id), default=None)


def with_links(facts: CoverageFacts, links: Links) -> CoverageFacts:
    """The organisation's facts with its branch, instructor and mass-organisation counts
    (the same object when they already say so, as they mostly do)."""
    branch = links.branch
    branch_id = branch.branch_id if branch else None
    branch_kind = branch.kind if branch else None
    formed_on = branch.formed_on if branch else None
    kept = branch.kept if branch else True
    if (
        facts.branch_id == branch_id
        and facts.branch_kind == branch_kind
        and facts.branch_formed_on == formed_on
        and facts.branch_kept == kept
        and facts.instructor_count == links.instructor_count
        and facts.mass_organization_count == links.mass_organization_count
    ):
        return facts
    return dataclasses.replace(
        facts,
        branch_id=branch_id,
        branch_kind=branch_kind,
        branch_formed_on=formed_on,
        branch_kept=kept,
        instructor_count=links.instructor_count,
        mass_organization_count=links.mass_organization_count,
    )
