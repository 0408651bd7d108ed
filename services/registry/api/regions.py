"""The region tree (division codes and names) and named areas (parks, commercial districts)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["regions"])
