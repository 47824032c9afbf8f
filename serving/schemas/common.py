"""Field types shared by several schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from serving.schemas import Schema

MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds on every backend
RowId = Annotated[int, Field(ge=1, le=MAX_ID, description="Id of a stored row.")]
Sha256 = Annotated[
    str, Field(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex SHA-256 of the bytes.")
]
ClauseId = Annotated[str, Field(pattern=r"^[1-6][a-z]$", description="Clause id, e.g. '3a'.")]
Text100 = Annotated[str, Field(min_length=1, max_length=100)]
Note = Annotated[str, Field(default="", max_length=2000, description="Free-text remark.")]
Lat = Annotated[float, Field(ge=-90, le=90, description="Latitude in degrees (WGS-84).")]
Lon = Annotated[float, Field(ge=-180, le=180, description="Longitude in degrees (WGS-84).")]


class Location(Schema):
    lat: Lat
    lon: Lon
    heading: float | None = Field(
        default=None, ge=0, lt=360, description="Direction of travel in degrees, if known."
    )


class Health(Schema):
    status: str = Field(description="'ok' once migrations ran and the database answers.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Set-up problems the service noticed while it runs, e.g. X-Forwarded-For "
        "from a proxy SHIRONG_TRUSTED_PROXIES does not name.",
    )
