"""Settings of the stations service (environment prefix `PB_STATIONS_`)."""

from datetime import date, timedelta

from pydantic import BaseModel, Field, SecretStr

from libs.common.calendar import ADJUSTED_WORKING_DAYS, PUBLIC_HOLIDAYS, holiday_years
from libs.common.identity import IdentityKey
from libs.common.settings import (
    DEVELOPMENT_IDENTITY_KEY,
    ServiceSettings,
    identity_key_field,
)
from services.stations.domain.sla import LoopRules, ServiceLevel, Timers, WorkingHours

#: The units an office dispatches to by default (configurable: PB_STATIONS_UNITS).
DEFAULT_UNITS = (
    "union",
    "youth_league",
    "womens_federation",
    "justice",
    "human_resources",
    "health",
    "civil_affairs",
    "community",
)


class Level(BaseModel):
    accept_within_hours: float = Field(gt=0, description="Working hours to accept")
    resolve_within_days: int = Field(ge=1, description="Calendar days from acceptance")


class StationsSettings(ServiceSettings):
    service_name: str = "stations"
    port: int = 8003

    nearest_max_k: int = Field(default=50, ge=1, le=500, description="Most results of a search")
    nearest_max_distance_m: float = Field(
        default=50_000, gt=0, description="How far the nearest search looks by default (m)"
    )
    units: tuple[str, ...] = Field(default=DEFAULT_UNITS, min_length=1)
    service_levels: dict[str, Level] = Field(
        default={
            "need": Level(accept_within_hours=8, resolve_within_days=5),
            "micro_wish": Level(accept_within_hours=16, resolve_within_days=10),
            "suggestion": Level(accept_within_hours=16, resolve_within_days=15),
            "report": Level(accept_within_hours=4, resolve_within_days=3),
        },
        description="Per category: accept within N working hours, resolve within M days",
    )
    working_day_start_hour: int = Field(default=9, ge=0, le=23)
    working_day_end_hour: int = Field(default=17, ge=1, le=24)
    working_days: frozenset[int] = Field(
        default=frozenset({0, 1, 2, 3, 4}), description="Weekdays that count (0 = Monday)"
    )
    national_holidays: bool = Field(
        default=True,
        description="Count the State Council's public holidays and 调休 working days "
        "(the table in libs.common.calendar) in working hours",
    )
    extra_holidays: frozenset[date] = Field(
        default=frozenset(),
        description="More days off: local holidays (a minority festival, say) or a year the "
        'built-in table lacks, as a JSON list of dates: ["2027-01-01"]',
    )
    extra_working_days: frozenset[date] = Field(
        default=frozenset(), description="More weekend days worked in exchange (调休上班)"
    )
    reminder_share: float = Field(
        default=0.75, gt=0, lt=1, description="Remind when this share of a window has passed"
    )
    escalate_after_hours: float = Field(
        default=24, gt=0, description="Escalate this long after a deadline passes"
    )
    report_points: int = Field(
        default=10, ge=0, description="Points for a worker whose report (随手拍) is resolved"
    )
    identity_key: SecretStr = identity_key_field(
        "stations",
        "HMAC key of workers' phone and name hashes; the registry's key, so that a "
        "declared member's hashes match there",
    )
    sla_check_seconds: float = Field(default=30.0, gt=0, description="How often timers are read")
    visits_check_seconds: float = Field(
        default=300.0, gt=0, description="How often the daily visits announcement looks"
    )

    def service_level(self, category: str) -> ServiceLevel:
        level = self.service_levels.get(category) or Level(
            accept_within_hours=8, resolve_within_days=5
        )
        return ServiceLevel(level.accept_within_hours, level.resolve_within_days)

    def timers(self) -> Timers:
        return Timers(
            reminder_share=self.reminder_share,
            escalate_after=timedelta(hours=self.escalate_after_hours),
            working_hours=WorkingHours(
                self.working_day_start_hour,
                self.working_day_end_hour,
                self.working_days,
                holidays=self.holidays(),
                working_weekend_days=self.extra_working_days
                | (ADJUSTED_WORKING_DAYS if self.national_holidays else frozenset()),
            ),
        )

    def holidays(self) -> frozenset[date]:
        return self.extra_holidays | (PUBLIC_HOLIDAYS if self.national_holidays else frozenset())

    def years_without_holidays(self, today: date) -> list[int]:
        """Years a deadline set today may reach (the next 30 days) whose holidays nobody gave."""
        if not self.national_holidays:
            return []
        known = holiday_years(self.holidays())
        return sorted({today.year, (today + timedelta(days=30)).year} - known)

    def loop_rules(self) -> LoopRules:
        return LoopRules(
            units=self.units,
            levels={c: self.service_level(c) for c in self.service_levels},
            timers=self.timers(),
            report_points=self.report_points,
        )

    def development_keys(self) -> list[str]:
        keys = super().development_keys()
        if self.identity_key.get_secret_value() == DEVELOPMENT_IDENTITY_KEY:
            keys.append("PB_IDENTITY_KEY")
        return keys

    def identity(self) -> IdentityKey:
        return IdentityKey(self.identity_key.get_secret_value().encode())
