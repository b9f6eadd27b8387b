"""What anyone may reach without signing in (besides the sign-in itself): the health check and the
static files (stylesheets, the charts' scripts)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent.parent / "static"

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, bool]:
    return {"ok": True}


def static_files() -> StaticFiles:
    """The app mounts this at /static."""
    return StaticFiles(directory=STATIC_DIR)
