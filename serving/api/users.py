"""User administration (admin only)."""

from __future__ import annotations

from fastapi import APIRouter, status

from serving.api.deps import AdminUser, IdPath, ServicesDep, SessionDep
from serving.schemas.auth import UserCreate, UserOut, UserUpdate
from serving.services import users

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(
    data: UserCreate, _: AdminUser, services: ServicesDep, session: SessionDep
) -> UserOut:
    return UserOut.model_validate(users.create_user(session, services.passwords, data))


@router.get("", response_model=list[UserOut])
def list_users(_: AdminUser, session: SessionDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in users.list_users(session)]


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: IdPath, _: AdminUser, session: SessionDep) -> UserOut:
    return UserOut.model_validate(users.get_user(session, user_id))


@router.patch("/{user_id}", response_model=UserOut)
def update_user(
    user_id: IdPath, data: UserUpdate, _: AdminUser, services: ServicesDep, session: SessionDep
) -> UserOut:
    return UserOut.model_validate(users.update_user(session, services.passwords, user_id, data))
