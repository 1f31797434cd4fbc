"""A local task's environment: what its container would have, never the kernel's whole environment."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

#: Variables a task gets from the kernel: where programs and home are, the locale, Python's own. Not TMPDIR: a
#: task's temporary files go to a folder of its own (launch.ProcessGroups), as a container's /tmp.
BASE_NAMES = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
BASE_PREFIXES = ("LC_",)


def base_environment(passthrough: Iterable[str] = (), source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The base every task starts from: BASE_NAMES, LC_*, and the names a user passes on purpose."""
    source = os.environ if source is None else source
    wanted = set(BASE_NAMES) | set(passthrough)
    return {k: v for k, v in source.items() if k in wanted or k.startswith(BASE_PREFIXES)}


def task_environment(
    base: Mapping[str, str], declared: Mapping[str, str], secrets: Mapping[str, str]
) -> dict[str, str]:
    """The base, then the component's --env values, then its declared secrets."""
    return {**base, **declared, **secrets}
