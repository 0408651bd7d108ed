"""Party-building instructors (党建指导员) and their assignments to organisations."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/instructors", tags=["instructors"])
