"""Where the product finds the files it reads that live outside its Python packages.

``datasets/taxonomy.yaml`` and ``models/`` (``default.yaml``, the released models and their cards)
sit at the top of the repository because people edit and release them there. A wheel carries
copies of the ones the product runs on under ``share/shirong/`` (``[tool.setuptools.data-files]``
in ``pyproject.toml``), which pip puts in the install scheme's data folder (``sys.prefix`` in a
virtualenv). ``resource()`` answers with the checkout's file when this code runs from a checkout,
else with the installed copy, so both layouts run the same code.

Files beside their modules (``serving/ui``, ``labels.json`` among them, and the migrations) are
package data: found next to the code in either layout, they need no lookup here.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "shirong"
SHARE = "share/shirong"
_PACKAGES_ROOT = Path(__file__).resolve().parents[1]
IN_CHECKOUT = (_PACKAGES_ROOT / "pyproject.toml").is_file()
REPO_ROOT = _PACKAGES_ROOT if IN_CHECKOUT else Path.cwd()
"""The checkout; installed from a wheel (no checkout), the working directory. Relative paths in
recipes and training configs, the default ``data/`` folder and ``../shared`` are taken from it."""


def resource(relative: str) -> Path:
    """The file at ``relative`` (e.g. ``"models/default.yaml"``): the checkout's, else the installed
    copy. Where the installed product has no copy, the path under ``REPO_ROOT``, so that the
    caller's "missing file" error names a place the file can be put."""
    if not IN_CHECKOUT:
        installed = _installed().get(relative)
        if installed is not None:
            return installed
    return REPO_ROOT / relative


@cache
def _installed() -> dict[str, Path]:
    """Relative path → installed file, read from the distribution's RECORD, which knows the data
    folder of whichever scheme pip installed into (virtualenv, ``--user``, system)."""
    try:
        files = metadata.distribution(DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        return {}
    found: dict[str, Path] = {}
    for file in files:
        _, share, relative = file.as_posix().partition(f"{SHARE}/")
        if share:
            found[relative] = Path(str(file.locate())).resolve()
    return found
