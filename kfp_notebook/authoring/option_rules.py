"""Rules across the options of one `%%component` line: one value per name, requests within their limits."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction

from kfp_notebook.errors import OptionError

_MEMORY_UNITS = {
    **{unit: 1000**power for power, unit in enumerate(["", "K", "M", "G", "T", "P", "E"])},
    **{f"{unit}i": 1024**power for power, unit in enumerate(["", "K", "M", "G", "T", "P", "E"]) if unit},
}


def refuse_duplicates(flag: str, values: Iterable[str], key: Callable[[str], str] = str) -> None:
    """Each name once: a repeated flag accumulates, but two values for one name are refused."""
    seen: dict[str, str] = {}
    for value in values:
        name = key(value)
        if name in seen:
            raise OptionError(f"{flag} {seen[name]!r} and {flag} {value!r} both set {name!r}; keep the one you mean")
        seen[name] = value


def package_name(text: str) -> str:
    """The distribution a pip requirement names (canonical), or the text itself for URLs."""
    if "://" in text or text.startswith("git+"):
        return text
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(Requirement(text).name))


def cpu_amount(text: str) -> Fraction:
    """A CPU quantity in cores: 500m is 1/2, 2.5 is 5/2."""
    return Fraction(text[:-1]) / 1000 if text.endswith("m") else Fraction(text)


def memory_amount(text: str) -> int:
    """A memory quantity in bytes: 1G is 10**9, 1Gi is 2**30."""
    digits = text.rstrip("EPTGMKi")
    return int(digits) * _MEMORY_UNITS[text[len(digits) :]]


def refuse_request_above_limit(
    kind: str, request: str | None, limit: str | None, amount: Callable[[str], object]
) -> None:
    """`--cpu 2 --cpu-limit 1` asks Kubernetes for more than the task may use: refuse it."""
    if request is None or limit is None:
        return
    if amount(request) > amount(limit):  # type: ignore[operator]
        raise OptionError(
            f"--{kind} {request} is more than --{kind}-limit {limit}: a task cannot request more than its limit; "
            f"raise --{kind}-limit or lower --{kind}"
        )
