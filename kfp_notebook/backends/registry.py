"""Backends by name: the built-in ones and any installed package's, through the `kfp_notebook.backends` entry points.

A backend package registers a factory `make(settings, connected) -> Backend`: `settings` are the
kernel's (`Session.settings`), `connected` the backend made by its `%kfp connect` (None before). A
third-party backend declares `[project.entry-points."kfp_notebook.backends"] NAME = "pkg.module:make"`
and needs no edit here; papermill's engine registry and kfp.local's runner dispatch work the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from importlib import metadata
from typing import Any

from kfp_notebook.errors import OptionError

ENTRY_POINT_GROUP = "kfp_notebook.backends"

#: The backends this package ships: name → "module:factory" (imported only when used).
BUILT_IN = {
    "local": "kfp_notebook.backends.local:make",
    "kubeflow": "kfp_notebook.backends.kubeflow:make",
}

Factory = Callable[[Any, Any], Any]


@cache
def _targets() -> dict[str, str]:
    found = dict(BUILT_IN)
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry.value)
    return found


def names() -> list[str]:
    """Every backend's name, built-in ones first."""
    return list(_targets())


def factory(name: str) -> Factory:
    """The factory of the backend called `name`; an unknown name is refused listing the known ones."""
    target = _targets().get(name)
    if target is None:
        raise OptionError(f"unknown backend {name!r} (backends: {', '.join(names())})")
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def options_type(name: str) -> Any:
    """The options class a backend declares (its factory module's `OPTIONS`)."""
    module = importlib.import_module(_targets()[name].partition(":")[0])
    return module.OPTIONS


def option_owners(option: str) -> list[tuple[str, str]]:
    """The backends that have an option of this name, with the command that starts their runs."""
    import dataclasses

    owners = []
    for name in names():
        try:
            kind = options_type(name)
        except (ImportError, AttributeError):  # a broken third-party backend must not hide the message
            continue
        if option in {f.name for f in dataclasses.fields(kind)}:
            owners.append((name, kind.command))
    return owners
