"""HTTP routes for the coverage rates of a region (or a park within it) and their history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from libs.common.divisions import name_of
from libs.common.text import Text
from services.coverage.api.deps import (
    AreaQuery,
    Reader,
    ReadUnitOfWorkDep,
    StatementUnitOfWorkDep,
    region_in_scope,
)
from services.coverage.domain.facts import DEFAULT_ORGANIZATION_SCOPE, DEFAULT_WORK_SCOPE, Scope
from services.coverage.domain.new_employment import NewEmploymentFigures
from services.coverage.domain.rates import Coverage
from services.coverage.service import rates as coverage

router = APIRouter(prefix="/v1/coverage", tags=["coverage"])

OrganizationScope = Annotated[
    Scope, Query(description="Denominator of the organisation and standalone rates")
]
WorkScope = Annotated[Scope, Query(description="Denominator of the work rate")]


#: One figure as the examples show it.
_RATE_EXAMPLE: dict[str, Any] = {
    "covered": 412,
    "in_scope": 486,
    "rate": 0.8477,
    "scope": "with_members",
}


class Rate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_RATE_EXAMPLE]})

    covered: int = Field(description="Numerator")
    in_scope: int = Field(description="Denominator: organisations in the scope")
    rate: float | None = Field(description="covered / in_scope, 4 places; null when none in scope")
    scope: Scope

    @classmethod
    def of(cls, coverage: Coverage) -> Rate:
        return cls(
            covered=coverage.covered,
            in_scope=coverage.in_scope,
            rate=coverage.rate,
            scope=coverage.scope,
        )


class BreakdownEntry(BaseModel):
    organization_coverage: Rate
    standalone_coverage: Rate
    work_coverage: Rate
    temporary_coverage: Rate
    effective_coverage: Rate


class NewEmployment(BaseModel):
    """The new employment groups (新就业群体) of the region on `day`, from the stations service."""

    workers_registered: int = Field(description="Workers registered on or before the day")
    workers_checked_in: int = Field(
        description="Of those, workers who checked in with a community (社区报到) by the day"
    )
    check_in_rate: float | None = Field(
        description="报到率: checked in / registered, 4 places; null when none registered"
    )
    open_stations: int = Field(description="Stations (驿站) open on the day")
    stations_per_thousand_workers: float | None = Field(
        description="Open stations per 1,000 registered workers, 2 places; null when none"
    )
    requests_resolved: int = Field(
        description="Requests of the region resolved by the day (a reopened one not, until "
        "resolved again)"
    )
    requests_resolved_on_time: int
    on_time_rate: float | None = Field(
        description="Resolved on time / resolved, 4 places; null when none resolved"
    )

    @classmethod
    def of(cls, figures: NewEmploymentFigures) -> NewEmployment:
        return cls(
            workers_registered=figures.workers_registered,
            workers_checked_in=figures.workers_checked_in,
            check_in_rate=figures.check_in_rate,
            open_stations=figures.open_stations,
            stations_per_thousand_workers=figures.stations_per_thousand_workers,
            requests_resolved=figures.requests_resolved,
            requests_resolved_on_time=figures.requests_resolved_on_time,
            on_time_rate=figures.on_time_rate,
        )


#: What `region_name` is.
NAME_DESCRIPTION = (
    "The division's published name (民政部国家地名信息库; 新荣区, 古店镇); null for a village "
    "or a code the data does not list"
)


class Rates(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "region_code": "140212",
                    "region_name": "新荣区",
                    "area_id": None,
                    "day": "2026-11-30",
                    "as_of": "2026-11-30T01:42:10Z",
                    "source": "live",
                    "organization_coverage": _RATE_EXAMPLE,
                    "standalone_coverage": {**_RATE_EXAMPLE, "covered": 301, "rate": 0.6193},
                    "work_coverage": {
                        "covered": 1650,
                        "in_scope": 1702,
                        "rate": 0.9694,
                        "scope": "all_managed",
                    },
                    "temporary_coverage": {**_RATE_EXAMPLE, "covered": 6, "rate": 0.0123},
                    "breakdown": {
                        "kind": {
                            "enterprise": {
                                "organization_coverage": _RATE_EXAMPLE,
                                "standalone_coverage": _RATE_EXAMPLE,
                                "work_coverage": _RATE_EXAMPLE,
                                "temporary_coverage": _RATE_EXAMPLE,
                                "effective_coverage": _RATE_EXAMPLE,
                            }
                        }
                    },
                    "effective_coverage": {**_RATE_EXAMPLE, "covered": 398, "rate": 0.8189},
                    "effective": {**_RATE_EXAMPLE, "covered": 398, "rate": 0.8189},
                    "new_employment": {
                        "workers_registered": 2310,
                        "workers_checked_in": 1876,
                        "check_in_rate": 0.8121,
                        "open_stations": 14,
                        "stations_per_thousand_workers": 6.06,
                        "requests_resolved": 233,
                        "requests_resolved_on_time": 219,
                        "on_time_rate": 0.9399,
                    },
                }
            ]
        }
    )

    region_code: str
    region_name: str | None = Field(description=NAME_DESCRIPTION)
    area_id: str | None = Field(description="The park or commercial district, when asked for")
    day: date = Field(description="The day (Asia/Shanghai) the figures are as of")
    as_of: datetime = Field(
        description="When these figures last changed (for a past day: when its snapshot was taken)"
    )
    source: Literal["live", "snapshot"] = Field(
        description="live roll-ups (the projection's day) or the snapshot stored for a past day"
    )
    organization_coverage: Rate = Field(description="组织覆盖率: own or joint branch")
    standalone_coverage: Rate = Field(description="单独组建率, same denominator")
    work_coverage: Rate = Field(description="工作覆盖率")
    temporary_coverage: Rate = Field(
        description="Organisations only a temporary Party organisation (临时党组织) reaches, over "
        "the organisation-coverage scope: reported apart, never in the organisation rate"
    )
    breakdown: dict[str, dict[str, BreakdownEntry]] = Field(
        description="By `kind`, industry `section` (GB/T 4754 letter) and `size_band` (empty "
        "for a past day: snapshots keep the region's totals only)"
    )
    effective_coverage: Rate | None = Field(
        description="有效覆盖: organisations covered (as organisation coverage counts them) whose "
        "branch kept its routine (三会一课) in the last full calendar quarter before `day`, over "
        "the organisation-coverage scope; null for a past day whose snapshot was taken before "
        "it was counted"
    )
    effective: Rate | None = Field(
        description="The same figure as `effective_coverage` (its earlier name, null until "
        "training's routine events were consumed)"
    )
    new_employment: NewEmployment | None = Field(
        description="The new employment groups' figures of the region (the whole region, "
        "whatever `area`); null for a past day (snapshots do not keep them)"
    )


class HistoryPoint(BaseModel):
    date: date
    taken_at: datetime
    organization_coverage: Rate
    standalone_coverage: Rate
    work_coverage: Rate
    temporary_coverage: Rate
    effective_coverage: Rate | None = Field(
        description="null for a snapshot taken before effective coverage was counted"
    )


class History(BaseModel):
    region_code: str
    area_id: str | None
    snapshots: list[HistoryPoint]


_AnswerKey = tuple[str, str, Scope, Scope]


class RenderedAnswers:
    """The JSON last sent for each region's live figures (by region, area and scopes), kept
    with the `Figures` object it was rendered from: while `coverage.figures` hands out the same
    object (the region's rows, the day and its new-employment counts are what they were), the
    same bytes are sent again without building and serialising the model. Bounded like
    `FiguresCache`, least recently used first out."""

    def __init__(self, size: int = 2048) -> None:
        self._recent: coverage.Recent[_AnswerKey, tuple[coverage.Figures, bytes]] = coverage.Recent(
            size
        )

    def get(self, key: _AnswerKey, figures: coverage.Figures) -> bytes | None:
        kept = self._recent.get(key)
        return kept[1] if kept is not None and kept[0] is figures else None

    def put(self, key: _AnswerKey, figures: coverage.Figures, body: bytes) -> None:
        self._recent.put(key, (figures, body))

    def clear(self) -> None:
        self._recent.clear()


#: The API process's rendered answers (see `RenderedAnswers`).
answers = RenderedAnswers()


@router.get(
    "/{region_code}",
    response_model=Rates,
    summary="Organisation, standalone and work coverage of a region, with the breakdown",
    description="Answered from roll-ups kept up to date as registry events arrive, as of the "
    "projection's day; `?as_of=` a past day answers from that day's snapshot. "
    "`?area=<id>` gives a park's or commercial district's figures within the region "
    "(the province code gives the whole park).",
)
async def read_rates(
    region_code: Text,
    # the live figures are one query; a past day's (`as_of`) adds the read of that day's
    # stored snapshot, which no longer changes
    uow: StatementUnitOfWorkDep,
    principal: Reader,
    area: AreaQuery = None,
    organization_scope: OrganizationScope = DEFAULT_ORGANIZATION_SCOPE,
    work_scope: WorkScope = DEFAULT_WORK_SCOPE,
    as_of: Annotated[
        date | None,
        Query(
            description="A past day: its stored snapshot (422 when that day has none); "
            "default: the projection's day, live"
        ),
    ] = None,
) -> Rates | Response:
    region = region_in_scope(region_code, principal)
    figures = await coverage.figures(
        uow, (region, area or ""), organization_scope, work_scope, on=as_of
    )
    if figures.snapshot:
        return _rates(figures, area)
    key = (region, area or "", organization_scope, work_scope)
    body = answers.get(key, figures)
    if body is None:
        body = _rates(figures, area).model_dump_json().encode()
        answers.put(key, figures, body)
    return Response(body, media_type="application/json")


def _rates(figures: coverage.Figures, area: str | None) -> Rates:
    groups = figures.new_employment
    return Rates(
        region_code=figures.region_code,
        region_name=name_of(figures.region_code),
        area_id=area,
        day=figures.day,
        as_of=figures.as_of,
        source="snapshot" if figures.snapshot else "live",
        organization_coverage=Rate.of(figures.organization),
        standalone_coverage=Rate.of(figures.standalone),
        work_coverage=Rate.of(figures.work),
        temporary_coverage=Rate.of(figures.temporary),
        effective_coverage=Rate.of(figures.effective) if figures.effective else None,
        effective=Rate.of(figures.effective) if figures.effective else None,
        new_employment=NewEmployment.of(groups) if groups else None,
        breakdown={
            dimension: {value: BreakdownEntry.model_validate(entry) for value, entry in by.items()}
            for dimension, by in figures.breakdown.items()
        },
    )


class SubregionRow(BaseModel):
    region_code: str
    region_name: str | None = Field(description=NAME_DESCRIPTION)
    organization_coverage: Rate
    standalone_coverage: Rate
    work_coverage: Rate
    temporary_coverage: Rate
    effective_coverage: Rate


class Subregions(BaseModel):
    region_code: str
    region_name: str | None = Field(description=NAME_DESCRIPTION)
    sort: str
    rows: list[SubregionRow]


@router.get(
    "/{region_code}/subregions",
    response_model=Subregions,
    summary="The figures of each region one level below: a county's townships (乡镇街道), ...",
    description="One row per sub-region with its rates and counts, from the roll-ups. `sort`: "
    "region_code, organization_rate, standalone_rate, work_rate, temporary_rate, "
    "effective_rate, in_scope, "
    "uncovered (organisation coverage); `-` in front for descending; regions with nothing in "
    "scope (rate null) come last; ties by code.",
)
async def list_subregion_rates(
    region_code: Text,
    uow: ReadUnitOfWorkDep,
    principal: Reader,
    organization_scope: OrganizationScope = DEFAULT_ORGANIZATION_SCOPE,
    work_scope: WorkScope = DEFAULT_WORK_SCOPE,
    sort: Annotated[Text, Query(max_length=32)] = "region_code",
) -> Subregions:
    region = region_in_scope(region_code, principal)
    rows = await coverage.subregions(uow, region, organization_scope, work_scope, sort)
    return Subregions(
        region_code=region,
        region_name=name_of(region),
        sort=sort,
        rows=[
            SubregionRow(
                region_code=row.region_code,
                region_name=name_of(row.region_code),
                organization_coverage=Rate.of(row.organization),
                standalone_coverage=Rate.of(row.standalone),
                work_coverage=Rate.of(row.work),
                temporary_coverage=Rate.of(row.temporary),
                effective_coverage=Rate.of(row.effective),
            )
            for row in rows
        ],
    )


@router.get(
    "/{region_code}/history",
    response_model=History,
    summary="The region's rates on each day, from the stored daily snapshots",
    description="Never recomputed: a past day's answer is the same every time it is asked.",
)
async def read_rate_history(
    region_code: Text,
    uow: ReadUnitOfWorkDep,
    principal: Reader,
    start: Annotated[
        date | None, Query(alias="from", description="First day (default: to - 90)")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (default: today)")] = None,
    area: AreaQuery = None,
    organization_scope: OrganizationScope = DEFAULT_ORGANIZATION_SCOPE,
    work_scope: WorkScope = DEFAULT_WORK_SCOPE,
) -> History:
    region = region_in_scope(region_code, principal)
    days = await coverage.history(
        uow, (region, area or ""), start, end, organization_scope, work_scope
    )
    return History(
        region_code=region,
        area_id=area,
        snapshots=[
            HistoryPoint(
                date=day.taken_on,
                taken_at=day.taken_at,
                organization_coverage=Rate.of(day.organization),
                standalone_coverage=Rate.of(day.standalone),
                work_coverage=Rate.of(day.work),
                temporary_coverage=Rate.of(day.temporary),
                effective_coverage=Rate.of(day.effective) if day.effective else None,
            )
            for day in days
        ],
    )
