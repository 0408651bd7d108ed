"""What the training service's routes take from a request: the caller, a unit of work, rules."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends

from libs.common.auth import Principal, Scope
from libs.common.identity import IdentityKey
from libs.common.service import settings_of, transaction
from services.training.domain.candidates import PipelineRules
from services.training.domain.courses import StudyRules
from services.training.domain.routine import RoutineRules
from services.training.service import TrainingUnitOfWork
from services.training.settings import TrainingSettings

Reader = Annotated[Principal, Depends(Scope("training:read"))]
Writer = Annotated[Principal, Depends(Scope("training:write"))]

# scope="function": the transaction commits before the response leaves, so a failed commit is
# an error response, never a 201 for something that was not stored.
Transaction = Annotated[
    TrainingUnitOfWork, Depends(transaction(TrainingUnitOfWork), scope="function")
]
#: For GETs: a read session (no writer lock on SQLite), nothing recorded, nothing committed.
ReadSession = Annotated[TrainingUnitOfWork, Depends(transaction(TrainingUnitOfWork, readonly=True))]

training_settings = settings_of(TrainingSettings)
SettingsDep = Annotated[TrainingSettings, Depends(training_settings)]


def office_today(settings: SettingsDep) -> date:
    return settings.office_today()


#: The offices' day (`PB_TRAINING_CALENDAR_DAY` fixes it), for rules that compare with today.
Today = Annotated[date, Depends(office_today)]


def routine_rules(settings: SettingsDep) -> RoutineRules:
    return settings.routine_rules()


RoutineRulesDep = Annotated[RoutineRules, Depends(routine_rules)]


def pipeline_rules(settings: SettingsDep) -> PipelineRules:
    return settings.pipeline_rules()


PipelineRulesDep = Annotated[PipelineRules, Depends(pipeline_rules)]


def identity_key(settings: SettingsDep) -> IdentityKey:
    return settings.identity()


IdentityKeyDep = Annotated[IdentityKey, Depends(identity_key)]


def study_rules(settings: SettingsDep) -> StudyRules:
    return settings.study_rules()


StudyRulesDep = Annotated[StudyRules, Depends(study_rules)]
