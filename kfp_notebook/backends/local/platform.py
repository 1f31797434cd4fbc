"""Kubernetes settings, locally: PVCs become folders, secrets come from local values (env, files), the rest is noted."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import yaml

from kfp_notebook.errors import KfpNotebookError
from kfp_notebook.ir import Platform, ValueSource

#: Platform settings this backend applies; any other is announced as not applied locally.
APPLIED = {"pvcMount", "secretAsEnv", "secretAsVolume", "fieldPathAsEnv", "podMetadata"}
SECRETS_FILE_ENV = "KFP_NOTEBOOK_SECRETS"


class MissingSecretError(KfpNotebookError):
    """A secret the pipeline needs has no local value: the run does not start."""


class SecretsFileError(KfpNotebookError):
    """The local secrets file cannot be read; the message never quotes it."""


def secret_variable(secret: str, key: str) -> str:
    """The environment variable that gives a secret's key locally: KFP_SECRET_<SECRET>_<KEY>."""
    return "KFP_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{secret}_{key}").upper()


def secrets_file() -> Path:
    default = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kfp-notebook" / "secrets.yaml"
    return Path(os.environ.get(SECRETS_FILE_ENV) or default)


def secret_value(secret: str, key: str) -> str | None:
    """The local value of a secret's key: the environment variable first, then the secrets file."""
    value = os.environ.get(secret_variable(secret, key))
    if value is not None:
        return value
    path = secrets_file()
    if not path.exists():
        return None
    document = _secrets_document(path)
    found = (document.get(secret) or {}).get(key) if isinstance(document, dict) else None
    return None if found is None else str(found)


def _secrets_document(path: Path) -> object:
    """The secrets file's content; a malformed file is named by its line number only, never its text."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" near line {mark.line + 1}" if mark is not None else ""
        raise SecretsFileError(
            f"the secrets file {path} is not valid YAML{where}; fix it (format: `SECRET: {{KEY: value}}`) "
            "and run again (its lines are not shown, as they hold secrets)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsFileError(f"cannot read the secrets file {path}: {exc.__class__.__name__}") from None


SecretName = Callable[[ValueSource], "str | None"]  # a secret's name from its source; None: not known yet


def secret_environment(platform: Platform, name_of: SecretName) -> dict[str, str]:
    """Environment variables a task gets from secrets (raises MissingSecretError naming what is missing)."""
    environment = {}
    for entry in platform.secrets_as_env:
        secret = name_of(entry.secret)
        for key, variable in entry.keys:
            value = secret_value(secret, key) if secret else None
            if value is None and secret is not None and not entry.optional:
                raise MissingSecretError(missing_secret_message(secret, key))
            if value is not None:
                environment[variable] = value
    return environment


def secret_keys(secret: str) -> dict[str, str]:
    """Every key of a secret in the secrets file (a volume holds them all, as a mounted Kubernetes secret does)."""
    path = secrets_file()
    document = _secrets_document(path) if path.exists() else None
    found = document.get(secret) if isinstance(document, dict) else None
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def check_secret_volumes(platform: Platform, name_of: SecretName) -> None:
    """Every secret mounted as a volume has keys in the secrets file (unless it is optional)."""
    for entry in platform.secrets_as_volume:
        secret = name_of(entry.secret)
        if secret is not None and not entry.optional and not secret_keys(secret):
            raise MissingSecretError(
                f"the pipeline mounts secret {secret!r} at {entry.mount_path}, which has no local keys, so the run did "
                f"not start. Add it to {secrets_file()} as `{secret}: {{key: value, ...}}`: each key becomes a "
                "read-only file at the mount path (a file outside the notebook; never in the notebook)."
            )


def write_secret_volume(secret: str, folder: Path) -> None:
    """The secret's keys as read-only files in `folder` (made private to this user)."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in secret_keys(secret).items():
        path = folder / key
        path.write_text(value, encoding="utf-8")
        path.chmod(0o444)
    folder.chmod(0o555)


def missing_secret_message(secret: str, key: str) -> str:
    return (
        f"the pipeline needs key {key!r} of secret {secret!r}, which has no local value, so the run did not start. "
        f"Set the environment variable {secret_variable(secret, key)} before starting Jupyter, or add it to "
        f"{secrets_file()} as `{secret}: {{{key}: ...}}` (a file outside the notebook; never in the notebook)."
    )


def ignored_settings(platform: Platform) -> list[str]:
    return sorted(k for k in platform.settings if k not in APPLIED)


def volume_folder(run_folder: Path, pvc_name: str) -> Path:
    """The folder standing for a PVC during a local run."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", pvc_name)
    return run_folder / "volumes" / safe
