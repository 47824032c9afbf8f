"""Retention: stale temp files, videos of finished jobs, evidence of closed tickets, legal holds.

Time passes by dating things back: rows' timestamps (close events, reviews, uploads, jobs) and the
files' modification times, as if they had been written that long ago.
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import update

from detection.errors import ConfigError
from serving.app import create_app
from serving.cli import main
from serving.config import Settings, load_settings
from serving.db.base import utcnow
from serving.db.models import (
    Blob,
    Job,
    JobStatus,
    Review,
    Sighting,
    SightingOutcome,
    TicketEvent,
    UserRole,
    Webhook,
)
from serving.services import retention
from tests.serving.helpers import (
    Api,
    make_record,
    make_settings,
    png_bytes,
    post_record,
    stored_files,
    upload,
)

DAY = 86400
OLD = 400  # days: past the default 365-day evidence and 30-day video retention
RECENT = 10  # days: within both


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Retention runs only when a test asks (the scheduled worker is off)."""
    return make_settings(database_url, tmp_path, retention_worker=False)


def date_back(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in stored_files(root)}


class Store:
    """The test's evidence root, its rows and the admin routes."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.root: Path = api.services.settings.evidence_root
        self.squad = api.squad("west", cameras=["cam-w"])

    def photo(self, color: tuple[int, int, int], days: float = OLD) -> str:
        """Upload a photo, dated ``days`` back (row and file)."""
        response = upload(self.api, png_bytes(color=color))
        assert response.status_code == 201, response.text
        sha = str(response.json()["sha256"])
        with self.api.services.sessions() as session:
            then = utcnow() - timedelta(days=days)
            session.execute(update(Blob).where(Blob.sha256 == sha).values(created_at=then))
            session.commit()
        date_back(self.path(sha), days)
        return sha

    def path(self, sha: str) -> Path:
        return next((self.root / sha[:2]).glob(f"{sha}.*"))

    def ticket(self, evidence: list[str], status: str, days: float = OLD) -> int:
        """A complaint ticket with ``evidence`` driven to ``status``, last acted on ``days`` ago."""
        body = {"clause": "3a", "description": "门前堆放", "camera_id": "cam-w"}
        ticket_id = int(self.api.ok("POST", "/tickets", json=body | {"evidence": evidence})["id"])
        after = self.photo((1, 2, 3), days) if status in ("rectified", "closed") else None
        path = {
            "new": [],
            "dispatched": ["dispatch"],
            "closed": ["dispatch", "accept", "rectify", "close"],
            "cancelled": ["cancel"],
        }[status]
        for action in path:
            body = {"after_photo": after} if action == "rectify" else {"note": "因为"}
            self.api.ok("POST", f"/tickets/{ticket_id}/{action}", json=body)
        with self.api.services.sessions() as session:
            then = utcnow() - timedelta(days=days)
            events = update(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
            session.execute(events.values(at=then))
            session.commit()
        return ticket_id

    def job(self, status: JobStatus, finished_days: float | None, name: str) -> int:
        """A dashcam job row and its stored video (unless one is there), both dated back."""
        video = self.root / "videos" / name
        video.parent.mkdir(parents=True, exist_ok=True)
        if not video.exists():
            video.write_bytes(b"\x00" * 4096)
            date_back(video, OLD + 1)  # uploaded long ago: only the job's status keeps it
        finished = None if finished_days is None else utcnow() - timedelta(days=finished_days)
        with self.api.services.sessions() as session:
            job = Job(
                kind="video",
                status=status.value,
                source_id=f"dashcam-{name[:12]}",
                video_file=name,
                video_name="clip.mp4",
                progress=0.0,
                frames=0,
                incidents=0,
                finished_at=finished,
            )
            session.add(job)
            session.commit()
            return job.id

    def preview(self) -> dict[str, Any]:
        return dict(self.api.ok("GET", "/admin/retention"))

    def run(self) -> dict[str, Any]:
        return dict(self.api.ok("POST", "/admin/retention/run"))

    def hold(self, ticket_id: int, hold: bool, reason: str = "行政复议") -> Any:
        return self.api.client.put(
            f"/tickets/{ticket_id}/legal-hold",
            headers=self.api.admin.headers,
            json={"hold": hold, "reason": reason},
        )


@pytest.fixture
def store(api: Api) -> Store:
    return Store(api)


@pytest.mark.parametrize(
    ("name", "age_s", "removed"),
    [
        ("videos/.upload-killed", 2 * 3600, True),
        ("videos/.upload-in-progress", 60, False),
        ("ab/.tmp-killed", 2 * 3600, True),
        ("ab/.tmp-being-written", 0, False),
    ],
)
def test_stale_temp_files_go_and_fresh_ones_stay(
    store: Store, name: str, age_s: float, removed: bool
) -> None:
    path = store.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 1000)
    date_back(path, age_s / DAY)
    done = store.run()
    assert path.exists() is not removed
    assert [(f["kind"], f["path"]) for f in done["files"]] == ([("temp", name)] if removed else [])


def test_the_service_sweeps_stale_temp_files_at_start_up(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path)  # the worker on, as in production
    stale = settings.evidence_root / "videos" / ".upload-from-a-killed-upload"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"x" * 4096)
    date_back(stale, 1)
    with TestClient(create_app(settings)):
        deadline = time.monotonic() + 30
        while stale.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not stale.exists()


@pytest.mark.parametrize(
    ("status", "finished_days", "removed"),
    [
        (JobStatus.SUCCEEDED, OLD, True),
        (JobStatus.FAILED, 31, True),
        (JobStatus.PARTIAL, 31, True),
        (JobStatus.SUCCEEDED, RECENT, False),
        (JobStatus.RUNNING, None, False),
        (JobStatus.QUEUED, None, False),
    ],
)
def test_videos_go_some_days_after_their_job_finished(
    store: Store, status: JobStatus, finished_days: float | None, removed: bool
) -> None:
    job_id = store.job(status, finished_days, "a" * 64 + ".mp4")
    store.job(JobStatus.SUCCEEDED, OLD, "b" * 64 + ".mp4")  # always due: the run has work
    store.run()
    video = store.root / "videos" / ("a" * 64 + ".mp4")
    assert video.exists() is not removed
    job = store.api.ok("GET", f"/jobs/{job_id}")
    assert job["status"] == status.value  # the row stays, as it was
    assert (job["video_removed_at"] is not None) is removed


def test_a_video_two_jobs_share_stays_while_either_needs_it(store: Store) -> None:
    name = "c" * 64 + ".mp4"
    old = store.job(JobStatus.SUCCEEDED, OLD, name)
    running = store.job(JobStatus.RUNNING, None, name)
    assert store.run()["files"] == []
    assert store.api.ok("GET", f"/jobs/{old}")["video_removed_at"] is None  # not gone: no mark
    with store.api.services.sessions() as session:
        then = utcnow() - timedelta(days=OLD)
        done = {"status": JobStatus.SUCCEEDED.value, "finished_at": then}
        session.execute(update(Job).where(Job.id == running).values(**done))
        session.commit()
    assert [f["path"] for f in store.run()["files"]] == [f"videos/{name}"]
    for job_id in (old, running):
        assert store.api.ok("GET", f"/jobs/{job_id}")["video_removed_at"] is not None


@pytest.mark.parametrize(
    ("status", "days", "held", "removed"),
    [
        ("closed", OLD, False, True),
        ("cancelled", OLD, False, True),
        ("closed", RECENT, False, False),
        ("dispatched", OLD, False, False),
        ("new", OLD, False, False),
        ("closed", OLD, True, False),
    ],
)
def test_ticket_evidence_goes_some_days_after_close_unless_open_or_held(
    store: Store, status: str, days: float, held: bool, removed: bool
) -> None:
    photo = store.photo((200, 0, 0))
    ticket_id = store.ticket([photo], status, days)
    if held:
        assert store.hold(ticket_id, True).status_code == 200
    path = store.path(photo)
    store.run()
    assert path.exists() is not removed
    events = store.api.ok("GET", f"/tickets/{ticket_id}/events")
    removals = [e for e in events if e["action"] == "evidence_removed"]
    assert len(removals) == (1 if removed else 0)
    if removed:
        assert photo in removals[0]["changes"]["evidence_removed"]
        assert removals[0]["actor_id"] is None
        hold = store.api.ok("GET", f"/tickets/{ticket_id}/legal-hold")
        assert hold["evidence_removed_at"] is not None


def test_lifting_a_hold_lets_the_evidence_go_and_both_are_audited(store: Store) -> None:
    photo = store.photo((0, 200, 0))
    ticket_id = store.ticket([photo], "closed")
    placed = store.hold(ticket_id, True, "市民申请行政复议")
    assert placed.status_code == 200, placed.text
    assert placed.json()["legal_hold_by"] == store.api.admin.id
    assert store.hold(ticket_id, True).status_code == 409  # already held
    assert store.run()["files"] == []
    path = store.path(photo)
    lifted = store.hold(ticket_id, False, "复议结束")
    assert lifted.status_code == 200 and lifted.json()["legal_hold"] is False
    gone = store.run()
    assert not path.exists()
    assert store.api.client.get(f"/evidence/{photo}", headers=store.api.admin.headers).is_error
    assert store.api.ok("GET", f"/tickets/{ticket_id}")["evidence"] == [photo]  # the row stays
    assert any(f"ticket {ticket_id}" in f["reason"] for f in gone["files"])
    events = store.api.ok("GET", f"/tickets/{ticket_id}/events")
    trail = [(e["action"], e["note"]) for e in events if e["action"] != "created"][-3:]
    assert trail == [
        ("legal_hold", "市民申请行政复议"),
        ("legal_hold_lifted", "复议结束"),
        ("evidence_removed", "retention: kept 365 days after the ticket was closed"),
    ]


def test_hold_and_removal_events_are_queued_for_the_webhooks_subscribed_to_them(
    store: Store,
) -> None:
    """Holds and retention's removals are ticket events written as the lifecycle's are, outbox
    included. Webhooks cannot subscribe to them (they are not among the webhook events), so a
    webhook on every event gets the lifecycle's only; one subscribed in the database gets them."""
    kept = ["ticket.legal_hold", "ticket.legal_hold_lifted", "ticket.evidence_removed"]
    refused = store.api.client.post(
        "/webhooks",
        headers=store.api.admin.headers,
        json={"name": "x", "url": "http://hooks.test/x", "events": kept},
    )
    assert refused.status_code == 422
    assert f"unknown events: {', '.join(sorted(kept))}" in refused.text
    every = store.api.ok("POST", "/webhooks", json={"name": "all", "url": "http://hooks.test/a"})
    with store.api.services.sessions() as session:
        hook = Webhook(name="holds", url="http://hooks.test/h", format="json", events=kept)
        session.add(hook)
        session.commit()
        holds = hook.id
    ticket_id = store.ticket([store.photo((0, 0, 100))], "closed")
    assert store.hold(ticket_id, True).status_code == 200
    assert store.hold(ticket_id, False).status_code == 200
    assert store.run()["records"]
    queued = sorted(
        (m["id"], m["webhook_id"], m["event"])
        for m in store.api.ok("GET", "/outbox")
        if m["ticket_id"] == ticket_id
    )
    lifecycle = ["created", "dispatch", "accept", "rectify", "close"]
    assert [e for _, w, e in queued if w == every["id"]] == [f"ticket.{a}" for a in lifecycle]
    assert [e for _, w, e in queued if w == holds] == kept


def test_shared_evidence_stays_while_any_live_record_needs_it(store: Store) -> None:
    shared = store.photo((0, 0, 200))
    first = store.ticket([shared], "closed")
    second = store.ticket([shared], "dispatched")
    path = store.path(shared).relative_to(store.root).as_posix()
    done = store.run()
    assert path not in {f["path"] for f in done["files"]}  # the first's after-photo goes
    assert store.path(shared).exists()
    first_hold = store.api.ok("GET", f"/tickets/{first}/legal-hold")
    assert first_hold["evidence_removed_at"] is None  # its file is still there: not marked
    store.api.ok("POST", f"/tickets/{second}/cancel", json={"note": "重复"})
    with store.api.services.sessions() as session:
        then = utcnow() - timedelta(days=OLD)
        events = update(TicketEvent).where(TicketEvent.ticket_id == second)
        session.execute(events.values(at=then))
        session.commit()
    done = store.run()
    reasons = {f["path"]: f["reason"] for f in done["files"]}
    assert f"ticket {first}," in reasons[path] and f"ticket {second}," in reasons[path]
    assert {f"ticket {first}", f"ticket {second}"} <= set(done["records"])


def test_incident_evidence_follows_review_and_ticket(store: Store) -> None:
    def incident(n: int) -> tuple[int, list[Path]]:
        record = make_record(
            record_id=f"11111111-1111-4111-8111-00000000000{n}",
            source_id=f"cam-{n}",  # apart: not one situation seen three times
            location=(36.0 + n, 120.0),
        )
        body = post_record(store.api, record)
        paths = []
        for sha in body["evidence"]:
            path = store.root / sha[:2] / f"{sha}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(sha.encode())
            date_back(path, OLD)
            paths.append(path)
        return int(body["id"]), paths

    def review(incident_id: int, action: str) -> Any:
        body = {"action": action} | ({"reason": "false_positive"} if action == "reject" else {})
        result = store.api.ok("POST", f"/incidents/{incident_id}/reviews", json=body)
        with store.api.services.sessions() as session:
            then = utcnow() - timedelta(days=OLD)
            reviews = update(Review).where(Review.incident_id == incident_id)
            session.execute(reviews.values(created_at=then))
            session.commit()
        return result

    pending, pending_files = incident(1)
    rejected, rejected_files = incident(2)
    review(rejected, "reject")
    confirmed, confirmed_files = incident(3)
    ticket_id = review(confirmed, "confirm")["ticket_id"]
    done = store.run()
    assert all(p.exists() for p in pending_files + confirmed_files)  # pending; ticket is new
    assert not any(p.exists() for p in rejected_files)
    assert f"incident {rejected}" in done["records"]
    assert f"incident {pending}" not in done["records"]
    store.api.ok("POST", f"/tickets/{ticket_id}/cancel", json={"note": "误报"})
    with store.api.services.sessions() as session:
        then = utcnow() - timedelta(days=OLD)
        events = update(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
        session.execute(events.values(at=then))
        session.commit()
    done = store.run()
    assert not any(p.exists() for p in confirmed_files)  # annotated copies and crops too
    assert {f"incident {confirmed}", f"ticket {ticket_id}"} <= set(done["records"])


def test_dry_run_changes_nothing_and_lists_exactly_what_the_run_removes(store: Store) -> None:
    kept_photo, gone_photo = store.photo((9, 9, 9)), store.photo((8, 8, 8))
    store.ticket([kept_photo], "dispatched")
    store.ticket([gone_photo], "closed")
    store.photo((7, 7, 7))  # an upload nothing uses
    store.photo((6, 6, 6), days=RECENT)  # a recent one
    store.job(JobStatus.SUCCEEDED, OLD, "d" * 64 + ".mp4")
    store.job(JobStatus.SUCCEEDED, RECENT, "e" * 64 + ".mp4")
    stale = store.root / "videos" / ".upload-killed"
    stale.write_bytes(b"x" * 12345)
    date_back(stale, 1)
    before = files_under(store.root)

    preview = store.preview()
    again = store.preview()  # the first one marked nothing either
    assert files_under(store.root) == before
    assert (again["files"], again["records"]) == (preview["files"], preview["records"])
    done = store.run()

    assert preview["dry_run"] is True and done["dry_run"] is False
    assert done["files"] == preview["files"] and done["records"] == preview["records"]
    listed = {f["path"] for f in preview["files"]}
    assert before - files_under(store.root) == listed
    assert {f["kind"] for f in preview["files"]} == {"temp", "video", "evidence"}
    assert done["total_bytes"] == sum(f["bytes"] for f in done["files"]) > 12345
    assert store.run()["files"] == []  # nothing left to do


def test_a_crash_between_removing_and_marking_is_finished_by_the_next_run(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = store.job(JobStatus.SUCCEEDED, OLD, "f" * 64 + ".mp4")

    def crash(*_: object) -> None:
        raise RuntimeError("the process dies between removing and marking")

    with monkeypatch.context() as patch, store.api.services.sessions() as session:
        patch.setattr(retention, "_mark", crash)
        with pytest.raises(RuntimeError):
            retention.run(session, store.api.services.settings, store.api.services.taxonomy)
    assert not (store.root / "videos" / ("f" * 64 + ".mp4")).exists()
    assert store.api.ok("GET", f"/jobs/{job_id}")["video_removed_at"] is None
    done = store.run()
    assert done["files"] == [] and done["records"] == [f"job {job_id}"]
    assert store.api.ok("GET", f"/jobs/{job_id}")["video_removed_at"] is not None


def test_only_admins_use_retention_and_holds(store: Store) -> None:
    ticket_id = store.ticket([], "new")
    for role in (UserRole.DISPATCHER, UserRole.REVIEWER, UserRole.INGEST):
        actor = store.api.actor(role)
        for method, path, body in (
            ("GET", "/admin/retention", None),
            ("POST", "/admin/retention/run", None),
            ("GET", f"/tickets/{ticket_id}/legal-hold", None),
            ("PUT", f"/tickets/{ticket_id}/legal-hold", {"hold": True, "reason": "x"}),
        ):
            response = store.api.client.request(method, path, headers=actor.headers, json=body)
            assert response.status_code == 403, (role, method, path)
    assert store.hold(999999, True).status_code == 404
    unknown = store.api.client.get("/tickets/999999/legal-hold", headers=store.api.admin.headers)
    assert unknown.status_code == 404
    assert store.hold(ticket_id, True, reason="").status_code == 422
    assert store.hold(ticket_id, False).status_code == 409  # not held


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retention_video_days", -1),
        ("retention_evidence_days", 40000),
        ("retention_temp_max_age_s", 10),
        ("retention_interval_s", 0),
    ],
)
def test_retention_settings_out_of_range_are_refused_with_a_message(
    field: str, value: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(env="development", **{field: value})
    monkeypatch.setenv("SHIRONG_ENV", "development")
    monkeypatch.setenv(f"SHIRONG_{field.upper()}", str(value))
    with pytest.raises(ConfigError, match=rf"(?s){field}.*(greater|less) than"):
        load_settings()


def test_the_cli_dry_run_prints_files_bytes_and_reasons(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = store.job(JobStatus.FAILED, OLD, "9" * 64 + ".mp4")
    settings = store.api.services.settings
    monkeypatch.setenv("SHIRONG_ENV", "development")
    monkeypatch.setenv("SHIRONG_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SHIRONG_EVIDENCE_ROOT", str(store.root))
    assert main(["retention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"video            4096  videos/{'9' * 64}.mp4  video of job {job_id} (failed " in out
    assert "would remove 1 files, 4096 bytes" in out
    assert (store.root / "videos" / ("9" * 64 + ".mp4")).exists()
    assert main(["retention"]) == 0
    assert "removed 1 files, 4096 bytes" in capsys.readouterr().out
    assert not (store.root / "videos" / ("9" * 64 + ".mp4")).exists()


def test_sighting_frames_share_their_incident_fate(store: Store) -> None:
    """Later sightings of a situation keep their frames while the incident lives, then lose them."""

    def incident_with_sighting(n: int, action: str | None) -> tuple[int, Path]:
        record = make_record(
            record_id=f"22222222-2222-4222-8222-00000000000{n}",
            source_id=f"cam-s{n}",
            location=(30.0 + n, 110.0),
        )
        incident_id = int(post_record(store.api, record)["id"])
        frame = store.root / "sg" / f"sighting-{n}.png"
        frame.parent.mkdir(parents=True, exist_ok=True)
        frame.write_bytes(f"sighting {n}".encode())
        date_back(frame, OLD)
        sha = hashlib.sha256(frame.read_bytes()).hexdigest()
        target = store.root / sha[:2] / f"{sha}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.replace(target)
        with store.api.services.sessions() as session:
            session.add(
                Sighting(
                    record_id=f"sighting-{n}",
                    incident_id=incident_id,
                    outcome=SightingOutcome.SUPPRESSED.value,
                    first_seen=record.first_seen,
                    last_seen=record.last_seen,
                    confidence=0.5,
                    evidence=[sha],
                    files=[sha],
                )
            )
            session.commit()
        if action is not None:
            body = {"action": action, "reason": "false_positive"}
            store.api.ok("POST", f"/incidents/{incident_id}/reviews", json=body)
            with store.api.services.sessions() as session:
                reviews = update(Review).where(Review.incident_id == incident_id)
                session.execute(reviews.values(created_at=utcnow() - timedelta(days=OLD)))
                session.commit()
        return incident_id, target

    _, pending_frame = incident_with_sighting(1, None)
    rejected, rejected_frame = incident_with_sighting(2, "reject")
    done = store.run()
    assert pending_frame.exists()
    assert not rejected_frame.exists()
    assert f"incident {rejected}" in done["records"]


def test_a_removed_photo_uploaded_again_counts_as_stored(store: Store) -> None:
    sha = store.photo((9, 99, 199))
    path = store.path(sha)
    store.run()
    assert not path.exists()
    again = upload(store.api, png_bytes(color=(9, 99, 199)))
    assert again.status_code == 200 and path.exists()
    with store.api.services.sessions() as session:
        assert session.get(Blob, sha).removed_at is None  # the next run may remove it again
