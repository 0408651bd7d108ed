"""Organisations of the emerging fields (新经济组织, 新社会组织) as the ledger knows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

OrganizationKind = Literal["enterprise", "social_organization"]


@dataclass
class Organization:
    """One file of the ledger (一企一档)."""

    id: str
    credit_code: str
    name: str
    kind: OrganizationKind
    region_code: str
    industry_code: str | None
    staff_count: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class DuplicateCreditCode(Exception):
    """An organisation with this credit code is already in the ledger."""

    def __init__(self, credit_code: str, existing_id: str) -> None:
        super().__init__(f"credit code {credit_code} is already registered")
        self.credit_code = credit_code
        self.existing_id = existing_id
