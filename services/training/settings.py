"""Settings of the training service (environment prefix `PB_TRAINING_`)."""

from typing import Literal

from pydantic import Field, SecretStr

from libs.common.identity import IdentityKey
from libs.common.settings import (
    DEVELOPMENT_IDENTITY_KEY,
    OfficeCalendar,
    ServiceSettings,
    identity_key_field,
)
from services.training.domain.candidates import PipelineRules
from services.training.domain.courses import StudyRules
from services.training.domain.routine import RoutineRules


class TrainingSettings(OfficeCalendar, ServiceSettings):
    service_name: str = "training"
    port: int = 8004

    lecture_frequency: Literal["month", "quarter"] = Field(
        default="quarter", description="How often a branch owes a Party lecture (党课)"
    )
    temporary_obligations: list[str] = Field(
        default=["members_meeting", "party_lecture", "theme_day"],
        description="The meetings a temporary branch (临时党组织) owes",
    )
    routine_check_seconds: float = Field(
        default=3600.0, gt=0, description="How often the daily routine judgement looks for work"
    )
    routine_batch_size: int = Field(
        default=2000, ge=1, description="Branches judged per transaction"
    )

    identity_key: SecretStr = identity_key_field(
        "training",
        "HMAC key for the keyed hashes of candidates' and introducers' ID numbers",
    )
    min_age_years: int = Field(default=18, ge=14, description="An applicant's least age")
    talk_within_months: int = Field(default=1, ge=1, description="Talk with the applicant within")
    activist_min_years: int = Field(default=1, ge=1, description="Least education as activist")
    training_min_days: int = Field(default=3, ge=1, description="Centralised training: days, or")
    training_min_hours: int = Field(default=24, ge=1, description="... class hours")
    approval_within_months: int = Field(default=3, ge=1, description="Committee approves within")
    approval_extended_months: int = Field(default=6, ge=1, description="... when extended")
    probation_years: int = Field(default=1, ge=1, description="Probation from the branch meeting")
    extension_min_months: int = Field(default=6, ge=1, description="Probation extension: least")
    extension_max_months: int = Field(default=12, ge=1, description="Probation extension: most")
    member_study_hours: float = Field(
        default=32, ge=0, description="Class hours a member studies each year"
    )
    leader_study_hours: float = Field(
        default=56, ge=0, description="... a branch secretary or committee member"
    )
    deadline_check_seconds: float = Field(
        default=3600.0, gt=0, description="How often pipeline deadlines are looked at"
    )

    def development_keys(self) -> list[str]:
        keys = super().development_keys()
        if self.identity_key.get_secret_value() == DEVELOPMENT_IDENTITY_KEY:
            keys.append("PB_IDENTITY_KEY")
        return keys

    def identity(self) -> IdentityKey:
        return IdentityKey(self.identity_key.get_secret_value().encode())

    def pipeline_rules(self) -> PipelineRules:
        return PipelineRules(
            min_age_years=self.min_age_years,
            talk_within_months=self.talk_within_months,
            activist_min_years=self.activist_min_years,
            training_min_days=self.training_min_days,
            training_min_hours=self.training_min_hours,
            approval_within_months=self.approval_within_months,
            approval_extended_months=self.approval_extended_months,
            probation_years=self.probation_years,
            extension_min_months=self.extension_min_months,
            extension_max_months=self.extension_max_months,
        )

    def study_rules(self) -> StudyRules:
        return StudyRules(
            member_hours=self.member_study_hours, leader_hours=self.leader_study_hours
        )

    def routine_rules(self) -> RoutineRules:
        return RoutineRules(
            lecture_frequency=self.lecture_frequency,
            temporary_obligations=frozenset(self.temporary_obligations),
        )
