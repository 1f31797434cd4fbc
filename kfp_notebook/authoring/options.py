"""The magics' command lines: parse them into typed options, refusing every bad value clearly."""

from __future__ import annotations

import argparse
import difflib
import keyword
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kfp_notebook.errors import OptionError

_CPU = re.compile(r"^([0-9]*[.])?[0-9]+m?$")
_MEMORY = re.compile(r"^[0-9]+(E|Ei|P|Pi|T|Ti|G|Gi|M|Mi|K|Ki)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class SecretEnv:
    """One key of a Kubernetes Secret exposed to a task as an environment variable."""

    secret: str
    key: str
    env: str


@dataclass(frozen=True)
class VolumeMount:
    """An existing PersistentVolumeClaim mounted into a task."""

    pvc: str
    path: str


@dataclass(frozen=True)
class TaskDefaults:
    """Settings applied to every task made from a component (kfp sets them per task)."""

    cpu: str | None = None
    cpu_limit: str | None = None
    memory: str | None = None
    memory_limit: str | None = None
    gpu: int | None = None
    gpu_type: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    secrets: tuple[SecretEnv, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    retries: int | None = None
    caching: bool = True
    display_name: str | None = None


@dataclass(frozen=True)
class ComponentOptions:
    """What a `%%component` line asks for."""

    name: str | None = None
    base_image: str | None = None
    packages: tuple[str, ...] = ()
    auto_packages: bool = False
    pip_index_urls: tuple[str, ...] = ()
    output_component_file: str | None = None
    freeze: tuple[str, ...] = ()
    defaults: TaskDefaults = field(default_factory=TaskDefaults)


@dataclass(frozen=True)
class PipelineOptions:
    """What a `%%pipeline` line asks for."""

    name: str | None = None
    description: str | None = None
    output: str | None = None


class _Parser(argparse.ArgumentParser):
    """argparse that raises OptionError with our wording instead of exiting."""

    def error(self, message: str):  # type: ignore[override]
        raise OptionError(_reword_argparse(self.prog, message))

    def parse_line(self, line: str) -> argparse.Namespace:
        tokens = split_line(line)
        namespace, extras = self.parse_known_args(tokens)
        if extras:
            raise OptionError(self._unknown_message(extras))
        return namespace

    def _unknown_message(self, extras: list[str]) -> str:
        bad = extras[0]
        known = [s for a in self._actions for s in a.option_strings]
        close = difflib.get_close_matches(bad.split("=")[0], known, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]}?" if close else ""
        what = "unknown option" if bad.startswith("-") else "unexpected argument"
        return f"{self.prog}: {what} {bad!r}.{hint} Valid options: {', '.join(sorted(known))}"


def split_line(line: str) -> list[str]:
    """Split a magic line like a shell would, with a clear error for unbalanced quotes."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise OptionError(f"cannot read the options {line!r}: {exc} (check the quotes)") from None


def _reword_argparse(prog: str, message: str) -> str:
    match = re.match(r"argument (\S+?)(/\S+)?: expected (one|at least one) argument", message)
    if match:
        return f"{prog}: {match.group(1)} needs a value"
    return f"{prog}: {message}"


def magic_parser(prog: str) -> _Parser:
    """An empty parser of a magic's line that raises OptionError in our wording; commands.py fills it."""
    return _Parser(prog=prog, add_help=False, allow_abbrev=False)


def _component_parser() -> _Parser:
    from kfp_notebook.commands import COMPONENT

    return COMPONENT.build(magic_parser(COMPONENT.prog))


def _pipeline_parser() -> _Parser:
    from kfp_notebook.commands import PIPELINE

    return PIPELINE.build(magic_parser(PIPELINE.prog))


def parse_component_line(line: str) -> ComponentOptions:
    """Parse the `%%component` line into ComponentOptions (raises OptionError)."""
    ns = _component_parser().parse_line(line)
    _check_across(ns)
    return ComponentOptions(
        name=_optional(ns.name, python_name, "--name"),
        base_image=_optional(ns.base_image, image_name, "--base-image"),
        packages=tuple(package_spec(p) for p in ns.packages if p != "auto"),
        auto_packages="auto" in ns.packages,
        pip_index_urls=tuple(index_url(u) for u in ns.pip_index_url),
        output_component_file=_optional(ns.output_component_file, yaml_path, "--output-component-file"),
        freeze=tuple(python_name(n, "--freeze") for n in ns.freeze),
        defaults=_task_defaults(ns),
    )


def _check_across(ns: argparse.Namespace) -> None:
    """Repeated flags accumulate; two values for one name, or a request above its limit, are refused."""
    from kfp_notebook.authoring import option_rules as rules

    packages = [package_spec(p) for p in ns.packages if p != "auto"]
    rules.refuse_duplicates("--packages", packages, rules.package_name)
    rules.refuse_duplicates("--pip-index-url", ns.pip_index_url)
    rules.refuse_duplicates("--env", ns.env, lambda e: env_pair(e)[0])
    rules.refuse_duplicates("--secret", ns.secret, lambda s: secret_env(s).env)
    rules.refuse_duplicates("--volume", ns.volume, lambda v: volume_mount(v).path)
    rules.refuse_duplicates("--freeze", ns.freeze)
    cpu, cpu_limit = (_optional(v, cpu_quantity, f) for v, f in ((ns.cpu, "--cpu"), (ns.cpu_limit, "--cpu-limit")))
    rules.refuse_request_above_limit("cpu", cpu, cpu_limit, rules.cpu_amount)
    memory, memory_limit = (
        _optional(v, memory_quantity, f) for v, f in ((ns.memory, "--memory"), (ns.memory_limit, "--memory-limit"))
    )
    rules.refuse_request_above_limit("memory", memory, memory_limit, rules.memory_amount)


def _task_defaults(ns: argparse.Namespace) -> TaskDefaults:
    return TaskDefaults(
        cpu=_optional(ns.cpu, cpu_quantity, "--cpu"),
        cpu_limit=_optional(ns.cpu_limit, cpu_quantity, "--cpu-limit"),
        memory=_optional(ns.memory, memory_quantity, "--memory"),
        memory_limit=_optional(ns.memory_limit, memory_quantity, "--memory-limit"),
        gpu=_optional(ns.gpu, gpu_count, "--gpu"),
        gpu_type=_optional(ns.gpu_type, nonempty_text, "--gpu-type"),
        env=tuple(env_pair(e) for e in ns.env),
        secrets=tuple(secret_env(s) for s in ns.secret),
        volumes=tuple(volume_mount(v) for v in ns.volume),
        retries=_optional(ns.retries, retry_count, "--retries"),
        caching=not ns.no_cache,
        display_name=_optional(ns.display_name, nonempty_text, "--display-name"),
    )


def parse_pipeline_line(line: str) -> PipelineOptions:
    """Parse the `%%pipeline` line into PipelineOptions (raises OptionError)."""
    ns = _pipeline_parser().parse_line(line)
    return PipelineOptions(
        name=_optional(ns.name, nonempty_text, "--name"),
        description=ns.description,
        output=_optional(ns.output, yaml_path, "--output"),
    )


def _optional(value: str | None, check: Callable[[str, str], object], flag: str):
    return None if value is None else check(value, flag)


def cpu_quantity(text: str, flag: str = "--cpu") -> str:
    """Validate a Kubernetes CPU quantity as kfp accepts it (500m, 1, 2.5)."""
    if not _CPU.match(text):
        raise OptionError(f"{flag} {text!r} is not a CPU quantity (examples: 500m, 1, 2.5)")
    return text


def memory_quantity(text: str, flag: str = "--memory") -> str:
    """Validate a Kubernetes memory quantity as kfp accepts it (512Mi, 1G, 2Gi)."""
    if not _MEMORY.match(text):
        raise OptionError(
            f"{flag} {text!r} is not a memory quantity: a whole number with an optional unit "
            "K, M, G, T, P, E or Ki, Mi, Gi, Ti, Pi, Ei (examples: 512Mi, 1G, 2Gi)"
        )
    return text


def gpu_count(text: str, flag: str = "--gpu") -> int:
    """Validate a GPU count: a whole number of at least 1."""
    if not _whole(text) or int(text) < 1:
        raise OptionError(f"{flag} {text!r} is not a GPU count: use a whole number of at least 1 (example: --gpu 1)")
    return int(text)


def _whole(text: str) -> bool:
    """ASCII digits only: `isdigit` alone accepts '²' and other digits `int` refuses."""
    return text.isascii() and text.isdigit()


def retry_count(text: str, flag: str = "--retries") -> int:
    """Validate a retry count: a whole number of at least 0."""
    if not _whole(text):
        raise OptionError(f"{flag} {text!r} is not a retry count: use a whole number such as 0, 1 or 3")
    return int(text)


def env_pair(text: str, flag: str = "--env") -> tuple[str, str]:
    """Validate NAME=VALUE; the value may be empty, the name must be an environment variable name."""
    name, eq, value = text.partition("=")
    if not eq or not _ENV_NAME.match(name):
        raise OptionError(
            f"{flag} {text!r} must be NAME=VALUE with NAME a variable name (example: --env LOG_LEVEL=debug)"
        )
    return name, value


def secret_env(text: str, flag: str = "--secret") -> SecretEnv:
    """Validate SECRET:KEY=ENVVAR (a Kubernetes Secret's key exposed as an environment variable)."""
    match = re.match(r"^([^:=]+):([^:=]+)=([^:=]+)$", text)
    example = "(example: --secret db-creds:password=DB_PASSWORD)"
    if not match:
        raise OptionError(f"{flag} {text!r} must be SECRET:KEY=ENVVAR {example}")
    secret, key, env = match.groups()
    if not _K8S_NAME.match(secret):
        raise OptionError(
            f"{flag}: {secret!r} is not a Kubernetes Secret name (lowercase letters, digits, '-', '.') {example}"
        )
    if not _SECRET_KEY.match(key):
        raise OptionError(f"{flag}: {key!r} is not a Secret key (letters, digits, '-', '_', '.') {example}")
    if not _ENV_NAME.match(env):
        raise OptionError(f"{flag}: {env!r} is not an environment variable name {example}")
    return SecretEnv(secret, key, env)


def volume_mount(text: str, flag: str = "--volume") -> VolumeMount:
    """Validate PVC:/mount/path (an existing PersistentVolumeClaim and where tasks see it)."""
    pvc, colon, path = text.partition(":")
    example = "(example: --volume my-data:/data)"
    if not colon:
        raise OptionError(f"{flag} {text!r} must be PVC:/mount/path {example}")
    if not _K8S_NAME.match(pvc):
        raise OptionError(
            f"{flag}: {pvc!r} is not a PersistentVolumeClaim name (lowercase letters, digits, '-', '.') {example}"
        )
    if not path.startswith("/"):
        raise OptionError(f"{flag}: the mount path {path!r} must be absolute {example}")
    return VolumeMount(pvc, path)


def package_spec(text: str, flag: str = "--packages") -> str:
    """Validate one pip requirement (numpy, numpy==1.26.4, pandas>=2, a URL)."""
    if "://" in text or text.startswith("git+"):
        return text
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(text)
    except InvalidRequirement:
        raise OptionError(
            f"{flag} {text!r} is not a pip requirement (examples: numpy, numpy==1.26.4, 'pandas>=2,<3'; "
            "no spaces around ==)"
        ) from None
    return text


def index_url(text: str, flag: str = "--pip-index-url") -> str:
    """Validate a package index URL."""
    if not _URL.match(text):
        raise OptionError(f"{flag} {text!r} is not an http(s) URL (example: https://pypi.org/simple)")
    return text


def image_name(text: str, flag: str = "--base-image") -> str:
    """Validate a container image reference (no spaces; a name, optional tag or digest)."""
    if not text or any(c.isspace() for c in text) or text != text.strip("/:@"):
        raise OptionError(f"{flag} {text!r} is not a container image (examples: python:3.11, ghcr.io/org/image:1.0)")
    return text


def python_name(text: str, flag: str = "--name") -> str:
    """Validate a Python identifier."""
    if not text.isidentifier() or keyword.iskeyword(text):
        raise OptionError(f"{flag} {text!r} is not a Python name (example: {flag} train_model)")
    return text


def nonempty_text(text: str, flag: str) -> str:
    """Validate a value that must not be blank."""
    if not text.strip():
        raise OptionError(f"{flag} needs a non-empty value")
    return text


def yaml_path(text: str, flag: str) -> str:
    """Validate a file path ending in .yaml or .yml (what kfp's compiler writes)."""
    if not text.endswith((".yaml", ".yml")):
        raise OptionError(f"{flag} {text!r} must end with .yaml or .yml (example: {flag} pipeline.yaml)")
    return text


def parameter_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """`--param NAME=VALUE` values as a dict of texts (typed later against the pipeline's parameters)."""
    values = {}
    for text in assignments:
        name, eq, value = text.partition("=")
        if not eq or not name.isidentifier():
            raise OptionError(f"--param {text!r} must be NAME=VALUE (example: --param epochs=3)")
        values[name] = value
    return values


def worker_count(text: str | None, flag: str = "--workers") -> int | None:
    if text is None:
        return None
    if not _whole(text) or int(text) < 1:
        raise OptionError(f"{flag} {text!r} must be a whole number of at least 1 (example: {flag} 4)")
    return int(text)
