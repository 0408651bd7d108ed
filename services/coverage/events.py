"""The events the coverage service publishes. It owns their schemas (see docs/events/).

Rates are decimal fractions rounded to 4 places (null when nothing is in scope), with the counts
behind them. `area_id` is empty for a whole region, else a park or commercial district within it.
"""

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from libs.common.events import IntegrationEvent, catalogue, example

# The examples: Pingcheng district, Datong (140212), and its organisation-coverage target.
_TARGET = {
    "target_id": "140212/organization/with_members/2026-12-31",
    "region_code": "140212",
    "metric": "organization",
    "scope": "with_members",
    "target_rate": 0.9,
    "due_on": "2026-12-31",
    "covered": 451,
    "in_scope": 500,
    "rate": 0.902,
}


Scope = Literal["with_members", "three_haves", "all_managed"]
Metric = Literal["organization", "standalone", "work"]


class TargetFigures(IntegrationEvent):
    """What every target event carries: the target and the region's figures against it."""

    target_id: str = Field(description="`<region_code>/<metric>/<scope>/<due_on>`")
    region_code: str = Field(description="Statistical division code of the region")
    metric: Metric
    scope: Scope
    target_rate: float = Field(description="The target, a decimal fraction from 0 to 1")
    due_on: date
    covered: int = Field(ge=0)
    in_scope: int = Field(ge=0)
    rate: float | None = Field(description="The region's rate now, 4 places")


class TargetCrossed(TargetFigures):
    """What both crossing events carry: the figures that crossed the target, and when."""

    crossed_at: datetime


@catalogue.register(
    "pb.coverage.target.reached", version=1, producer="coverage", subject_field="target_id"
)
class TargetReachedV1(TargetCrossed):
    """Emitted when a region's rate comes up to one of its targets (at or above it)."""

    model_config = example({**_TARGET, "crossed_at": "2026-11-28T09:00:00Z"})


@catalogue.register(
    "pb.coverage.target.missed", version=1, producer="coverage", subject_field="target_id"
)
class TargetMissedV1(TargetCrossed):
    """Emitted when a region that had reached a target falls back below it."""

    model_config = example(
        {**_TARGET, "covered": 448, "rate": 0.896, "crossed_at": "2026-12-03T09:00:00Z"}
    )


@catalogue.register(
    "pb.coverage.target.overdue", version=1, producer="coverage", subject_field="target_id"
)
class TargetOverdueV1(TargetFigures):
    """Emitted once when a target's due date has passed with the region still below it."""

    model_config = example({**_TARGET, "covered": 440, "rate": 0.88, "judged_on": "2027-01-01"})

    judged_on: date = Field(description="The (local) day the due date was found passed")


@catalogue.register(
    "pb.coverage.rates.changed", version=1, producer="coverage", subject_field="region_code"
)
class RatesChangedV1(IntegrationEvent):
    """Emitted at most once per region per debounce window when its figures changed: for the
    province, city, county and township levels (and their parks and commercial districts), not
    for each village or community, whose figures are read on demand."""

    model_config = example(
        {
            "region_code": "140212",
            "area_id": "",
            "as_of": "2026-11-28T09:00:00Z",
            "organization_scope": "with_members",
            "organization_covered": 451,
            "organization_in_scope": 500,
            "organization_rate": 0.902,
            "standalone_covered": 312,
            "standalone_rate": 0.624,
            "work_scope": "three_haves",
            "work_covered": 1180,
            "work_in_scope": 1260,
            "work_rate": 0.9365,
            "temporary_covered": 6,
            "effective_covered": 402,
            "effective_rate": 0.804,
        }
    )

    region_code: str = Field(description="Statistical division code of the region")
    area_id: str = Field(default="", description="A park or commercial district, or empty")
    as_of: datetime
    organization_scope: Scope
    organization_covered: int = Field(ge=0)
    organization_in_scope: int = Field(ge=0)
    organization_rate: float | None
    standalone_covered: int = Field(ge=0)
    standalone_rate: float | None
    work_scope: Scope
    work_covered: int = Field(ge=0)
    work_in_scope: int = Field(ge=0)
    work_rate: float | None
    temporary_covered: int = Field(
        default=0,
        ge=0,
        description="Organisations in the organisation scope only a temporary Party organisation "
        "(临时党组织) reaches: their own figure, never in organisation_covered",
    )
    effective_covered: int = Field(
        default=0,
        ge=0,
        description="有效覆盖: of organisation_covered, those whose branch kept its routine "
        "(三会一课) in the last full calendar quarter",
    )
    effective_rate: float | None = Field(
        default=None, description="effective_covered / organization_in_scope, 4 places"
    )
