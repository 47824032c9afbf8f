"""Squads and their jurisdictions."""

from __future__ import annotations

from pydantic import Field, model_validator

from serving.db.models import SquadKind
from serving.schemas import OutSchema, Schema
from serving.schemas.common import Lat, Lon, RowId, Text100


class AreaIn(Schema):
    name: Text100
    polygon: list[tuple[Lat, Lon]] = Field(
        min_length=3, max_length=10_000, description="Vertices as [lat, lon], not closed."
    )


class RoadIn(Schema):
    road: Text100 = Field(description="Road name as incidents and complaints spell it.")
    officer_id: RowId | None = Field(
        default=None, description="Officer responsible for the road (定人定路)."
    )
    model_road: bool = Field(default=False, description="A model road (示范路): higher priority.")
    key_road: bool = Field(default=False, description="Watched by higher levels: higher priority.")


class PremisesIn(Schema):
    name: Text100
    business_type: str = Field(
        min_length=1, max_length=40, description="E.g. internet_cafe, ktv, driving_school."
    )
    lat: Lat
    lon: Lon
    radius_m: float = Field(gt=0, le=5000, description="Street order within this radius.")


class SquadIn(Schema):
    code: str = Field(pattern=r"^[a-z0-9_-]{2,40}$", description="Short unique code.")
    name: Text100
    kind: SquadKind = Field(description="area (派驻中队) or specialised (直属中队).")
    business_types: list[Text100] = Field(
        default_factory=list, max_length=50, description="Lines of business (specialised)."
    )
    areas: list[AreaIn] = Field(default_factory=list, max_length=100)
    cameras: list[Text100] = Field(default_factory=list, max_length=10_000)
    roads: list[RoadIn] = Field(default_factory=list, max_length=10_000)
    premises: list[PremisesIn] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _kind_fits(self) -> SquadIn:
        if self.kind is SquadKind.AREA and (self.premises or self.business_types):
            raise ValueError("premises and business_types belong to specialised squads")
        roads = [r.road for r in self.roads]
        if len(roads) != len(set(roads)):
            raise ValueError("a road is listed twice")
        if len(self.cameras) != len(set(self.cameras)):
            raise ValueError("a camera is listed twice")
        return self


class AreaOut(OutSchema):
    name: str
    polygon: list[list[float]]


class CameraOut(OutSchema):
    camera_id: str


class RoadOut(OutSchema):
    road: str
    officer_id: int | None
    model_road: bool
    key_road: bool


class PremisesOut(OutSchema):
    name: str
    business_type: str
    lat: float
    lon: float
    radius_m: float


class SquadOut(OutSchema):
    id: int
    code: str
    name: str
    kind: SquadKind
    business_types: list[str]
    areas: list[AreaOut]
    cameras: list[CameraOut]
    roads: list[RoadOut]
    premises: list[PremisesOut]


class RouteOut(Schema):
    squad_id: int | None = Field(description="Owning squad, or null when nothing matches.")
    via: str | None = Field(description="camera, premises, area or road.")
    officer_id: int | None = Field(description="Officer named for the road, if any.")
