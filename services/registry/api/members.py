"""Staff lists, member rosters and the members found at organisations (隐形党员)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["members"])
