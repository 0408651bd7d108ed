"""An import's `organization.imported` events: the model's JSON byte for byte, every file once,
grouped by region, in pieces small enough for NATS, and `branch.eligible` as one file at a time."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import date

from services.registry.domain.imports import Draft
from services.registry.domain.organizations import Organization, Rules
from services.registry.events import BranchEligibleV1, OrganizationImportedV1
from services.registry.file_forms import draft_of, eligible_data, registered_data, updated_data
from services.registry.service.organizations import (
    IMPORTED_PIECE,
    IMPORTED_PIECE_BYTES,
    Change,
    announce_imported,
    imported_data,
    new_organization,
)
from tests.registry.imports_data import credit_code
from tests.registry.test_imports_lookups import various
from tests.registry.unit.fakes import FakeUnitOfWork

IMPORT_ID = "1d1f5fa2-1bb2-4a43-9b8a-52f1b9a4d4f0"


def organization(n: int, region_code: str = "140212101", **values: object) -> Organization:
    name = f"测试{n}有限公司"
    code = credit_code(n)
    return new_organization(
        credit_code=code, name=name, kind="enterprise", region_code=region_code, **values
    )


def drafts(files: Sequence[Organization]) -> list[Draft]:
    return [draft_of(o, Rules().standalone_min_full_members) for o in files]


def changed(organization: Organization, *fields: str) -> Change:
    after = dataclasses.replace(organization, version=organization.version + 1)
    return (organization, after, sorted(fields))


def test_each_piece_is_the_models_json_byte_for_byte() -> None:
    files = various()
    changes = [changed(o, "staff_count") for o in files]
    pieces = imported_data(IMPORT_ID, drafts(files), changes)
    assert pieces
    for data in pieces:
        assert OrganizationImportedV1.model_validate_json(data).model_dump_json().encode() == data


def test_every_file_once_in_its_regions_pieces_in_the_order_given() -> None:
    regions = ["140212101", "140212102", "140212"]
    new = [organization(n, regions[n % 3]) for n in range(3 * IMPORTED_PIECE + 7)]
    old = [organization(10_000 + n, regions[n % 2]) for n in range(IMPORTED_PIECE + 1)]
    changes = [changed(o, "name") for o in old]
    events = [json.loads(d) for d in imported_data(IMPORT_ID, drafts(new), changes)]

    assert {e["import_id"] for e in events} == {IMPORT_ID}
    assert all(1 <= len(e["registered"]) + len(e["updated"]) <= IMPORTED_PIECE for e in events)
    for event in events:
        region = event["region_code"]
        assert {f["region_code"] for f in event["registered"] + event["updated"]} == {region}
    for region in regions:
        of_region = [e for e in events if e["region_code"] == region]
        registered = [f["organization_id"] for e in of_region for f in e["registered"]]
        updated = [f["organization_id"] for e in of_region for f in e["updated"]]
        assert registered == [o.id for o in new if o.region_code == region]
        assert updated == [o.id for o in old if o.region_code == region]
        assert all(f["version"] == 2 for e in of_region for f in e["updated"])


def test_a_piece_of_long_files_is_cut_before_its_bytes_outgrow_the_limit() -> None:
    long = [organization(n, no_branch_reason="原因" * 4000) for n in range(40)]
    size = len(registered_data(long[0]))
    assert size * IMPORTED_PIECE > IMPORTED_PIECE_BYTES  # the count alone would not cut it
    pieces = imported_data(IMPORT_ID, drafts(long), [])
    assert len(pieces) > 1
    assert all(len(p) <= IMPORTED_PIECE_BYTES + 200 for p in pieces)
    assert sum(len(json.loads(p)["registered"]) for p in pieces) == len(long)
    huge = organization(99, no_branch_reason="长" * (IMPORTED_PIECE_BYTES // 2))
    assert len(imported_data(IMPORT_ID, drafts([huge, huge]), [])) == 2  # one file alone still goes


def test_nothing_imported_records_nothing() -> None:
    assert imported_data(IMPORT_ID, [], []) == []


def test_announce_records_the_pieces_then_eligible_branches_as_one_at_a_time_would() -> None:
    rules = Rules()
    enough = rules.standalone_min_full_members
    uow = FakeUnitOfWork()
    fresh = [organization(1, full_members=enough), organization(2)]
    grown = organization(3, full_members=enough - 1)
    after = dataclasses.replace(grown, version=2, full_members=enough)
    announce_imported(uow, IMPORT_ID, drafts(fresh), [(grown, after, ["full_members"])], rules)

    assert uow.types() == ["organization.imported", "branch.eligible", "branch.eligible"]
    [imported, *eligible] = uow.events
    assert isinstance(imported, OrganizationImportedV1)
    assert [f.organization_id for f in imported.registered] == [o.id for o in fresh]
    assert [(f.organization_id, f.changed) for f in imported.updated] == [
        (after.id, ["full_members"])
    ]
    assert json.loads(updated_data(after, ["full_members"])) == imported.updated[0].model_dump(
        mode="json"
    )
    assert [e.organization_id for e in eligible if isinstance(e, BranchEligibleV1)] == [
        fresh[0].id,
        after.id,
    ]


def test_a_drafted_file_is_written_as_its_events_models_would_write_it() -> None:
    rules = Rules()
    files = [*various(), organization(7, full_members=rules.standalone_min_full_members)]
    for file, draft in zip(files, drafts(files), strict=True):
        assert draft.registered == registered_data(file)
        eligible = draft.eligible
        assert (eligible is not None) == (file.full_members >= rules.standalone_min_full_members)
    today = date.today()
    for file in files:
        model = BranchEligibleV1(
            organization_id=file.id,
            region_code=file.region_code,
            full_members=file.full_members,
            eligible_on=today,
        )
        assert eligible_data(file, today) == model.model_dump_json().encode()
