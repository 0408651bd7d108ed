"""Settings of the training service (environment prefix `PB_TRAINING_`)."""

from typing import Literal

from pydantic import Field

from libs.common.settings import ServiceSettings
from services.training.domain.routine import RoutineRules


class TrainingSettings(ServiceSettings):
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

    def routine_rules(self) -> RoutineRules:
        return RoutineRules(
            lecture_frequency=self.lecture_frequency,
            temporary_obligations=frozenset(self.temporary_obligations),
        )
