"""Camera registry: rows, validated rules configs and redacted URLs."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from detection.capture import redact_url
from detection.errors import validation_message
from detection.rules import SourceConfig
from detection.taxonomy import Taxonomy
from serving.db.base import utcnow
from serving.db.models import Camera
from serving.schemas.cameras import CameraIn, CameraOut, CameraPatch, ZonesIn
from serving.services.errors import ConflictError, InvalidError, NotFoundError


def validated_config(taxonomy: Taxonomy, code: str, config: dict[str, Any]) -> SourceConfig:
    """The camera's rules config; errors are 422s naming the field (``config.zones.0.polygon``).

    The one validation of a camera's config: the API's on every change, the workers' before they
    watch a stored one (the taxonomy may have changed under it).
    """
    if "id" in config and config["id"] != code:
        raise InvalidError(f"config.id: must be the camera code '{code}' (or omitted)")
    try:
        return SourceConfig.model_validate({**config, "id": code}, context={"taxonomy": taxonomy})
    except ValidationError as exc:
        raise InvalidError(validation_message(exc, within=("config",))) from exc


def _stored(config: SourceConfig) -> dict[str, Any]:
    return config.model_dump(mode="json", exclude_defaults=True)


def out(camera: Camera) -> CameraOut:
    """API view: the stream URL is always redacted (it may carry the camera's password)."""
    view = CameraOut.model_validate(camera)
    view.stream_url = redact_url(camera.stream_url)
    view.detect_url = redact_url(camera.detect_url) if camera.detect_url else None
    return view


def create(session: Session, taxonomy: Taxonomy, data: CameraIn) -> Camera:
    if session.scalar(select(Camera.id).where(Camera.code == data.code)) is not None:
        raise ConflictError(f"a camera with code '{data.code}' already exists")
    config = validated_config(taxonomy, data.code, data.config)
    camera = Camera(**data.model_dump(exclude={"config"}), config=_stored(config))
    session.add(camera)
    session.commit()
    return camera


def get(session: Session, camera_id: int) -> Camera:
    camera = session.get(Camera, camera_id)
    if camera is None:
        raise NotFoundError(f"camera {camera_id} not found")
    return camera


def list_all(session: Session) -> list[Camera]:
    return list(session.scalars(select(Camera).order_by(Camera.id)))


def enabled(session: Session) -> list[Camera]:
    return list(session.scalars(select(Camera).where(Camera.enabled).order_by(Camera.id)))


def update(session: Session, taxonomy: Taxonomy, camera_id: int, data: CameraPatch) -> Camera:
    camera = get(session, camera_id)
    changes = data.model_dump(exclude_unset=True)
    if "config" in changes:
        config = changes.pop("config") or {}
        camera.config = _stored(validated_config(taxonomy, camera.code, config))
    for field in ("stream_url", "detect_url"):
        current = getattr(camera, field)
        if current and changes.get(field) == redact_url(current):
            del changes[field]  # the redacted URL sent back unchanged: keep the real one
    for field, value in changes.items():
        setattr(camera, field, value)
    camera.updated_at = utcnow()
    session.commit()
    return camera


def set_zones(session: Session, taxonomy: Taxonomy, camera_id: int, data: ZonesIn) -> Camera:
    """Replace the zones (and frame size) of the camera's rules config, keeping the rest."""
    camera = get(session, camera_id)
    config = {**camera.config, "zones": data.zones, "frame_size": data.frame_size}
    camera.config = _stored(validated_config(taxonomy, camera.code, config))
    camera.updated_at = utcnow()
    session.commit()
    return camera


def set_enabled(session: Session, camera_id: int, value: bool) -> Camera:
    camera = get(session, camera_id)
    camera.enabled = value
    camera.updated_at = utcnow()
    session.commit()
    return camera


def delete(session: Session, camera_id: int) -> None:
    session.delete(get(session, camera_id))
    session.commit()
