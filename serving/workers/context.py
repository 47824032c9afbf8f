"""What a worker process builds for itself from the settings: its own database engine, the
taxonomy, the evidence store and one detector. Nothing crosses a process (or node) boundary but
the settings and row ids, so a local worker process and a Ray actor start the same way."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from detection.errors import StoreError
from detection.taxonomy import Taxonomy, default_taxonomy
from serving.config import Settings
from serving.db.session import make_engine, make_session_factory
from serving.services.analysis import Analysis
from serving.services.evidence import BlobStore
from serving.services.recurrence import Recurrence

STORE_MARK = ".shirong-store"


def mark_store(root: Path) -> None:
    """Mark the evidence store (the service does, at start-up), so a worker on a node that
    mounts it elsewhere, or not at all, says so instead of writing evidence nobody sees."""
    root.mkdir(parents=True, exist_ok=True)
    (root / STORE_MARK).touch()


def check_store(root: Path) -> None:
    """StoreError naming the node when this node cannot see the service's evidence store."""
    if not (root / STORE_MARK).is_file():
        raise StoreError(
            f"the evidence store {root} is not visible on {socket.gethostname()} (no "
            f"{STORE_MARK} there): mount the service's SHIRONG_EVIDENCE_ROOT at the same path"
        )


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    sessions: sessionmaker[Session]
    taxonomy: Taxonomy
    store: BlobStore
    analysis: Analysis

    @classmethod
    def build(cls, settings: Settings, threads: int | None) -> WorkerContext:
        """``threads``: ONNX Runtime's for this process (cameras take 1 each, jobs all cores)."""
        sessions = make_session_factory(make_engine(settings.database_url))
        taxonomy = default_taxonomy()
        store = BlobStore(settings.evidence_root)
        analysis = Analysis(
            sessions,
            taxonomy,
            lambda: store.files,
            settings.model_path,
            Recurrence.of(settings),
            threads=threads,
        )
        return cls(settings, sessions, taxonomy, store, analysis)


_CONTEXT: list[WorkerContext] = []


def context(settings: Settings, threads: int | None = None) -> WorkerContext:
    """This process's context, built once (a pool worker analyses many photos with one model)."""
    if not _CONTEXT:
        _CONTEXT.append(WorkerContext.build(settings, threads))
    return _CONTEXT[0]


def worker_name() -> str:
    """host:pid, and the Ray node inside a cluster (several nodes may share one host)."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        name += f"@{ray.get_runtime_context().get_node_id()[:12]}"
    return name
