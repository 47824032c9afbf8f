"""Content-addressed photo store: files named by SHA-256, checked by content before storing.

Checks run cheapest first: size, magic bytes, header dimensions (a decompression bomb is refused
before any pixel is decoded), the image's end (a file appended to a photo is refused: it would be
served as the photo), then a full decode in one of ``decode_concurrency`` slots, so concurrent
uploads cost at most that many decodes' memory. A JPEG is decoded at 1/8 scale: libjpeg still
reads every block, so a corrupt or cut-short stream is found at 1/64 of the memory. PNG and WebP
cannot be decoded reduced; the pixel cap and the slots bound them.

Nothing is written until every check passed; the file is written (atomically, by rename) after
the row is flushed and before it is committed, so a committed record always has its file and a
failed upload leaves no record.
"""

from __future__ import annotations

import ctypes
import io
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from detection.evidence import EvidenceStore, sha256_bytes
from serving.db.models import Blob, User
from serving.services.concurrency import Slots
from serving.services.errors import (
    InvalidError,
    NotFoundError,
    TooLargeError,
    UnsupportedTypeError,
)

# Magic bytes → (media type, Pillow format name). Names and declared content types are not trusted.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
MEDIA_TYPES = {f".{ext}": media_type for media_type, ext in EXTENSIONS.items()}
# A JPEG marker as libjpeg finds one: 0xFF, then a byte that is not stuffing (0x00), a restart
# (RSTn, inside entropy-coded data) or another 0xFF (fill).
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_START, _JPEG_EOI, _JPEG_NO_LENGTH = b"\xff\xd8\xff", 0xD9, (0xD8, 0x01)  # SOI, TEM

DecodeSlot = Callable[[], AbstractContextManager[None]]
_MALLOC_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only


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


def check_image(
    data: bytes, max_bytes: int, max_pixels: int, slot: DecodeSlot = nullcontext
) -> CheckedImage:
    """The image's record if ``data`` is a photo we accept; the decode runs inside ``slot``."""
    if len(data) > max_bytes:
        raise TooLargeError(f"file is {len(data)} bytes; the limit is {max_bytes} bytes")
    if not data:
        raise InvalidError("file is empty")
    media_type, fmt = sniff(data)
    check_end(data, fmt)
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
            with slot(), Image.open(io.BytesIO(data), formats=[fmt]) as image:  # freed in the slot
                if fmt == "JPEG":
                    image.draft(None, (1, 1))  # 1/8 scale, every block still decoded
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLargeError(f"{exc}; the limit is {max_pixels} pixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidError(f"the {fmt} image cannot be decoded: {exc}") from exc
    return CheckedImage(sha256_bytes(data), media_type, width, height)


def check_end(data: bytes, fmt: str) -> None:
    """Refuse bytes after the image's end (JPEG EOI, PNG IEND, WebP RIFF size): a ZIP or a script
    appended to a photo would be stored and served with it. Zero padding is allowed, and so are
    the further JPEGs of a Multi-Picture file (Ultra HDR gain maps, MPO)."""
    end = {"JPEG": _jpeg_end, "PNG": _png_end, "WEBP": _webp_end}[fmt](data)
    if end is None or end > len(data):
        raise InvalidError(f"the {fmt} image cannot be decoded: the file ends before the image")
    rest = data[end:]
    start = end + len(rest) - len(rest.lstrip(b"\0"))  # past any zero padding
    if start < len(data):
        raise InvalidError(
            f"the {fmt} image ends at byte {end} but {len(data) - end} more bytes follow "
            f"(starting {data[start : start + 8].hex()} at byte {start}); a file appended to a "
            "photo (an archive, a motion photo's video) is not accepted: send the image alone"
        )


def _jpeg_end(data: bytes) -> int | None:
    end = _one_jpeg_end(data, 0)
    while end is not None and data.startswith(_JPEG_START, end):
        following = _one_jpeg_end(data, end)
        if following is None:
            break
        end = following
    return end


def _one_jpeg_end(data: bytes, pos: int) -> int | None:
    """Offset past the EOI of the JPEG at ``pos``, walked as libjpeg reads it: segments skipped
    by their length, anything else (entropy-coded scans, stray bytes) up to the next marker."""
    pos += 2
    while (found := _JPEG_MARKER.search(data, pos)) is not None:
        pos, marker = found.start(), data[found.start() + 1]
        if marker == _JPEG_EOI:
            return pos + 2
        if marker in _JPEG_NO_LENGTH:
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


def _png_end(data: bytes) -> int | None:
    pos = 8
    while pos + 8 <= len(data):
        length, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        pos += 12 + length  # length, type, data, CRC
        if kind == b"IEND":
            return pos
    return None


def _webp_end(data: bytes) -> int:
    size = int.from_bytes(data[4:8], "little")
    return 8 + size + (size & 1)  # RIFF chunks are padded to an even size


def release_freed_memory() -> None:
    """Hand freed pixel buffers back to the OS. glibc raises its mmap threshold to the size of a
    freed block, so later image-sized buffers come from the decoding thread's arena and stay
    there when freed: without a trim every thread that ever decoded keeps an image's memory."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class BlobStore:
    """Photos in the evidence store layout the detection pipeline writes (``ab/<sha256>.<ext>``), so
    one folder can hold both the engine's evidence frames and uploaded photos."""

    def __init__(
        self, root: Path, decode_concurrency: int = 2, decode_wait_s: float = 20.0
    ) -> None:
        self.root = root
        self._files: EvidenceStore | None = None
        self._slots = Slots(
            decode_concurrency,
            decode_wait_s,
            "too many images are being decoded; try again shortly",
            retry_after_s=2,
        )

    @property
    def files(self) -> EvidenceStore:
        """Created on first use, so a read-only deployment never touches the folder."""
        if self._files is None:
            self._files = EvidenceStore(self.root)
        return self._files

    @contextmanager
    def decoding(self) -> Iterator[None]:
        """Hold one of ``decode_concurrency`` slots for a decode; BusyError (503) after
        ``decode_wait_s``, so a flood of uploads queues briefly instead of piling up decodes."""
        with self._slots.hold():
            try:
                yield
            finally:
                release_freed_memory()

    def check(self, data: bytes, max_bytes: int, max_pixels: int) -> CheckedImage:
        """:func:`check_image`, its decode in a decode slot."""
        return check_image(data, max_bytes, max_pixels, self.decoding)

    def save(
        self, session: Session, data: bytes, user: User, max_bytes: int, max_pixels: int
    ) -> tuple[Blob, bool]:
        """Check and store a photo; returns (record, created). The same bytes → the same record."""
        return self.store(session, data, self.check(data, max_bytes, max_pixels), user)

    def store(
        self, session: Session, data: bytes, checked: CheckedImage, user: User
    ) -> tuple[Blob, bool]:
        """Store checked bytes; a concurrent upload of the same bytes gives its record, not 409."""
        existing = session.get(Blob, checked.sha256)
        if existing is not None:
            self.files.put(data, EXTENSIONS[checked.media_type])  # heals a deleted file
            if existing.removed_at is not None:  # the file is back: retention counts it again
                existing.removed_at = None
                session.commit()
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
        try:
            session.flush()  # a constraint problem surfaces before any byte is written
            self.files.put(data, EXTENSIONS[checked.media_type])
            session.commit()
        except IntegrityError:  # the same bytes' row, inserted concurrently, won (flush or commit)
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
