"""Demo data for development: squads with jurisdictions, one user per role, printed logins."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from detection.errors import ConfigError
from serving.config import Environment, Settings
from serving.db.models import Squad, SquadRoad, User, UserRole
from serving.db.session import make_engine, make_session_factory
from serving.migrations import upgrade
from serving.schemas.auth import UserCreate
from serving.schemas.squads import SquadIn
from serving.services.auth import Passwords
from serving.services.squads import create_squad
from serving.services.users import create_user

# Around Qingdao West Coast New Area; coordinates are illustrative.
DEMO_SQUADS = (
    SquadIn.model_validate(
        {
            "code": "lingshanwei",
            "name": "灵山卫派驻中队",
            "kind": "area",
            "areas": [
                {
                    "name": "灵山卫街道",
                    "polygon": [[35.93, 120.15], [35.93, 120.21], [35.98, 120.21], [35.98, 120.15]],
                }
            ],
            "cameras": ["cam-lsw-01", "cam-lsw-02"],
            "roads": [
                {"road": "长江西路", "model_road": True},
                {"road": "滨海大道", "key_road": True},
            ],
        }
    ),
    SquadIn.model_validate(
        {
            "code": "culture-market",
            "name": "文化市场直属中队",
            "kind": "specialised",
            "business_types": ["internet_cafe", "ktv", "bookstore"],
            "premises": [
                {
                    "name": "星光KTV",
                    "business_type": "ktv",
                    "lat": 35.955,
                    "lon": 120.18,
                    "radius_m": 150,
                }
            ],
        }
    ),
)


def seed_demo(settings: Settings) -> list[str]:
    """Create what is missing and return one line per created login (password shown once)."""
    if settings.env is not Environment.DEVELOPMENT:
        raise ConfigError(
            "seed-demo adds users with printed passwords; run it only with SHIRONG_ENV=development"
        )
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    passwords = Passwords(settings)
    logins: list[str] = []
    try:
        with make_session_factory(engine)() as session:
            squads = {}
            for squad in DEMO_SQUADS:
                found = session.scalar(select(Squad).where(Squad.code == squad.code))
                squads[squad.code] = (found or create_squad(session, squad)).id
            people = [
                ("demo-admin", UserRole.ADMIN, None),
                ("demo-dispatcher", UserRole.DISPATCHER, None),
                ("demo-reviewer", UserRole.REVIEWER, None),
                ("demo-ingest", UserRole.INGEST, None),
                ("demo-officer-lsw", UserRole.SQUAD_OFFICER, squads["lingshanwei"]),
                ("demo-officer-culture", UserRole.SQUAD_OFFICER, squads["culture-market"]),
            ]
            for username, role, squad_id in people:
                if session.scalar(select(User.id).where(User.username == username)):
                    logins.append(f"{username:22} (exists; password unchanged)")
                    continue
                password = secrets.token_urlsafe(12)
                user = UserCreate(
                    username=username, password=password, role=role, squad_id=squad_id
                )
                create_user(session, passwords, user)
                logins.append(f"{username:22} {password}  ({role.value})")
            _assign_road(session, squads["lingshanwei"], "长江西路", "demo-officer-lsw")
    finally:
        engine.dispose()
    return logins


def _assign_road(session: Session, squad_id: int, road: str, username: str) -> None:
    """定人定路: name the demo officer for a road."""
    officer_id = session.scalar(select(User.id).where(User.username == username))
    row = session.scalar(
        select(SquadRoad).where(SquadRoad.squad_id == squad_id, SquadRoad.road == road)
    )
    if row is not None and officer_id is not None:
        row.officer_id = officer_id
        session.commit()
