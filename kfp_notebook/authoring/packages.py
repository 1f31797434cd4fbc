"""Which distributions a component's imports need, pinned from the kernel, and which are missing from --packages."""

from __future__ import annotations

import ast
import functools
import re
import sys
from dataclasses import dataclass
from importlib import metadata

#: Modules whose distribution has another name, for modules the kernel does not have installed.
_KNOWN_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "bs4": "beautifulsoup4",
    "skimage": "scikit-image",
    "dateutil": "python-dateutil",
    "google.cloud": "google-cloud-storage",
}
#: What every lightweight component's container has besides the standard library (kfp installs itself).
_IN_CONTAINER = {"kfp", "__future__", "typing_extensions"}


@dataclass(frozen=True)
class Requirement:
    """A third-party module the component imports, its distribution, and the kernel's version of it."""

    module: str
    distribution: str
    version: str | None

    @property
    def pin(self) -> str:
        return f"{self.distribution}=={self.version}" if self.version else self.distribution


def imported_modules(source: str) -> set[str]:
    """Top-level names of the modules a source imports (anywhere in it)."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def third_party(modules: set[str]) -> list[Requirement]:
    """The modules that are neither in the standard library nor in every component's container."""
    wanted = sorted(m for m in modules if m not in sys.stdlib_module_names and m not in _IN_CONTAINER)
    return [_requirement(m) for m in wanted]


def _requirement(module: str) -> Requirement:
    distributions = _distributions().get(module, [])
    name = distributions[0] if distributions else _KNOWN_DISTRIBUTIONS.get(module, module)
    try:
        version: str | None = metadata.version(name)
    except metadata.PackageNotFoundError:
        version = None
    return Requirement(module, name, version)


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


def local_module_file(module: str) -> str | None:
    """The file of an imported module that no installed distribution provides (a .py file of this machine)."""
    loaded = sys.modules.get(module)
    path = getattr(loaded, "__file__", None)
    if not isinstance(path, str) or module in _distributions() or module in sys.stdlib_module_names:
        return None
    return path


def normalized(name: str) -> str:
    """PEP 503 normalization, to compare distribution names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str | None:
    """The distribution a pip requirement names, or None for URLs and paths."""
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return normalized(match.group(1)) if match and "://" not in spec else None


def missing(requirements: list[Requirement], packages: tuple[str, ...]) -> list[Requirement]:
    """Requirements no --packages entry provides (URL entries may provide anything: nothing is reported then)."""
    names = [requirement_name(p) for p in packages]
    if None in names:
        return []
    return [r for r in requirements if normalized(r.distribution) not in names]


def checks_packages(base_image: str) -> bool:
    """Only stock python images are known to hold nothing but the standard library (and kfp, installed at start)."""
    image = base_image.removeprefix("docker.io/").removeprefix("library/")
    return image.startswith("python:")
