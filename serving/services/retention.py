"""The lifecycle of stored files: temp files of interrupted writes, dashcam videos, evidence.

Policy (``retention_*`` settings), applied by one function for the dry run, the admin route, the
CLI and the scheduled worker:

- a temp file (``*/.upload-*`` of video uploads, ``*/.tmp-*`` of the evidence store) not written
  to for ``retention_temp_max_age_s`` was left by a killed upload or write: it goes;
- a video or GPS track (``videos/``) goes once no live job needs it (queued, running, or finished
  less than ``retention_video_days`` ago) and it was stored longer ago than that; its jobs' rows
  stay, with ``video_removed_at``;
- an evidence file (an upload or an evidence frame, by SHA-256) goes once an expired record refers
  to it and no live one does. Expired: a closed or cancelled ticket ``retention_evidence_days``
  after its close (or cancel) unless it is on legal hold, a rejected incident that long after its
  rejection, a confirmed incident with its ticket, an upload that old. Everything else is live:
  open tickets, held ones, pending incidents, anything younger. A file written (again) less than
  the period ago is kept too.

Files no record refers to (a ``shirong watch`` folder used as the evidence root) are never touched.
Blob rows stay, because tickets' ``after_photo`` refers to them: the file goes, the row gets
``removed_at``.

Order: files first, then marks, and a row is marked only when its files are gone; so a mark is
always true. A crash in between leaves rows unmarked whose files are (partly) gone: the next run
plans them again, finds the files missing and marks them. Runs and legal-hold changes in one
process are serialised by ``tickets.LEGAL_HOLD_LOCK``; marks are conditional UPDATEs, so a row
changed since the plan (reopened, held) or marked by another process is left alone, and audited
once. A ticket's audit event is written as every ticket event is (``tickets.record_event``).
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVarTuple, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    Subquery,
    Update,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from detection.taxonomy import Taxonomy, default_taxonomy
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import (
    Blob,
    Incident,
    IncidentStatus,
    Job,
    JobStatus,
    Review,
    Sighting,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from serving.db.session import make_engine, make_session_factory
from serving.migrations import upgrade
from serving.schemas.retention import FileKind, PolicyOut, RemovalOut, RetentionReport
from serving.services import tickets

log = logging.getLogger(__name__)

VIDEOS = "videos"  # under the evidence root, as serving.app lays it out
TEMP_PATTERNS = ("*/.upload-*", "*/.tmp-*")
FINAL = (TicketStatus.CLOSED.value, TicketStatus.CANCELLED.value)
FINISHED = (JobStatus.SUCCEEDED.value, JobStatus.PARTIAL.value, JobStatus.FAILED.value)
_SHA = re.compile(r"^[0-9a-f]{64}$")
_Ts = TypeVarTuple("_Ts")


@dataclass(frozen=True)
class Removal:
    kind: FileKind
    path: Path
    bytes: int
    reason: str


@dataclass(frozen=True)
class Audit:
    """The ticket event a mark writes: its ticket's evidence was removed."""

    ticket_id: int
    status: TicketStatus  # the ticket's, when it was planned
    changes: dict[str, object]
    note: str


@dataclass(frozen=True)
class Mark:
    """A row that lost its files; ``claim`` marks it once none of ``paths`` exists."""

    what: str
    claim: Update
    paths: tuple[Path, ...]
    audit: Audit | None = None


@dataclass
class Plan:
    at: datetime
    root: Path
    files: list[Removal] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


def plan(session: Session, settings: Settings) -> Plan:
    """What the policy removes now, and why; reads only."""
    result = Plan(utcnow(), settings.evidence_root)
    _plan_temp(result, settings.retention_temp_max_age_s)
    if settings.retention_video_days:
        _plan_videos(session, result, settings.retention_video_days)
    if settings.retention_evidence_days:
        _plan_evidence(session, result, settings.retention_evidence_days)
    return result


def preview(session: Session, settings: Settings) -> RetentionReport:
    """The dry run: what ``run`` would remove and mark now."""
    with tickets.LEGAL_HOLD_LOCK:
        found = plan(session, settings)
    return report(found, settings, dry_run=True, records=[m.what for m in found.marks])


def run(session: Session, settings: Settings, taxonomy: Taxonomy) -> RetentionReport:
    """Plan and carry out: remove the files, then mark the rows whose files are gone."""
    with tickets.LEGAL_HOLD_LOCK:
        found = plan(session, settings)
        failed = _remove(found)
        marked = _mark(session, settings, taxonomy, found)
    done = report(found, settings, dry_run=False, records=marked, failed=failed)
    if done.total_files or failed:
        log.info(
            "retention: removed %d files (%d bytes), marked %d rows, %d failures",
            done.total_files - len(failed),
            done.total_bytes,
            len(marked),
            len(failed),
        )
    return done


def run_standalone(settings: Settings, *, dry_run: bool) -> RetentionReport:
    """One run (or dry run) outside the service, as ``shirong retention`` does it."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            if dry_run:
                return preview(session, settings)
            return run(session, settings, default_taxonomy())
    finally:
        engine.dispose()


def report(
    found: Plan,
    settings: Settings,
    *,
    dry_run: bool,
    records: list[str],
    failed: list[str] | None = None,
) -> RetentionReport:
    files = [
        RemovalOut(kind=r.kind, path=_rel(found, r.path), bytes=r.bytes, reason=r.reason)
        for r in found.files
    ]
    policy = PolicyOut(
        temp_max_age_s=settings.retention_temp_max_age_s,
        video_days=settings.retention_video_days,
        evidence_days=settings.retention_evidence_days,
    )
    return RetentionReport(
        dry_run=dry_run,
        at=found.at,
        policy=policy,
        files=files,
        total_files=len(files),
        total_bytes=sum(f.bytes for f in files),
        records=records,
        failed=failed or [],
    )


def format_report(done: RetentionReport) -> str:
    """The report as text lines for the CLI: one line per file, then the totals."""
    verb = "would remove" if done.dry_run else "removed"
    policy = done.policy
    lines = [
        f"retention at {_when(done.at)}" + (" (dry run: nothing changed)" if done.dry_run else ""),
        f"policy: temp files {policy.temp_max_age_s:g} s, videos {_days(policy.video_days)}, "
        f"evidence {_days(policy.evidence_days)}",
    ]
    lines += [f"{f.kind.value:<8} {f.bytes:>12}  {f.path}  {f.reason}" for f in done.files]
    lines.append(f"{verb} {done.total_files} files, {done.total_bytes} bytes")
    if done.records:
        marked = "rows to mark" if done.dry_run else "rows marked"
        lines.append(f"{marked}: {', '.join(done.records)}")
    lines += [f"failed: {f}" for f in done.failed]
    return "\n".join(lines)


def scheduled_run(sessions: sessionmaker[Session], settings: Settings, taxonomy: Taxonomy) -> None:
    """One round of the service's schedule (``serving.app`` runs it at start-up, then hourly)."""
    with sessions() as session:
        run(session, settings, taxonomy)


# --- planning -----------------------------------------------------------------------------------


def _plan_temp(found: Plan, max_age_s: float) -> None:
    cutoff = found.at - timedelta(seconds=max_age_s)
    for pattern in TEMP_PATTERNS:
        for path in sorted(found.root.glob(pattern)):
            st = _regular(path)
            if st is None or _mtime(st) > cutoff:
                continue
            reason = (
                f"temporary file last written {_when(_mtime(st))}, over {max_age_s:g} s ago: "
                "left by an interrupted upload or write"
            )
            found.files.append(Removal(FileKind.TEMP, path, st.st_size, reason))


def _plan_videos(session: Session, found: Plan, days: int) -> None:
    cutoff = found.at - timedelta(days=days)
    folder = found.root / VIDEOS
    finished = Job.status.in_(FINISHED)
    live = or_(~finished, Job.finished_at.is_(None), Job.finished_at > cutoff)
    needed = {
        name
        for row in session.execute(select(Job.video_file, Job.gps_file).where(live))
        for name in row
        if name
    }
    unmarked = or_(Job.video_removed_at.is_(None), Job.video_removed_at < Job.finished_at)
    expired = session.execute(
        select(Job.id, Job.status, Job.video_file, Job.gps_file, Job.finished_at)
        .where(finished, Job.finished_at <= cutoff, unmarked)
        .order_by(Job.id)
    ).all()
    jobs_of: defaultdict[str, list[str]] = defaultdict(list)
    for job in expired:
        for name in (job.video_file, job.gps_file):
            if name:
                jobs_of[name].append(f"job {job.id} ({job.status} {_when(job.finished_at)})")
    removed: set[str] = set()
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        st = _regular(path)
        if st is None or path.name.startswith(".") or path.name in needed:
            continue
        if _mtime(st) > cutoff:
            continue
        if path.name in jobs_of:
            reason = f"video of {', '.join(jobs_of[path.name])}: finished over {days} days ago"
        else:
            reason = f"no live job uses it; stored {_when(_mtime(st))}, over {days} days ago"
        found.files.append(Removal(FileKind.VIDEO, path, st.st_size, reason))
        removed.add(path.name)
    for job in expired:
        path = folder / job.video_file
        if job.video_file in needed or (job.video_file not in removed and path.exists()):
            continue  # still needed, or written again since: not gone, not marked
        claim = (
            update(Job)
            .where(Job.id == job.id, finished, unmarked)
            .values(video_removed_at=found.at)
            .execution_options(synchronize_session=False)
        )
        found.marks.append(Mark(f"job {job.id}", claim, (path,)))


@dataclass
class _Expired:
    """A record whose evidence may go: its label, its files' SHA-256s, how to mark it."""

    what: str
    reason: str
    shas: list[str]
    claim: Update
    audit: Audit | None = None


def _plan_evidence(session: Session, found: Plan, days: int) -> None:
    cutoff = found.at - timedelta(days=days)
    live = _live_shas(session, cutoff)
    expired = [
        *_expired_tickets(session, found.at, cutoff, days),
        *_expired_incidents(session, found.at, cutoff, days),
        *_old_blobs(session, found.at, cutoff, days),
    ]
    reasons: defaultdict[str, list[str]] = defaultdict(list)
    for record in expired:
        for sha in record.shas:
            reasons[sha].append(record.reason)
    files: dict[str, list[Path]] = {}
    kept = set(live)  # SHA-256s with a file that stays: their records are not marked yet
    for sha, why in reasons.items():
        if sha in live:
            continue
        files[sha] = _sha_files(found.root, sha)
        for path in files[sha]:
            st = _regular(path)
            if st is None or _mtime(st) > cutoff:  # a link, or written again lately
                kept.add(sha)
            else:
                found.files.append(Removal(FileKind.EVIDENCE, path, st.st_size, "; ".join(why)))
    for record in expired:
        if kept.isdisjoint(record.shas):
            paths = tuple(p for sha in record.shas for p in files[sha])
            found.marks.append(Mark(record.what, record.claim, paths, record.audit))


def _ticket_end() -> Subquery:
    """When each ticket was last closed or cancelled (holds and other edits do not count)."""
    return (
        select(TicketEvent.ticket_id, func.max(TicketEvent.at).label("at"))
        .where(TicketEvent.action.in_(("close", "cancel")))
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )


def _rejected_at() -> Subquery:
    return (
        select(Review.incident_id, func.max(Review.created_at).label("at"))
        .where(Review.action == "reject")
        .group_by(Review.incident_id)
        .subquery()
    )


def _ticket_expired(end: Subquery, cutoff: datetime) -> ColumnElement[bool]:
    ended = func.coalesce(end.c.at, Ticket.updated_at)
    return and_(Ticket.status.in_(FINAL), Ticket.legal_hold.is_(False), ended <= cutoff)


def _ticket_live(end: Subquery, cutoff: datetime) -> ColumnElement[bool]:
    ended = func.coalesce(end.c.at, Ticket.updated_at)
    return or_(Ticket.status.not_in(FINAL), Ticket.legal_hold.is_(True), ended > cutoff)


def _with_ticket(query: Select[*_Ts], end: Subquery, rejected: Subquery) -> Select[*_Ts]:
    """Incidents joined to their ticket (if any), its close and their rejection."""
    return (
        query.outerjoin(Ticket, Ticket.incident_id == Incident.id)
        .outerjoin(end, end.c.ticket_id == Ticket.id)
        .outerjoin(rejected, rejected.c.incident_id == Incident.id)
    )


def _live_shas(session: Session, cutoff: datetime) -> set[str]:
    """Every SHA-256 a live record refers to: its files stay whatever else refers to them."""
    end, rejected = _ticket_end(), _rejected_at()
    live: set[str] = set()
    tickets = select(Ticket.evidence, Ticket.after_photo).outerjoin(
        end, end.c.ticket_id == Ticket.id
    )
    for evidence, after_photo in session.execute(tickets.where(_ticket_live(end, cutoff))):
        live.update(evidence)
        if after_photo:
            live.add(after_photo)
    incident_live = or_(
        Incident.status == IncidentStatus.PENDING.value,
        and_(
            Incident.status == IncidentStatus.REJECTED.value,
            func.coalesce(rejected.c.at, Incident.updated_at) > cutoff,
        ),
        and_(
            Incident.status == IncidentStatus.CONFIRMED.value,
            or_(Ticket.id.is_(None), _ticket_live(end, cutoff)),
        ),
    )
    incidents = _with_ticket(select(Incident.id, Incident.evidence), end, rejected)
    live_ids = []
    for incident_id, evidence in session.execute(incidents.where(incident_live)):
        live.update(evidence)
        live_ids.append(incident_id)
    for evidence in _sighting_evidence(session, live_ids).values():
        live.update(evidence)
    live.update(session.scalars(select(Blob.sha256).where(Blob.created_at > cutoff)))
    return live


def _expired_tickets(
    session: Session, now: datetime, cutoff: datetime, days: int
) -> Iterable[_Expired]:
    end = _ticket_end()
    ended = func.coalesce(end.c.at, Ticket.updated_at).label("ended")
    unmarked = or_(Ticket.evidence_removed_at.is_(None), Ticket.evidence_removed_at < ended)
    rows = session.execute(
        select(Ticket.id, Ticket.status, Ticket.evidence, Ticket.after_photo, ended)
        .outerjoin(end, end.c.ticket_id == Ticket.id)
        .where(_ticket_expired(end, cutoff), unmarked)
        .order_by(Ticket.id)
    ).all()
    for row in rows:
        shas = list(dict.fromkeys([*row.evidence, *([row.after_photo] if row.after_photo else [])]))
        when = _when(row.ended)
        reason = f"evidence of ticket {row.id}, {row.status} {when}: over {days} days ago"
        still = or_(Ticket.evidence_removed_at.is_(None), Ticket.evidence_removed_at < row.ended)
        claim = (
            update(Ticket)
            .where(
                Ticket.id == row.id,
                Ticket.status.in_(FINAL),
                Ticket.legal_hold.is_(False),
                still,
            )
            .values(evidence_removed_at=now)
            .execution_options(synchronize_session=False)
        )
        audit = (
            None
            if not shas
            else Audit(
                ticket_id=row.id,
                status=TicketStatus(row.status),
                changes={"evidence_removed": shas},
                note=f"retention: kept {days} days after the ticket was {row.status}",
            )
        )
        yield _Expired(f"ticket {row.id}", reason, shas, claim, audit)


def _expired_incidents(
    session: Session, now: datetime, cutoff: datetime, days: int
) -> Iterable[_Expired]:
    end, rejected = _ticket_end(), _rejected_at()
    rejected_at = func.coalesce(rejected.c.at, Incident.updated_at)
    expired = or_(
        and_(Incident.status == IncidentStatus.REJECTED.value, rejected_at <= cutoff),
        and_(
            Incident.status == IncidentStatus.CONFIRMED.value,
            Ticket.id.is_not(None),
            _ticket_expired(end, cutoff),
        ),
    )
    columns = select(
        Incident.id,
        Incident.evidence,
        Ticket.id.label("ticket_id"),
        rejected_at.label("rejected_at"),
    )
    query = _with_ticket(columns, end, rejected)
    rows = session.execute(
        query.where(expired, Incident.evidence_removed_at.is_(None)).order_by(Incident.id)
    ).all()
    sighted = _sighting_evidence(session, [row.id for row in rows])
    for row in rows:
        if row.ticket_id is None:
            when = _when(row.rejected_at)
            reason = f"evidence of incident {row.id}, rejected {when}: over {days} days ago"
        else:
            reason = f"evidence of incident {row.id}, confirmed as ticket {row.ticket_id}"
        claim = (
            update(Incident)
            .where(Incident.id == row.id, Incident.evidence_removed_at.is_(None))
            .values(evidence_removed_at=now)
            .execution_options(synchronize_session=False)
        )
        shas = list(dict.fromkeys([*row.evidence, *sighted.get(row.id, [])]))
        yield _Expired(f"incident {row.id}", reason, shas, claim)


def _sighting_evidence(session: Session, incident_ids: list[int]) -> dict[int, list[str]]:
    """Every file of each incident's later sightings: they share their incident's fate."""
    found: defaultdict[int, list[str]] = defaultdict(list)
    for start in range(0, len(incident_ids), 500):  # bounded IN lists
        chunk = incident_ids[start : start + 500]
        query = select(Sighting.incident_id, Sighting.files).where(Sighting.incident_id.in_(chunk))
        for incident_id, evidence in session.execute(query):
            found[incident_id].extend(evidence)
    return found


def _old_blobs(session: Session, now: datetime, cutoff: datetime, days: int) -> Iterable[_Expired]:
    rows = session.execute(
        select(Blob.sha256, Blob.created_at)
        .where(Blob.created_at <= cutoff, Blob.removed_at.is_(None))
        .order_by(Blob.sha256)
    ).all()
    for sha, created_at in rows:
        reason = f"upload of {_when(created_at)}, over {days} days old, no live record uses"
        claim = (
            update(Blob)
            .where(Blob.sha256 == sha, Blob.removed_at.is_(None))
            .values(removed_at=now)
            .execution_options(synchronize_session=False)
        )
        yield _Expired(f"blob {sha[:12]}", reason, [sha], claim)


# --- carrying out -------------------------------------------------------------------------------


def _remove(found: Plan) -> list[str]:
    failed = []
    for removal in found.files:
        try:
            removal.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("retention: cannot remove %s: %s", removal.path, exc)
            failed.append(f"{_rel(found, removal.path)}: {exc.strerror}")
    return failed


def _mark(session: Session, settings: Settings, taxonomy: Taxonomy, found: Plan) -> list[str]:
    """Mark each row whose files are all gone now; a row changed since the plan is skipped."""
    marked = []
    for mark in found.marks:
        if any(path.exists() for path in mark.paths):
            continue
        if cast(CursorResult[object], session.execute(mark.claim)).rowcount == 1:
            if mark.audit is not None:
                _audit(session, settings, taxonomy, found.at, mark.audit)
            marked.append(mark.what)
    session.commit()
    return marked


def _audit(
    session: Session, settings: Settings, taxonomy: Taxonomy, at: datetime, audit: Audit
) -> None:
    ticket = tickets.get_ticket(session, audit.ticket_id)
    tickets.record_event(
        session,
        settings,
        taxonomy,
        ticket,
        None,
        "evidence_removed",
        audit.status,
        audit.changes,
        audit.note,
        at,
    )


# --- helpers ------------------------------------------------------------------------------------


def _sha_files(root: Path, sha: str) -> list[Path]:
    """The store's files for ``sha`` (``ab/<sha>.<ext>``; any extension); none for a bad value."""
    if not _SHA.match(sha):
        return []
    return sorted((root / sha[:2]).glob(f"{sha}.*"))


def _regular(path: Path) -> os.stat_result | None:
    """The file's status when it is a regular file (not a link, folder or device)."""
    try:
        st = path.lstat()
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, tz=UTC)


def _rel(found: Plan, path: Path) -> str:
    return path.relative_to(found.root).as_posix()


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _days(days: int) -> str:
    return f"{days} days" if days else "kept forever"
