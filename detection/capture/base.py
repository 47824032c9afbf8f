"""The one interface every frame source offers: an iterator of ``Frame`` that must be closed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from detection.core import Frame


class FrameSource(ABC, Iterator[Frame]):
    """An iterator of frames from one input (image, folder, video file or live stream).

    Use it as a context manager (or call :meth:`close`) so that decoders, sockets and reader threads
    are released even when the consumer stops early.
    """

    is_live: bool = False

    def __init__(self, source_id: str, display_uri: str) -> None:
        self.source_id = source_id
        self.uri = display_uri
        """The input as shown to people: a path, or a URL with its password redacted."""

    @abstractmethod
    def __next__(self) -> Frame: ...

    @abstractmethod
    def close(self) -> None:
        """Release the input; idempotent. A closed source yields no more frames."""

    def __iter__(self) -> Self:
        return self

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source_id={self.source_id!r}, uri={self.uri!r})"
