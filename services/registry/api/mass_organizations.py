"""Mass organisations (工会, 共青团, 妇联) set up in organisations."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["mass-organizations"])
