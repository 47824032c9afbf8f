"""The text reader for small ads and flyers (2a) and banners (5a): OCR, candidates, phone numbers.

Needs the ``ocr`` extra (``rapidocr_onnxruntime``) for ``TextReader`` only: the candidates and the
phone numbers work on text already read.
"""

from detection.text.candidates import (
    MODEL_TAG,
    CandidateConfig,
    text_candidates,
    with_candidates,
)
from detection.text.phones import phone_numbers
from detection.text.reader import ReaderConfig, TextReader, TextRegion

__all__ = [
    "MODEL_TAG",
    "CandidateConfig",
    "ReaderConfig",
    "TextReader",
    "TextRegion",
    "phone_numbers",
    "text_candidates",
    "with_candidates",
]
