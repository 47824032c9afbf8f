"""Login, tokens and users."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, model_validator

from serving.db.models import UserRole
from serving.schemas import OutSchema, Schema
from serving.schemas.common import RowId

Username = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9_.-]{3,40}$", description="Login name, 3-40 characters.")
]
Password = Annotated[
    str, Field(min_length=10, max_length=200, description="At least 10 characters.")
]


class TokenOut(Schema):
    access_token: str = Field(description="Opaque bearer token.")
    token_type: str = Field(default="bearer", description="Always 'bearer'.")
    expires_at: datetime = Field(description="When the token stops working (UTC).")


class UserCreate(Schema):
    username: Username
    password: Password
    full_name: str = Field(default="", max_length=100, description="Display name.")
    role: UserRole = Field(description="What the user may do.")
    squad_id: RowId | None = Field(default=None, description="Required for squad officers.")

    @model_validator(mode="after")
    def _squad_matches_role(self) -> UserCreate:
        if (self.role is UserRole.SQUAD_OFFICER) != (self.squad_id is not None):
            raise ValueError("squad_id is required for squad_officer and only for squad_officer")
        return self


class UserUpdate(Schema):
    full_name: str | None = Field(default=None, max_length=100, description="Display name.")
    password: Password | None = None
    active: bool | None = Field(default=None, description="False blocks login and all tokens.")


class UserOut(OutSchema):
    id: int
    username: str
    full_name: str
    role: UserRole
    squad_id: int | None
    active: bool
    created_at: datetime
