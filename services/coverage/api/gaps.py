"""HTTP routes for the gap list (目标对象清单), its XLSX export and joint-branch proposals."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/coverage", tags=["gaps"])
