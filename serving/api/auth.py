"""Login, logout and the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from serving.api.deps import CurrentUser, ServicesDep, SessionDep, TokenDep
from serving.schemas.auth import TokenOut, UserOut
from serving.services import auth

router = APIRouter(tags=["auth"])


@router.post("/auth/login", response_model=TokenOut)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> TokenOut:
    """OAuth2 password flow (form fields username, password); 429 after repeated failures."""
    ip = request.client.host if request.client else "unknown"
    user = auth.authenticate(
        session, services.settings, services.passwords, form.username, form.password, ip
    )
    if user is None:
        session.commit()  # keep the failure count
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
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
