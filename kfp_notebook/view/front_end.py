"""The lab extension's npm name and version, read from its package.json (the one place they are written)."""

from __future__ import annotations

import json
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
#: the built extension shipped in the wheel, then the source of a checkout that has not built it yet
PACKAGE_JSONS = [PACKAGE / "labextension" / "package.json", PACKAGE.parent / "labextension" / "package.json"]


def package_info() -> dict[str, str]:
    """`name` and `version` from the first package.json found; the Python package's version otherwise."""
    for path in PACKAGE_JSONS:
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            return {"name": data["name"], "version": data["version"]}
    from kfp_notebook import __version__

    return {"name": "kfp-notebook", "version": __version__}
