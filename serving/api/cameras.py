"""Camera registry, live status, snapshot for the zone editor, and start/stop of stream workers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from serving.api.deps import DispatcherUser, IdPath, IncidentReader, ServicesDep, SessionDep
from serving.schemas.cameras import CameraIn, CameraOut, CameraPatch, CameraStatus, ZonesIn
from serving.services import cameras
from serving.services.errors import NotFoundError
from serving.workers.cameras import CameraManager

router = APIRouter(prefix="/cameras", tags=["cameras"])


def _manager(request: Request) -> CameraManager:
    manager: CameraManager = request.app.state.cameras
    return manager


def _set_enabled(request: Request, session: Session, camera_id: int, enabled: bool) -> CameraStatus:
    camera = cameras.set_enabled(session, camera_id, enabled)
    manager = _manager(request)
    manager.apply(camera)
    return manager.status(camera)


@router.post("", response_model=CameraOut, status_code=status.HTTP_201_CREATED)
def create_camera(
    data: CameraIn, request: Request, _: DispatcherUser, services: ServicesDep, session: SessionDep
) -> CameraOut:
    """Register a camera; an enabled one is watched at once. 422 names a bad config field."""
    camera = cameras.create(session, services.taxonomy, data)
    _manager(request).apply(camera)
    return cameras.out(camera)


@router.get("", response_model=list[CameraOut])
def list_cameras(_: IncidentReader, session: SessionDep) -> list[CameraOut]:
    return [cameras.out(c) for c in cameras.list_all(session)]


@router.get("/{camera_id}", response_model=CameraOut)
def get_camera(camera_id: IdPath, _: IncidentReader, session: SessionDep) -> CameraOut:
    return cameras.out(cameras.get(session, camera_id))


@router.patch("/{camera_id}", response_model=CameraOut)
def update_camera(
    camera_id: IdPath,
    data: CameraPatch,
    request: Request,
    _: DispatcherUser,
    services: ServicesDep,
    session: SessionDep,
) -> CameraOut:
    """Change fields; a running worker restarts with the new URL and rules."""
    camera = cameras.update(session, services.taxonomy, camera_id, data)
    _manager(request).apply(camera)
    return cameras.out(camera)


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_camera(
    camera_id: IdPath, request: Request, _: DispatcherUser, session: SessionDep
) -> Response:
    cameras.delete(session, camera_id)
    _manager(request).remove(camera_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{camera_id}/start", response_model=CameraStatus)
def start_camera(
    camera_id: IdPath, request: Request, _: DispatcherUser, session: SessionDep
) -> CameraStatus:
    """Enable the camera and (re)start its worker."""
    return _set_enabled(request, session, camera_id, True)


@router.post("/{camera_id}/stop", response_model=CameraStatus)
def stop_camera(
    camera_id: IdPath, request: Request, _: DispatcherUser, session: SessionDep
) -> CameraStatus:
    """Disable the camera; its worker closes its open incidents and ends."""
    return _set_enabled(request, session, camera_id, False)


@router.get("/{camera_id}/status", response_model=CameraStatus)
def camera_status(
    camera_id: IdPath, request: Request, _: IncidentReader, session: SessionDep
) -> CameraStatus:
    return _manager(request).status(cameras.get(session, camera_id))


@router.get(
    "/{camera_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The newest analysed frame."}},
)
def camera_snapshot(
    camera_id: IdPath, request: Request, _: IncidentReader, session: SessionDep
) -> Response:
    """The newest analysed frame (JPEG), to draw zones on; 404 before the first frame."""
    camera = cameras.get(session, camera_id)
    data = _manager(request).snapshot(camera.id)
    if data is None:
        raise NotFoundError(f"camera {camera_id} has no frame yet (is it started and online?)")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.put("/{camera_id}/zones", response_model=CameraOut)
def put_zones(
    camera_id: IdPath,
    data: ZonesIn,
    request: Request,
    _: DispatcherUser,
    services: ServicesDep,
    session: SessionDep,
) -> CameraOut:
    """Save the zone editor's polygons into the camera's rules config (the worker reloads)."""
    camera = cameras.set_zones(session, services.taxonomy, camera_id, data)
    _manager(request).apply(camera)
    return cameras.out(camera)
