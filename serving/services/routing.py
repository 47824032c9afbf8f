"""Which squad owns a ticket: by camera, then location, then road name.

Location means the premises radius of a specialised squad (直属中队, it owns street order
around the businesses it supervises) before the polygon of an area squad (派驻中队), since the
former is the more specific claim. The officer comes from the road assignment (定人定路) of the
chosen squad.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from detection.geo import haversine_m
from serving.db.models import Premises, SquadArea, SquadCamera, SquadRoad
from serving.services.geo import point_in_polygon


class RouteVia(StrEnum):
    CAMERA = "camera"
    PREMISES = "premises"
    AREA = "area"
    ROAD = "road"


@dataclass(frozen=True)
class Route:
    squad_id: int | None
    via: RouteVia | None
    officer_id: int | None = None


def route(
    session: Session,
    camera_id: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    road: str | None = None,
) -> Route:
    """The owning squad and how it was found; ``Route(None, None)`` when nothing matches."""
    squad_id, via = _squad_by_camera(session, camera_id), RouteVia.CAMERA
    if squad_id is None and lat is not None and lon is not None:
        squad_id, via = _squad_by_premises(session, lat, lon), RouteVia.PREMISES
        if squad_id is None:
            squad_id, via = _squad_by_area(session, lat, lon), RouteVia.AREA
    if squad_id is None and road:
        squad_id, via = _squad_by_road(session, road), RouteVia.ROAD
    if squad_id is None:
        return Route(None, None)
    assignment = _road_assignment(session, squad_id, road)
    return Route(squad_id, via, assignment.officer_id if assignment else None)


def _squad_by_camera(session: Session, camera_id: str | None) -> int | None:
    if not camera_id:
        return None
    camera = session.get(SquadCamera, camera_id)
    return camera.squad_id if camera else None


def _squad_by_premises(session: Session, lat: float, lon: float) -> int | None:
    """The squad of the nearest premises whose radius covers the point."""
    covering = [
        (haversine_m(lat, lon, p.lat, p.lon), p.id, p.squad_id)
        for p in session.scalars(select(Premises))
        if haversine_m(lat, lon, p.lat, p.lon) <= p.radius_m
    ]
    return min(covering)[2] if covering else None


def _squad_by_area(session: Session, lat: float, lon: float) -> int | None:
    for area in session.scalars(select(SquadArea).order_by(SquadArea.id)):
        if point_in_polygon(lat, lon, area.polygon):
            return area.squad_id
    return None


def _squad_by_road(session: Session, road: str) -> int | None:
    return session.scalar(
        select(SquadRoad.squad_id).where(SquadRoad.road == road).order_by(SquadRoad.id).limit(1)
    )


def _road_assignment(session: Session, squad_id: int, road: str | None) -> SquadRoad | None:
    if not road:
        return None
    return session.scalar(
        select(SquadRoad).where(SquadRoad.squad_id == squad_id, SquadRoad.road == road)
    )


def road_flags(session: Session, road: str | None) -> tuple[bool, bool]:
    """(model road 示范路, key road watched by higher levels) for a road name, over all squads."""
    if not road:
        return False, False
    rows = session.execute(
        select(SquadRoad.model_road, SquadRoad.key_road).where(SquadRoad.road == road)
    ).all()
    return any(r.model_road for r in rows), any(r.key_road for r in rows)
