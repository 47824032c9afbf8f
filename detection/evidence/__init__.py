"""Evidence files: a content-addressed store (files named by their SHA-256)."""

from detection.evidence.store import EvidenceStore, sha256_bytes, sha256_file

__all__ = ["EvidenceStore", "sha256_bytes", "sha256_file"]
