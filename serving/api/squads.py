"""Squads, jurisdictions and the routing check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from serving.api.deps import AdminUser, DispatcherUser, IdPath, SessionDep, StaffUser
from serving.schemas.common import Lat, Lon
from serving.schemas.squads import RouteOut, SquadIn, SquadOut
from serving.services import routing, squads

router = APIRouter(tags=["squads"])


@router.post("/squads", response_model=SquadOut, status_code=status.HTTP_201_CREATED)
def create_squad(data: SquadIn, _: AdminUser, session: SessionDep) -> SquadOut:
    return SquadOut.model_validate(squads.create_squad(session, data))


@router.get("/squads", response_model=list[SquadOut])
def list_squads(_: StaffUser, session: SessionDep) -> list[SquadOut]:
    return [SquadOut.model_validate(s) for s in squads.list_squads(session)]


@router.get("/squads/{squad_id}", response_model=SquadOut)
def get_squad(squad_id: IdPath, _: StaffUser, session: SessionDep) -> SquadOut:
    return SquadOut.model_validate(squads.get_squad(session, squad_id))


@router.put("/squads/{squad_id}", response_model=SquadOut)
def replace_squad(squad_id: IdPath, data: SquadIn, _: AdminUser, session: SessionDep) -> SquadOut:
    """Replace the squad and its whole jurisdiction."""
    return SquadOut.model_validate(squads.replace_squad(session, squad_id, data))


@router.get("/routing", response_model=RouteOut)
def resolve_route(
    _: DispatcherUser,
    session: SessionDep,
    camera_id: Annotated[str | None, Query(max_length=100)] = None,
    lat: Annotated[Lat | None, Query()] = None,
    lon: Annotated[Lon | None, Query()] = None,
    road: Annotated[str | None, Query(max_length=100)] = None,
) -> RouteOut:
    """Which squad a ticket with these attributes would go to, and why."""
    found = routing.route(session, camera_id, lat, lon, road)
    return RouteOut(
        squad_id=found.squad_id,
        via=found.via.value if found.via else None,
        officer_id=found.officer_id,
    )
