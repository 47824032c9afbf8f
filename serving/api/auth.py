"""Login, logout and the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from serving.api.deps import CurrentUser, ServicesDep, SessionDep, TokenDep
from serving.schemas.auth import TokenOut, UserOut
from serving.services import auth
from serving.services.errors import Code, UnauthorizedError

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/login",
    response_model=TokenOut,
    responses={
        429: {"description": "Too many failed logins for this username or from this address."},
        503: {"description": "Too many logins in progress; retry after Retry-After seconds."},
    },
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> TokenOut:
    """OAuth2 password flow (form fields username, password); 429 after repeated failures.

    The client address is the peer's, or X-Forwarded-For's only from ``trusted_proxies``.
    """
    ip = request.client.host if request.client else "unknown"
    user = auth.authenticate(
        session, services.settings, services.passwords, form.username, form.password, ip
    )
    if user is None:  # the failure is already committed
        raise UnauthorizedError("wrong username or password", code=Code.WRONG_CREDENTIALS)
    issued = auth.issue_token(session, services.settings, user)
    session.commit()
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    user: CurrentUser, services: ServicesDep, session: SessionDep, credentials: TokenDep
) -> None:
    """Revoke the token this request carries."""
    assert credentials is not None  # CurrentUser has checked it
    auth.revoke_token(session, services.settings, credentials.credentials)
    session.commit()


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)
