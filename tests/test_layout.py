"""The test tree's own rules: pytest runs in its default import mode without ``__init__.py``, so
two test files with one basename stop collection ("import file mismatch"), and a test module
imported by another runs its tests twice and ties the two together. Shared code lives in a
``helpers.py`` (or a fixture in a ``conftest.py``)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent
IMPORTS_A_TEST = re.compile(r"^\s*(from|import)\s+tests(\.\w+)*\.test_\w*", re.MULTILINE)


def python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if ".ipynb_checkpoints" not in p.parts)


def test_no_test_module_imports_another() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}: {match.group(0).strip()}"
        for path in python_files()
        for match in IMPORTS_A_TEST.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "import shared code from a helpers.py, not a test module:\n" + "\n".join(
        offenders
    )


def test_test_file_basenames_are_unique() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in python_files():
        if path.name.startswith("test_") or path.name.endswith("_test.py"):
            where[path.name].append(str(path.relative_to(TESTS)))
    shared = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not shared, f"test files sharing a basename (pytest's import file mismatch): {shared}"
