"""The audit trail (who changed what and when), for an administrator of the region."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/audit", tags=["audit"])
