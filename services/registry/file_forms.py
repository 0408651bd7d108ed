"""An organisation's file in the forms the registry writes it in: its ledger row's values and its
events' JSON (byte for byte the event models' `model_dump_json()`, built without a model).

The one place of each form: the store writes the row (`store/organizations.py`), the use cases
build the events from it (`service/organizations.py`). It imports only the domain and
pydantic-core, so that an import's reader process (`import_reader`) can draft new files with it
without loading the store or the event models (most of a second of its start).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from operator import attrgetter
from typing import Any

from pydantic_core import to_json

from services.registry.domain.imports import Draft
from services.registry.domain.organizations import (
    LEDGER_POINTS,
    Organization,
    ThreeHavesState,
    became_eligible,
)

#: The ledger's points (六清), stored a column each.
LEDGER_COLUMNS = {point: f"ledger_{point}" for point in LEDGER_POINTS}
#: The file's fields stored as columns of their own (the ledger is stored point by point).
FIELD_COLUMNS = tuple(f.name for f in fields(Organization) if f.name != "ledger")
#: The organisations table's columns in the order `row_values` gives them.
ROW_COLUMNS = (*FIELD_COLUMNS, *LEDGER_COLUMNS.values(), "name_key")

_field_values = attrgetter(*FIELD_COLUMNS)
ledger_values = attrgetter(*LEDGER_POINTS)


def row_values(organization: Organization) -> tuple[Any, ...]:
    """The file's row, its values in `ROW_COLUMNS` order."""
    return (
        *_field_values(organization),
        *ledger_values(organization.ledger),
        organization.name_key,
    )


def three_haves_state(value: bool | None) -> ThreeHavesState:
    """三有 as a word: unknown kept apart from false."""
    return "unknown" if value is None else "true" if value else "false"


def state_of(organization: Organization) -> dict[str, Any]:
    """The organisation's state as every organisation event carries it."""
    three_haves = organization.three_haves
    return {
        "organization_id": organization.id,
        "version": organization.version,
        "credit_code": organization.credit_code,
        "provisional": organization.provisional,
        "name": organization.public_name,
        "kind": organization.kind,
        "region_code": organization.region_code,
        "industry_code": organization.industry_code,
        "staff_count": organization.staff_count,
        "area_ids": organization.area_ids,
        "three_haves": bool(three_haves),
        "three_haves_state": three_haves_state(three_haves),
        "operating_status": organization.operating_status,
        "full_members": organization.full_members,
        "probationary_members": organization.probationary_members,
        "ledger_complete": organization.ledger.complete,
        "no_branch_reason": organization.no_branch_reason,
        "latitude": organization.latitude,
        "longitude": organization.longitude,
    }


def _state_for_json(organization: Organization) -> dict[str, Any]:
    """`state_of` with its values as the event models hold them (a coordinate always a float),
    so that `to_json` of it writes the models' JSON."""
    state = state_of(organization)
    for name in ("latitude", "longitude"):
        if state[name] is not None:
            state[name] = float(state[name])
    return state


def registered_data(organization: Organization) -> bytes:
    """`organization.registered`'s data for the file (`OrganizationRegisteredV1`), for files
    whose fields were checked where they were made (an import's)."""
    return to_json({**_state_for_json(organization), "registered_at": organization.created_at})


def updated_data(after: Organization, changed: list[str]) -> bytes:
    """`organization.updated`'s data for the file's new version (`OrganizationUpdatedV1`)."""
    return to_json({**_state_for_json(after), "changed": changed, "updated_at": after.updated_at})


def eligible_data(organization: Organization, today: date) -> bytes:
    """`branch.eligible`'s data for the file (`BranchEligibleV1`)."""
    return to_json(
        {
            "organization_id": organization.id,
            "region_code": organization.region_code,
            "full_members": organization.full_members,
            "eligible_on": today,
        }
    )


def draft_of(organization: Organization, eligible_at: int) -> Draft:
    """A new file in every form an import writes it in (`Draft`); `eligible_at`, the full
    members from which a file can stand alone (`Rules.standalone_min_full_members`)."""
    eligible = became_eligible(None, organization, eligible_at)
    return Draft(
        id=organization.id,
        at=organization.created_at,
        region_code=organization.region_code,
        row=row_values(organization),
        registered=registered_data(organization),
        eligible=eligible_data(organization, date.today()) if eligible else None,
    )
