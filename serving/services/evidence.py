"""Content-addressed photo store: files named by SHA-256, checked by content before storing.

Checks run cheapest first: size, magic bytes, header dimensions (a decompression bomb is refused
before any pixel is decoded), then a full decode. Nothing is written until every check passed;
the file is written (atomically, by rename) after the row is flushed and before it is committed,
so a committed record always has its file and a failed upload leaves no record.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from detection.evidence import EvidenceStore, sha256_bytes
from serving.db.models import Blob, User
from serving.services.errors import InvalidError, NotFoundError, TooLargeError, UnsupportedTypeError

# Magic bytes → (media type, Pillow format name). Names and declared content types are not trusted.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
MEDIA_TYPES = {f".{ext}": media_type for media_type, ext in EXTENSIONS.items()}


@dataclass(frozen=True)
class CheckedImage:
    sha256: str
    media_type: str
    width: int
    height: int


def sniff(data: bytes) -> tuple[str, str]:
    """(media type, Pillow format) from the leading bytes; 415 for anything else."""
    for magic, media_type, fmt in SIGNATURES:
        if data.startswith(magic):
            return media_type, fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "WEBP"
    raise UnsupportedTypeError("unsupported file type: only JPEG, PNG and WebP photos are accepted")


def check_image(data: bytes, max_bytes: int, max_pixels: int) -> CheckedImage:
    if len(data) > max_bytes:
        raise TooLargeError(f"file is {len(data)} bytes; the limit is {max_bytes} bytes")
    if not data:
        raise InvalidError("file is empty")
    media_type, fmt = sniff(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                width, height = image.size  # from the header; nothing decoded yet
                if width * height > max_pixels:
                    raise TooLargeError(
                        f"image is {width}x{height} = {width * height} pixels; "
                        f"the limit is {max_pixels} pixels"
                    )
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLargeError(f"{exc}; the limit is {max_pixels} pixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidError(f"the {fmt} image cannot be decoded: {exc}") from exc
    return CheckedImage(sha256_bytes(data), media_type, width, height)


class BlobStore:
    """Photos in the evidence store layout the detection pipeline writes (``ab/<sha256>.<ext>``), so
    one folder can hold both the engine's evidence frames and uploaded photos."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: EvidenceStore | None = None

    @property
    def files(self) -> EvidenceStore:
        """Created on first use, so a read-only deployment never touches the folder."""
        if self._files is None:
            self._files = EvidenceStore(self.root)
        return self._files

    def save(
        self, session: Session, data: bytes, user: User, max_bytes: int, max_pixels: int
    ) -> tuple[Blob, bool]:
        """Check and store a photo; returns (record, created). The same bytes → the same record."""
        checked = check_image(data, max_bytes, max_pixels)
        existing = session.get(Blob, checked.sha256)
        if existing is not None:
            self.files.put(data, EXTENSIONS[checked.media_type])  # heals a deleted file
            return existing, False
        blob = Blob(
            sha256=checked.sha256,
            size=len(data),
            media_type=checked.media_type,
            width=checked.width,
            height=checked.height,
            uploaded_by=user.id,
        )
        session.add(blob)
        session.flush()  # a constraint problem surfaces before any byte is written
        self.files.put(data, EXTENSIONS[checked.media_type])
        try:
            session.commit()
        except IntegrityError:  # a concurrent upload of the same bytes committed first
            session.rollback()
            winner = session.get(Blob, checked.sha256)
            if winner is None:
                raise
            return winner, False
        return blob, True

    def open_path(self, session: Session, sha256: str) -> tuple[Path, str]:
        """(file, media type) of a stored photo or an evidence frame the pipeline wrote."""
        try:
            path = self.files.path(sha256)
        except FileNotFoundError as exc:
            raise NotFoundError(f"evidence {sha256} not found") from exc
        blob = session.get(Blob, sha256)
        if blob is not None:
            return path, blob.media_type
        return path, MEDIA_TYPES.get(path.suffix, "application/octet-stream")
