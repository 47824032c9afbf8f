"""The one dictionary of words that the UI, WeCom messages and reports share.

``serving/ui/labels.json`` holds them; the UI fetches the same file (``/ui/labels.json``), so a
ticket status, a priority or a report column reads the same in the browser, in a squad's chat and
on the printed table. Its ``error`` group is the Chinese text of each error ``code``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

LABELS_FILE = Path(__file__).resolve().parent / "ui" / "labels.json"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def labels() -> dict[str, dict[str, dict[str, str]]]:
    """group → key → {"zh": ..., "en": ...}."""
    data: dict[str, dict[str, dict[str, str]]] = json.loads(LABELS_FILE.read_text("utf-8"))
    return data


def word(group: str, key: str, lang: str = "zh") -> str:
    """The word for ``key`` (a status, a priority...); the key itself where the file has none."""
    return labels().get(group, {}).get(key, {}).get(lang, key)


def error_text(code: str, params: Mapping[str, object], detail: str) -> str:
    """An error in Chinese, as the UI shows it: the code's text with its parameters filled in
    (``{detail}``: the English message); the English message where the code has no text."""
    template = labels()["error"].get(code, {}).get("zh")
    if template is None:
        return detail
    values = {**{k: _shown(v) for k, v in params.items()}, "detail": detail}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _shown(value: object) -> str:
    """A parameter as the text shows it: a list (of roles, statuses...) joined by 、."""
    return "、".join(str(v) for v in value) if isinstance(value, list) else str(value)
