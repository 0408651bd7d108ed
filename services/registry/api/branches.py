"""Party organisations: branches (standalone, joint, temporary) and the committees above."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["branches"])
