"""Start a local run: check everything before it starts (kinds, parameters, secrets), then schedule it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfp_notebook.backends.local.cache import TaskCache
from kfp_notebook.backends.local.platform import ignored_settings, resource_settings, secret_environment
from kfp_notebook.backends.local.scheduler import Prepared, Scheduler
from kfp_notebook.backends.local.store import RunStore
from kfp_notebook.errors import KfpNotebookError, OptionError
from kfp_notebook.ir import PipelineIR
from kfp_notebook.parameters import coerce, parse_parameter
from kfp_notebook.status import RunHandle


class NotRunnableLocally(KfpNotebookError):
    """The pipeline uses something the local backend cannot run."""


@dataclass(frozen=True)
class LocalOptions:
    """How to run locally: parallel workers (default: CPU count), the cache, the runs folder."""

    workers: int | None = None
    cache: bool = True
    runs_folder: str | os.PathLike[str] | None = None
    environments_folder: str | os.PathLike[str] | None = None


def run_local(
    yaml_text: str, parameters: dict[str, Any] | None = None, options: LocalOptions | None = None
) -> RunHandle:
    """Start running a compiled pipeline on this machine; returns at once with the run's handle."""
    options = options or LocalOptions()
    ir = PipelineIR.from_yaml(yaml_text)
    values = pipeline_parameters(ir, parameters or {})
    prepared = preflight(ir)
    store = RunStore(options.runs_folder)
    run_id, folder = store.create(ir.name, yaml_text, values)
    handle = RunHandle(run_id, ir.name, "local", notices=list(prepared.notices))
    cache = TaskCache(store.root / ".cache") if options.cache else None
    workers = options.workers or os.cpu_count() or 1
    environments = Path(options.environments_folder) if options.environments_folder else None
    return Scheduler(ir, handle, values, folder, store, prepared, workers, cache, environments).start()


def pipeline_parameters(ir: PipelineIR, given: dict[str, Any]) -> dict[str, Any]:
    """The run's parameter values: given ones typed (text from `--param` parsed), defaults for the rest."""
    declared = ir.root.get("inputDefinitions", {}).get("parameters", {})
    values = typed_parameters(ir, given)
    for name, definition in declared.items():
        kind = definition.get("parameterType", "STRING")
        if name in values:
            continue
        if "defaultValue" in definition:
            values[name] = coerce(definition["defaultValue"], kind)
        elif not definition.get("isOptional"):
            raise OptionError(
                f"{ir.name} needs a value for {name!r}: pass --param {name}=... (or params={{{name!r}: ...}})"
            )
    if ir.root.get("inputDefinitions", {}).get("artifacts"):
        raise NotRunnableLocally(f"{ir.name} takes input artifacts, which local runs cannot provide yet")
    return values


def typed_parameters(ir: PipelineIR, given: dict[str, Any]) -> dict[str, Any]:
    """Given parameter values typed as the pipeline declares them (texts from `--param` parsed)."""
    declared = ir.root.get("inputDefinitions", {}).get("parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise OptionError(
            f"{ir.name} has no parameter {unknown[0]!r} (its parameters: {', '.join(declared) or 'none'})"
        )
    typed = {}
    for name, value in given.items():
        kind = declared[name].get("parameterType", "STRING")
        typed[name] = (
            parse_parameter(name, value, kind) if isinstance(value, str) and kind != "STRING" else coerce(value, kind)
        )
    return typed


def preflight(ir: PipelineIR) -> Prepared:
    """Everything that must hold before the first task starts; raises with the fix otherwise."""
    prepared = Prepared()
    resources: list[str] = []
    for name, component in ir.components.items():
        kind = ir.kind(component)
        if kind in ("container", "importer"):
            raise NotRunnableLocally(_not_runnable(name, kind, ir.container(component).get("image", "?")))
        if kind != "python":
            continue
        label = ir.executor_label(component)
        platform = ir.platform(component)
        prepared.secrets[label] = secret_environment(platform)
        program = ir.program(component)
        if program.packages:
            prepared.environments[label] = (program.packages, program.index_urls)
        if resource_settings(ir.container(component)):
            resources.append(name.removeprefix("comp-"))
        ignored = ignored_settings(platform)
        if ignored:
            prepared.notices.append(
                f"{', '.join(ignored)} of {name.removeprefix('comp-')}: Kubernetes-only, not applied locally"
            )
    if resources:
        prepared.notices.insert(0, f"CPU, memory and GPU settings are not enforced locally ({', '.join(resources)})")
    return prepared


def _not_runnable(name: str, kind: str, image: str) -> str:
    what = (
        "imports an artifact (dsl.importer)"
        if kind == "importer"
        else f"runs the container image {image} with its own command"
    )
    return (
        f"{name.removeprefix('comp-')} {what}: local runs execute Python components (%%component, @dsl.component) "
        "only. Submit this pipeline to Kubeflow, or write that step as a Python component."
    )
