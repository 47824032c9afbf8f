"""User administration."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db.models import Squad, User
from serving.schemas.auth import UserCreate, UserUpdate
from serving.services.auth import Passwords
from serving.services.errors import ConflictError, InvalidError, NotFoundError


def create_user(session: Session, passwords: Passwords, data: UserCreate) -> User:
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise ConflictError(f"username '{data.username}' is taken")
    if data.squad_id is not None and session.get(Squad, data.squad_id) is None:
        raise InvalidError(f"squad {data.squad_id} does not exist")
    user = User(
        username=data.username,
        full_name=data.full_name,
        password_hash=passwords.hash(data.password),
        role=data.role.value,
        squad_id=data.squad_id,
    )
    session.add(user)
    session.commit()
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return user


def update_user(session: Session, passwords: Passwords, user_id: int, data: UserUpdate) -> User:
    user = get_user(session, user_id)
    if data.full_name is not None:
        user.full_name = data.full_name
    if data.password is not None:
        user.password_hash = passwords.hash(data.password)
    if data.active is not None:
        user.active = data.active
    session.commit()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))
