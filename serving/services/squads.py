"""Squads and their jurisdictions (areas, cameras, roads with officers, premises)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from serving.db.models import Premises, Squad, SquadArea, SquadCamera, SquadRoad, User, UserRole
from serving.schemas.squads import SquadIn
from serving.services.errors import ConflictError, InvalidError, NotFoundError


def create_squad(session: Session, data: SquadIn) -> Squad:
    if session.scalar(select(Squad.id).where(Squad.code == data.code)) is not None:
        raise ConflictError(f"squad code '{data.code}' is taken")
    squad = Squad(code=data.code, name=data.name, kind=data.kind.value)
    session.add(squad)
    session.flush()
    _set_jurisdiction(session, squad, data)
    session.commit()
    return get_squad(session, squad.id)


def replace_squad(session: Session, squad_id: int, data: SquadIn) -> Squad:
    """Replace a squad's name, kind and whole jurisdiction."""
    squad = get_squad(session, squad_id)
    other = session.scalar(select(Squad.id).where(Squad.code == data.code, Squad.id != squad_id))
    if other is not None:
        raise ConflictError(f"squad code '{data.code}' is taken")
    squad.code, squad.name, squad.kind = data.code, data.name, data.kind.value
    squad.areas.clear()
    squad.cameras.clear()
    squad.roads.clear()
    squad.premises.clear()
    session.flush()
    _set_jurisdiction(session, squad, data)
    session.commit()
    return get_squad(session, squad.id)


def _set_jurisdiction(session: Session, squad: Squad, data: SquadIn) -> None:
    taken = session.scalars(
        select(SquadCamera).where(
            SquadCamera.camera_id.in_(data.cameras), SquadCamera.squad_id != squad.id
        )
    ).all()
    if taken:
        names = ", ".join(f"'{c.camera_id}' (squad {c.squad_id})" for c in taken)
        raise ConflictError(f"cameras already belong to another squad: {names}")
    for road in data.roads:
        if road.officer_id is not None:
            _check_officer(session, road.officer_id, squad.id)
    squad.business_types = list(data.business_types)
    squad.areas.extend(
        SquadArea(name=a.name, polygon=[list(p) for p in a.polygon]) for a in data.areas
    )
    squad.cameras.extend(SquadCamera(camera_id=c) for c in data.cameras)
    squad.roads.extend(SquadRoad(**r.model_dump()) for r in data.roads)
    squad.premises.extend(Premises(**p.model_dump()) for p in data.premises)


def _check_officer(session: Session, officer_id: int, squad_id: int) -> None:
    officer = session.get(User, officer_id)
    if officer is None or officer.role != UserRole.SQUAD_OFFICER.value:
        raise InvalidError(f"officer_id {officer_id} is not a squad officer")
    if officer.squad_id != squad_id:
        raise InvalidError(f"officer {officer.username} belongs to another squad")


def get_squad(session: Session, squad_id: int) -> Squad:
    squad = session.scalar(
        select(Squad)
        .where(Squad.id == squad_id)
        .options(*(selectinload(rel) for rel in _RELATIONS))
    )
    if squad is None:
        raise NotFoundError(f"squad {squad_id} not found")
    return squad


def list_squads(session: Session) -> list[Squad]:
    query = select(Squad).order_by(Squad.id).options(*(selectinload(r) for r in _RELATIONS))
    return list(session.scalars(query))


_RELATIONS = (Squad.areas, Squad.cameras, Squad.roads, Squad.premises)
