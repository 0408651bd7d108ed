"""The six points of the ledger file (六清) as the recorded data shows them.

A point the file's data can show is derived from it, and only from it: operations 经营运行 (stable
operations known), workforce 职工队伍 (staff count known), investors 出资人 (investors recorded),
why no Party organisation 未建党组织原因 (a reason recorded, or a Party organisation covers it).
Members 党员队伍 and mass organisations 群团组织 are clear when the data shows them (members
counted; a union, youth league or women's federation set up) and may otherwise be confirmed by
hand ("checked: none"), the only manual points. So a PATCH cannot make an empty file complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from libs.common.refusals import Invalid
from services.registry.domain.organizations import Ledger, Organization

#: Points only the data decides; a manual `true` for one the data does not show is refused.
DATA_ONLY_POINTS: dict[str, str] = {
    "operations": "record stable_operations (稳定经营) first",
    "workforce": "record staff_count first",
    "investors": "record the investors first",
    "no_branch_reason": "record no_branch_reason, or cover it by a Party organisation",
}


def shown_by_data(organization: Organization) -> dict[str, bool]:
    """Each point as the recorded data shows it (mass organisations: the stored point, which
    the mass-organisation use cases keep)."""
    return {
        "operations": organization.stable_operations is not None,
        "workforce": organization.staff_count is not None,
        "members": organization.full_members + organization.probationary_members > 0,
        "investors": bool(organization.investors),
        "no_branch_reason": bool((organization.no_branch_reason or "").strip())
        or organization.branch_id is not None,
        "mass_organizations": False,
    }


def check_manual_points(organization: Organization, requested: Mapping[str, bool]) -> None:
    """Refuse a point set clear by hand that only data decides, when the data does not show it.

    `organization` is the file with the rest of the same change applied."""
    shown = shown_by_data(organization)
    refused = sorted(
        point
        for point, value in requested.items()
        if value and point in DATA_ONLY_POINTS and not shown[point]
    )
    if refused:
        first = refused[0]
        raise Invalid(
            f"ledger.{first}",
            f"derived from the file's data: {DATA_ONLY_POINTS[first]}",
            message="these ledger points are derived from the recorded data, not set by hand",
        )


def with_derived_ledger(organization: Organization) -> Organization:
    """The file with its ledger as the data shows it: data-only points follow the data; the
    manual points are clear when the data shows them or they were confirmed."""
    shown = shown_by_data(organization)
    stored = organization.ledger
    points = {
        point: shown[point] if point in DATA_ONLY_POINTS else shown[point] or getattr(stored, point)
        for point in shown
    }
    derived = Ledger(**points)
    return organization if derived == stored else replace(organization, ledger=derived)
