"""Bulk imports of organisations from the offices' sources (摸排比对), as jobs with reports."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/imports", tags=["imports"])
