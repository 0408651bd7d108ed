"""HTTP routes for coverage targets per region and due date, and for on-demand snapshots."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, field_validator

from libs.common.tables import utcnow
from libs.common.text import Text
from services.coverage.api.deps import (
    Admin,
    Reader,
    ReadUnitOfWorkDep,
    Settings,
    UnitOfWorkDep,
    Writer,
    region_in_scope,
)
from services.coverage.api.rates import Rate
from services.coverage.domain.facts import Scope
from services.coverage.domain.rates import Metric
from services.coverage.domain.targets import BASIS_POINTS, Standing, Target, TargetScope
from services.coverage.service import snapshots, targets

router = APIRouter(tags=["targets"])


class TargetIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "metric": "organization",
                    "scope": "with_members",
                    "rate": 0.95,
                    "due_on": "2026-12-31",
                }
            ]
        }
    )

    metric: Metric = Field(default="organization", description="Which rate the target is for")
    scope: TargetScope | None = Field(
        default=None, description="Its denominator (default: with_members, or all_managed for work)"
    )
    rate: StrictFloat = Field(ge=0, le=1, description="The target, a decimal fraction (0.95)")
    due_on: date = Field(description="The day it is due")

    @field_validator("rate")
    @classmethod
    def four_places(cls, value: float) -> float:
        if abs(value * BASIS_POINTS - round(value * BASIS_POINTS)) > 1e-6:
            raise ValueError("at most 4 decimal places")
        return value


class TargetOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "region_code": "140212",
                    "metric": "organization",
                    "scope": "with_members",
                    "rate": 0.95,
                    "due_on": "2026-12-31",
                    "standing": "below",
                    "current": {
                        "covered": 412,
                        "in_scope": 486,
                        "rate": 0.8477,
                        "scope": "with_members",
                    },
                }
            ]
        }
    )

    region_code: str
    metric: Metric
    scope: Scope
    rate: float
    due_on: date
    standing: Standing = Field(description="reached, below, or unknown (nothing in scope)")
    current: Rate = Field(description="The region's rate now, in the target's scope")


class Snapshot(BaseModel):
    taken_on: date
    taken_at: datetime
    regions: int


def _out(target: Target, standing: Standing, current: Rate) -> TargetOut:
    return TargetOut(
        region_code=target.region_code,
        metric=target.metric,
        scope=target.scope,
        rate=target.rate,
        due_on=target.due_on,
        standing=standing,
        current=current,
    )


@router.put(
    "/v1/targets/{region_code}",
    response_model=TargetOut,
    summary="Set a region's target for one rate and due date",
    description="One target per region, metric, scope and due date; putting it again changes "
    "the rate. `pb.coverage.target.reached` / `.missed` are sent when the region later "
    "comes up to it or falls back below it.",
)
async def put_target(
    region_code: Text, body: TargetIn, uow: UnitOfWorkDep, principal: Writer
) -> TargetOut:
    region = region_in_scope(region_code, principal)
    target = Target.asked(region, body.metric, body.scope, body.due_on, body.rate)
    standing, current = await targets.put_target(uow, target, principal.subject)
    return _out(target, standing, Rate.of(current))


@router.get(
    "/v1/targets/{region_code}",
    response_model=list[TargetOut],
    summary="A region's targets and where it stands against each",
)
async def list_targets(
    region_code: Text, uow: ReadUnitOfWorkDep, principal: Reader
) -> list[TargetOut]:
    region = region_in_scope(region_code, principal)
    return [_out(t, s, Rate.of(c)) for t, s, c in await targets.targets_of(uow, region)]


@router.post(
    "/v1/snapshots",
    response_model=Snapshot,
    status_code=201,
    summary="Take today's snapshot of every region now (admin)",
    description="Replaces a snapshot taken earlier today; past days are never changed.",
)
async def take_snapshot(uow: UnitOfWorkDep, principal: Admin, settings: Settings) -> Snapshot:
    today = settings.office_today()
    regions = await snapshots.take_snapshot(uow, today)
    return Snapshot(taken_on=today, taken_at=utcnow(), regions=regions)
