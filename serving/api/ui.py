"""The browser UI (static files under ``/ui/``) and the taxonomy it labels with."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from detection.rules import ZoneType
from detection.taxonomy import Taxonomy
from serving.api.deps import ServicesDep, StaffUser

UI_ROOT = Path(__file__).resolve().parent.parent / "ui"

router = APIRouter(tags=["ui"])


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/taxonomy", response_model=Taxonomy)
def taxonomy(_: StaffUser, services: ServicesDep) -> Taxonomy:
    """Standards, clauses and classes (canonical order) the service checks incidents against."""
    return services.taxonomy


@router.get("/zone-types", response_model=list[ZoneType])
def zone_types(_: StaffUser) -> list[ZoneType]:
    """Kinds of place a camera zone can be (the zone editor offers these)."""
    return list(ZoneType)


def mount(app: FastAPI) -> None:
    """Serve the single-page UI; it works offline (no CDN) and needs no build step."""
    app.include_router(router)
    app.mount("/ui", StaticFiles(directory=UI_ROOT, html=True), name="ui")
