"""Evidence files: a content-addressed store (files named by their SHA-256)."""

from detection.evidence.store import EvidenceStore, replaced, sha256_bytes, sha256_file

__all__ = ["EvidenceStore", "replaced", "sha256_bytes", "sha256_file"]
