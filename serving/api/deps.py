"""Dependencies: settings, a database session, the current user and role guards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from detection.taxonomy import Taxonomy
from serving.config import Settings
from serving.db.models import User, UserRole
from serving.schemas.common import MAX_ID
from serving.services.auth import Passwords, user_for_token
from serving.services.errors import Code, ForbiddenError, UnauthorizedError
from serving.services.evidence import BlobStore
from serving.services.read_cache import ReadCache


@dataclass
class Services:
    """Everything a request needs, built once per app."""

    settings: Settings
    sessions: sessionmaker[Session]
    passwords: Passwords
    taxonomy: Taxonomy
    store: BlobStore
    reads: ReadCache


IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Id of a stored row.")]


async def get_services(request: Request) -> Services:  # async: no thread hop for a lookup
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    with services.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="Token from POST /auth/login.")
TokenDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_current_user(services: ServicesDep, session: SessionDep, credentials: TokenDep) -> User:
    if credentials is None:
        raise UnauthorizedError("not authenticated: send 'Authorization: Bearer <token>'")
    user = user_for_token(session, services.settings, credentials.credentials)
    if user is None:
        raise UnauthorizedError("invalid or expired token", code=Code.TOKEN_INVALID)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(*roles: UserRole) -> Callable[[User], User]:
    """A dependency that lets only ``roles`` through (403 for the others)."""
    allowed = frozenset(r.value for r in roles)

    def guard(user: CurrentUser) -> User:
        if user.role not in allowed:
            roles = sorted(allowed)
            raise ForbiddenError(
                f"role '{user.role}' may not do this; allowed: {', '.join(roles)}",
                code=Code.ROLE_NOT_ALLOWED,
                params={"role": user.role, "roles": roles},
            )
        return user

    return guard


R = UserRole
AdminUser = Annotated[User, Depends(require(R.ADMIN))]
DispatcherUser = Annotated[User, Depends(require(R.ADMIN, R.DISPATCHER))]
ReviewerUser = Annotated[User, Depends(require(R.ADMIN, R.REVIEWER))]
IncidentReader = Annotated[User, Depends(require(R.ADMIN, R.DISPATCHER, R.REVIEWER))]
IngestUser = Annotated[User, Depends(require(R.ADMIN, R.DISPATCHER, R.INGEST))]
_staff = require(R.ADMIN, R.DISPATCHER, R.REVIEWER, R.SQUAD_OFFICER)
StaffUser = Annotated[User, Depends(_staff)]


def staff_user(
    services: Services, session: Session, credentials: HTTPAuthorizationCredentials | None
) -> User:
    """``StaffUser`` as a plain call, for a hot route that does its whole work in one thread
    hop (FastAPI runs each sync dependency in a thread of its own)."""
    return _staff(get_current_user(services, session, credentials))
