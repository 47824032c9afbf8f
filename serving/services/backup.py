"""Online backup and restore: the database, then the evidence it references, then a manifest.

Order. The service writes an evidence file before it commits the row that refers to it, so the
database is copied first: every file a copied row refers to was on disk when the copy was taken,
and is copied next. The other order loses the files of every row committed between the two copies.
The database copy is one snapshot: SQLite's online backup API (one step, one read transaction;
in WAL mode writers go on meanwhile) or ``pg_dump`` under a snapshot exported from the transaction
that also reads the references, so the files copied are those of exactly the rows dumped.

Which files: what retention would keep for the copied rows (``serving.services.retention``): the
files of blobs, tickets, incidents and their sightings, and the videos and GPS tracks of jobs,
leaving out rows retention marked as having lost their files. A referenced file that is not in
the store is listed as missing (a file removed by retention between the two copies, or one lost
before): the backup goes on without it.

The manifest (``manifest.json``) lists every file with its SHA-256 and size, the database kind,
its schema head, the time, and a fingerprint of the secret key (an HMAC under a key derived from
it, never the key). It is written last, to a temporary name then renamed, so a folder without it
is a backup that never finished. It carries the SHA-256 of its own canonical text: any changed
byte in it, or in a file it lists, makes ``restore`` refuse the copy, naming the file.

Restore goes the other way round for the same reason: evidence first, then the database, so a
restore cut short leaves files no row refers to, never a row without its file. It refuses a target
that holds data unless forced, migrates the copy to this version's schema, and marks the webhook
messages that were pending (``outbox.mark_restored``): they are sent again with their original
Idempotency-Key, so receivers can drop what they had already.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, MetaData, create_engine, func, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from detection.errors import ShirongError
from detection.evidence import EvidenceStore, replaced, sha256_file
from serving.config import Settings
from serving.db.base import utcnow
from serving.db.models import Blob, Incident, Job, Sighting, Ticket
from serving.db.session import make_engine
from serving.migrations import alembic_config, upgrade
from serving.services.jobs import video_folder
from serving.services.outbox import mark_restored

MANIFEST = "manifest.json"
FORMAT = "shirong-backup"
VERSION = 1
DATABASE_FILES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
EVIDENCE = "evidence"  # the folder of the copied files, laid out as the evidence store
SHOWN = 20  # problems and missing files listed by name; the rest are counted
_FINGERPRINT = b"shirong backup key-fingerprint v1"
_NAME = r"[0-9a-f]{64}\.[a-z0-9]{1,8}"
_VIDEO = re.compile(rf"^{_NAME}$")  # as jobs.store_upload names them
_EVIDENCE_PATH = re.compile(rf"^{EVIDENCE}/(?:[0-9a-f]{{2}}|videos)/{_NAME}$")
_CHUNK = 1 << 20


class BackupError(ShirongError):
    """A backup cannot be taken, or a copy cannot be (or was not) restored; the message says why."""


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the backup folder, forward slashes
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    created_at: str
    database_kind: str
    schema_head: str | None
    key_fingerprint: str
    files: tuple[FileEntry, ...]
    missing: tuple[str, ...]

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "created_at": self.created_at,
            "database": {
                "kind": self.database_kind,
                "file": DATABASE_FILES[self.database_kind],
                "schema_head": self.schema_head,
            },
            "secret_key_fingerprint": self.key_fingerprint,
            "files": [{"path": f.path, "sha256": f.sha256, "bytes": f.bytes} for f in self.files],
            "missing": list(self.missing),
        }

    @property
    def evidence(self) -> list[FileEntry]:
        return [f for f in self.files if f.path.startswith(f"{EVIDENCE}/")]


@dataclass(frozen=True)
class BackupReport:
    dest: Path
    manifest: Manifest
    damaged: list[str]  # copied files of the store that do not hash to their names


@dataclass
class RestoreReport:
    src: Path
    manifest: Manifest
    tickets: int = 0
    incidents: int = 0
    outbox_restored: int = 0
    warnings: list[str] = field(default_factory=list)


def key_fingerprint(settings: Settings) -> str:
    """Tells two secret keys apart without revealing either: an HMAC of a fixed label under a
    key derived from the secret for this purpose only."""
    key = hmac.new(settings.secret, _FINGERPRINT, hashlib.sha256).digest()
    return hmac.new(key, b"fingerprint", hashlib.sha256).hexdigest()[:32]


# --- backup -------------------------------------------------------------------------------------


def backup(settings: Settings, dest: Path) -> BackupReport:
    """Copy the database, then the evidence its copy refers to, then write the manifest."""
    kind = _kind(settings.database_url)
    _prepare_dest(dest)
    try:
        database = dest / DATABASE_FILES[kind]
        if kind == "sqlite":
            shas, videos, head = _copy_sqlite(_sqlite_path(settings.database_url), database)
        else:
            shas, videos, head = _dump_postgres(settings.database_url, database)
        files = [FileEntry(database.name, sha256_file(database), database.stat().st_size)]
        copied, missing, damaged = _copy_evidence(settings, dest, shas, videos)
        manifest = Manifest(
            created_at=utcnow().isoformat(),
            database_kind=kind,
            schema_head=head,
            key_fingerprint=key_fingerprint(settings),
            files=(*files, *copied),
            missing=tuple(missing),
        )
        _write_manifest(dest, manifest)
    except OSError as exc:
        raise BackupError(
            f"the backup to {dest} failed: {_os_reason(exc)}; the folder holds a partial copy "
            "without a manifest, which restore refuses: remove it"
        ) from exc
    return BackupReport(dest, manifest, damaged)


def _prepare_dest(dest: Path) -> None:
    """DEST is a new or empty folder: one backup per folder, never mixed with an older one."""
    if dest.exists() and not dest.is_dir():
        raise BackupError(f"{dest} is not a folder: back up into a new or empty folder")
    if dest.is_dir() and any(dest.iterdir()):
        raise BackupError(
            f"{dest} is not empty: back up into a new or empty folder (one per backup, e.g. dated)"
        )
    try:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=dest):
            pass
    except OSError as exc:
        raise BackupError(f"cannot write the backup to {dest}: {_os_reason(exc)}") from exc


def _copy_sqlite(path: Path, target: Path) -> tuple[set[str], set[str], str | None]:
    """The online backup API, all pages in one step: one read transaction, a consistent copy
    that WAL-mode writers do not wait for. The copy is made a single file (no WAL)."""
    if not path.is_file():
        raise BackupError(f"no SQLite database at {path} (SHIRONG_DATABASE_URL)")
    source = sqlite3.connect(path, timeout=30)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        source.close()
    _fsync(target)
    engine = _sqlite_reader(target)
    try:
        with engine.connect() as conn:
            return (*referenced(conn), _head(conn))
    finally:
        engine.dispose()


def _sqlite_reader(path: Path) -> Engine:
    """A read-only engine on a copied file: reading it must not turn it back into WAL mode."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))


def _dump_postgres(database_url: str, target: Path) -> tuple[set[str], set[str], str | None]:
    """``pg_dump`` of the snapshot of a read-only transaction that reads the references too."""
    pg_dump = _client("pg_dump")
    with _connected(database_url) as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.execute(text("SET TRANSACTION READ ONLY"))
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        command = [pg_dump, "--format=custom", f"--snapshot={snapshot}", "--file", str(target)]
        _run_client(command, database_url)
        found = (*referenced(conn), _head(conn))
        conn.rollback()
        return found


def referenced(conn: Connection) -> tuple[set[str], set[str]]:
    """(SHA-256s of evidence files, names of videos and tracks) the database refers to, less the
    rows retention marked as having lost their files."""
    shas = set(conn.scalars(select(Blob.sha256).where(Blob.removed_at.is_(None))))
    kept = Ticket.evidence_removed_at.is_(None)
    for evidence, after_photo in conn.execute(
        select(Ticket.evidence, Ticket.after_photo).where(kept)
    ):
        shas.update(evidence)
        if after_photo:
            shas.add(after_photo)
    live = Incident.evidence_removed_at.is_(None)
    for evidence in conn.scalars(select(Incident.evidence).where(live)):
        shas.update(evidence)
    sightings = select(Sighting.files).join(Incident, Incident.id == Sighting.incident_id)
    for files in conn.scalars(sightings.where(live)):
        shas.update(files)
    jobs = select(Job.video_file, Job.gps_file).where(Job.video_removed_at.is_(None))
    videos = {name for row in conn.execute(jobs) for name in row if name}
    return shas, videos


def _head(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _copy_evidence(
    settings: Settings, dest: Path, shas: set[str], videos: set[str]
) -> tuple[list[FileEntry], list[str], list[str]]:
    """Copy each referenced file, hashing the bytes copied: (copied, not found, copied but not
    hashing to their names: damaged in the store, and restored as they are)."""
    store = EvidenceStore(settings.evidence_root)
    sources: list[tuple[str, Path]] = []
    missing: list[str] = []
    for sha in sorted(shas):
        try:  # the file evidence links open
            sources.append((store.relpath(sha), store.path(sha)))
        except (ValueError, FileNotFoundError):  # not a SHA-256, or not in the store
            missing.append(sha)
    folder = video_folder(settings)
    for name in sorted(videos):
        path = folder / name
        if _VIDEO.match(name) and path.is_file():
            sources.append((f"videos/{name}", path))
        else:
            missing.append(f"videos/{name}")
    copied, damaged = [], []
    for rel, path in sources:
        try:
            sha, size = _copy_file(path, dest / EVIDENCE / rel)
        except FileNotFoundError:  # removed (by retention) since it was found
            missing.append(rel)
            continue
        copied.append(FileEntry(f"{EVIDENCE}/{rel}", sha, size))
        if sha != Path(rel).stem:
            damaged.append(rel)
    return copied, missing, damaged


def _write_manifest(dest: Path, manifest: Manifest) -> None:
    """Last, and atomically: written under a temporary name, synced, renamed, folder synced."""
    with replaced(dest / MANIFEST) as writer:
        writer.write(_canonical(_sealed(manifest.body())))
    _fsync(dest)


def _sealed(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "manifest_sha256": hashlib.sha256(_canonical(body)).hexdigest()}


def _canonical(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=True) + "\n").encode()


# --- verify -------------------------------------------------------------------------------------


def verify(src: Path) -> Manifest:
    """The manifest of a whole, unchanged backup; BackupError naming every file that is not."""
    path = src / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{src} has no {MANIFEST}: it is not a backup, or one whose writing never finished"
        )
    manifest = _read_manifest(path)
    problems = []
    for entry in manifest.files:
        problem = _check_file(src, entry)
        if problem:
            problems.append(f"{entry.path}: {problem}")
    if problems:
        raise BackupError(
            f"the backup in {src} does not verify, so nothing was restored; "
            f"{len(problems)} of its {len(manifest.files)} files differ from {MANIFEST}: "
            + _listed(problems)
        )
    return manifest


def _read_manifest(path: Path) -> Manifest:
    raw = path.read_bytes()
    altered = f"{MANIFEST} was altered after it was written"
    try:
        sealed = json.loads(raw)
        body = {k: v for k, v in sealed.items() if k != "manifest_sha256"}
    except (ValueError, AttributeError) as exc:
        raise BackupError(f"{altered}: it is not the JSON object a backup writes ({exc})") from exc
    if _canonical(_sealed(body)) != raw:
        raise BackupError(f"{altered}: it does not match its own SHA-256 (manifest_sha256)")
    if body.get("format") != FORMAT or body.get("version") != VERSION:
        raise BackupError(
            f"{MANIFEST} is not a {FORMAT} version {VERSION} manifest "
            f"(format {body.get('format')!r}, version {body.get('version')!r})"
        )
    try:
        database = body["database"]
        kind = database["kind"]
        files = tuple(FileEntry(f["path"], f["sha256"], int(f["bytes"])) for f in body["files"])
        manifest = Manifest(
            created_at=str(body["created_at"]),
            database_kind=kind,
            schema_head=database["schema_head"],
            key_fingerprint=str(body["secret_key_fingerprint"]),
            files=files,
            missing=tuple(body["missing"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError(f"{MANIFEST} lacks a field a backup writes: {exc}") from exc
    if kind not in DATABASE_FILES or not any(f.path == DATABASE_FILES[kind] for f in files):
        raise BackupError(f"{MANIFEST} lists no database file of a known kind")
    for entry in files:
        if not isinstance(entry.path, str) or not (
            entry.path == DATABASE_FILES[kind] or _EVIDENCE_PATH.match(entry.path)
        ):
            raise BackupError(f"{MANIFEST} lists {entry.path!r}, which no backup writes")
    return manifest


def _check_file(src: Path, entry: FileEntry) -> str | None:
    path = src / entry.path
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != entry.bytes:
        return f"{size} bytes, the manifest says {entry.bytes}"
    sha = sha256_file(path)
    if sha != entry.sha256:
        return f"SHA-256 {sha}, the manifest says {entry.sha256}"
    return None


# --- restore ------------------------------------------------------------------------------------


def restore(settings: Settings, src: Path, *, force: bool = False) -> RestoreReport:
    """Verify the copy, check the target, then restore the evidence, then the database, and
    migrate it. Stop the service first: a running one would go on writing into the database
    being replaced."""
    manifest = verify(src)
    kind = _kind(settings.database_url)
    if manifest.database_kind != kind:
        raise BackupError(
            f"the backup holds a {manifest.database_kind} database and SHIRONG_DATABASE_URL is "
            f"{kind}: restore it into a {manifest.database_kind} database"
        )
    _known_head(settings.database_url, manifest.schema_head)
    held = _held_data(settings, kind)
    if held and not force:
        raise BackupError(
            f"the target already holds data ({'; '.join(held)}): restore into an empty database "
            "and evidence folder, or pass --force to replace the database (evidence files are "
            "added; none are deleted)"
        )
    report = RestoreReport(src, manifest)
    if manifest.key_fingerprint != key_fingerprint(settings):
        report.warnings.append(
            "SHIRONG_SECRET_KEY differs from the key this backup was taken under: evidence links "
            "already sent (webhooks, reports) answer 403 and every login session ends (users "
            "log in again); restore under the old key to keep them"
        )
    for entry in manifest.evidence:
        _copy_file(
            src / entry.path, settings.evidence_root / entry.path.removeprefix(f"{EVIDENCE}/")
        )
    database = src / DATABASE_FILES[kind]
    if kind == "sqlite":
        _restore_sqlite(database, _sqlite_path(settings.database_url))
    else:
        _restore_postgres(database, settings.database_url)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            report.outbox_restored = mark_restored(session, utcnow())
            session.commit()
            report.tickets = session.scalar(select(func.count()).select_from(Ticket)) or 0
            report.incidents = session.scalar(select(func.count()).select_from(Incident)) or 0
    finally:
        engine.dispose()
    return report


def _known_head(database_url: str, head: str | None) -> None:
    """A backup from a newer version cannot be migrated by this one: refuse it before copying."""
    if head is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config(database_url))
    try:
        scripts.get_revision(head)
    except CommandError as exc:
        raise BackupError(
            f"the backup's schema is at revision {head}, which this shirong does not know (its "
            f"newest is {scripts.get_current_head()}): restore it with the version that took it, "
            "or a newer one"
        ) from exc


def _held_data(settings: Settings, kind: str) -> list[str]:
    """What the target holds: its tables with rows, and its evidence files (as text)."""
    held = []
    if kind == "postgresql" or _sqlite_path(settings.database_url).exists():
        with _connected(settings.database_url) as conn:
            rows = _rows_per_table(conn)
        if rows:
            held.append("database tables " + ", ".join(f"{t} ({n} rows)" for t, n in rows.items()))
    if any(_data_files(settings.evidence_root)):
        held.append(f"files in the evidence folder {settings.evidence_root}")
    return held


def _rows_per_table(conn: Connection) -> dict[str, int]:
    metadata = MetaData()
    metadata.reflect(conn)
    counts = {}
    for table in metadata.sorted_tables:
        if table.name != "alembic_version":
            count = conn.scalar(select(func.count()).select_from(table)) or 0
            if count:
                counts[table.name] = count
    return counts


def _data_files(root: Path) -> Iterator[Path]:
    """Files in the evidence folder but the service's own (its mark, temp files: dot-names)."""
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                yield path


def _restore_sqlite(copy: Path, target: Path) -> None:
    """The copy replaces the target file, by rename; the target's WAL goes first, or SQLite
    would replay it onto the copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.restore-tmp")
    shutil.copyfile(copy, temporary)
    _fsync(temporary)
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(temporary, target)
    _fsync(target.parent)


def _restore_postgres(dump: Path, database_url: str) -> None:
    """Drop what the target has (checked empty or forced), then ``pg_restore`` in one
    transaction: a failed restore leaves the database as empty as it was."""
    pg_restore = _client("pg_restore")
    with _connected(database_url) as conn:
        metadata = MetaData()
        metadata.reflect(conn)
        metadata.drop_all(conn)
        conn.commit()
    options = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    _run_client([pg_restore, *options, str(dump)], database_url)


# --- text for the CLI ---------------------------------------------------------------------------


def format_backup(done: BackupReport) -> str:
    manifest = done.manifest
    evidence = manifest.evidence
    lines = [
        f"backup of the {manifest.database_kind} database (schema {manifest.schema_head}) "
        f"in {done.dest}, {manifest.created_at}",
        f"database: {manifest.files[0].path}, {manifest.files[0].bytes} bytes",
        f"evidence: {len(evidence)} files, {sum(f.bytes for f in evidence)} bytes",
    ]
    if manifest.missing:
        lines.append(
            f"missing: {len(manifest.missing)} files the database refers to are not in the "
            f"evidence store: {_listed(manifest.missing)}"
        )
    if done.damaged:
        lines.append(
            f"damaged: {len(done.damaged)} files in the evidence store do not hash to their "
            f"names (copied as they are): {_listed(done.damaged)}"
        )
    lines.append(f"manifest: {done.dest / MANIFEST} (written last: the backup is whole)")
    return "\n".join(lines)


def format_restore(done: RestoreReport) -> str:
    manifest = done.manifest
    return "\n".join(
        [
            f"restored the backup of {manifest.created_at} from {done.src} "
            f"({manifest.database_kind}, schema {manifest.schema_head}, migrated to this version)",
            f"{done.tickets} tickets, {done.incidents} incidents, "
            f"{len(manifest.evidence)} evidence files",
            f"outbox: {done.outbox_restored} undelivered webhook messages marked restored; they "
            "are sent again with their original Idempotency-Key",
        ]
    )


# --- helpers ------------------------------------------------------------------------------------


def _kind(database_url: str) -> str:
    backend = make_url(database_url).get_backend_name()
    if backend not in DATABASE_FILES:
        raise BackupError(f"cannot back up or restore a {backend} database: sqlite or postgresql")
    return backend


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("SHIRONG_DATABASE_URL is an in-memory SQLite database: nothing to copy")
    return Path(database)


@contextmanager
def _connected(database_url: str) -> Iterator[Connection]:
    """A connection to the database; one that cannot be reached is a BackupError saying why."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            yield conn
    except OperationalError as exc:
        where = make_url(database_url).render_as_string(hide_password=True)
        raise BackupError(f"cannot reach the database {where}: {exc.orig}") from exc
    finally:
        engine.dispose()


def _client(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client (postgresql-client)"
        )
    return found


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """(connection URI without the password, environment with it): kept off the command line."""
    url: URL = make_url(database_url)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run_client(command: list[str], database_url: str) -> None:
    uri, env = _libpq(database_url)
    done = subprocess.run(
        [*command, f"--dbname={uri}"], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        name = Path(command[0]).name
        raise BackupError(f"{name} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def _copy_file(source: Path, target: Path) -> tuple[str, int]:
    """Copy through a temporary file renamed into place; the SHA-256 and size of what was copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as reader, replaced(target) as writer:
        for chunk in iter(lambda: reader.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
            writer.write(chunk)
    return digest.hexdigest(), size


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_reason(exc: OSError) -> str:
    return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")


def _listed(names: Iterable[str]) -> str:
    names = list(names)
    shown = "; ".join(names[:SHOWN])
    return shown + (f"; and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
