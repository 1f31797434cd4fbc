"""Read a compiled pipeline (kfp's IR YAML, both documents): components, executors, platform settings."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

import yaml

EXECUTOR_MAIN = "kfp.dsl.executor_main"
PVC_IMAGES = {"argostub/createpvc": "createpvc", "argostub/deletepvc": "deletepvc"}


@dataclass(frozen=True)
class PythonProgram:
    """A lightweight Python component: its source, the function to call, and the packages pip would install."""

    source: str
    function: str
    packages: tuple[str, ...]
    index_urls: tuple[str, ...]


class PipelineIR:
    """The pipeline spec and its Kubernetes platform spec, with lookups by component and executor."""

    def __init__(self, documents: list[dict[str, Any]]):
        self.spec = documents[0]
        platform = documents[1] if len(documents) > 1 else {}
        kubernetes = platform.get("platforms", {}).get("kubernetes", {})
        self.platform_executors: dict[str, Any] = kubernetes.get("deploymentSpec", {}).get("executors", {})
        self.components: dict[str, Any] = self.spec.get("components", {})
        self.executors: dict[str, Any] = self.spec.get("deploymentSpec", {}).get("executors", {})

    @classmethod
    def from_yaml(cls, text: str) -> PipelineIR:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return cls([d for d in yaml.load_all(text, Loader=loader) if d])

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> PipelineIR:
        """The IR of a kfp pipeline object, without writing YAML (the same dicts the YAML holds)."""
        from google.protobuf import json_format

        documents = [json_format.MessageToDict(pipeline.pipeline_spec)]
        platform = getattr(pipeline, "platform_spec", None)
        if platform is not None and platform.platforms:
            documents.append(json_format.MessageToDict(platform))
        return cls(documents)

    @property
    def name(self) -> str:
        return self.spec.get("pipelineInfo", {}).get("name", "pipeline")

    @property
    def root(self) -> dict[str, Any]:
        return self.spec["root"]

    def component(self, task: dict[str, Any]) -> dict[str, Any]:
        return self.components[task["componentRef"]["name"]]

    def is_dag(self, component: dict[str, Any]) -> bool:
        return "dag" in component

    def executor_label(self, component: dict[str, Any]) -> str:
        return component.get("executorLabel", "")

    def container(self, component: dict[str, Any]) -> dict[str, Any]:
        return self.executors.get(self.executor_label(component), {}).get("container", {})

    def kind(self, component: dict[str, Any]) -> str:
        """ "dag", "python", "createpvc", "deletepvc", or what cannot run here ("container", "importer")."""
        if self.is_dag(component):
            return "dag"
        executor = self.executors.get(self.executor_label(component), {})
        if "importer" in executor:
            return "importer"
        container = executor.get("container", {})
        if container.get("image") in PVC_IMAGES:
            return PVC_IMAGES[container["image"]]
        return "python" if EXECUTOR_MAIN in " ".join(container.get("command", [])) else "container"

    def program(self, component: dict[str, Any]) -> PythonProgram:
        container = self.container(component)
        args = container.get("args", [])
        function = args[args.index("--function_to_execute") + 1]
        packages, index_urls = parse_pip_install(container["command"][2] if len(container["command"]) > 2 else "")
        return PythonProgram(container["command"][-1], function, packages, index_urls)

    def platform(self, component: dict[str, Any]) -> dict[str, Any]:
        return self.platform_executors.get(self.executor_label(component), {})

    def container_components(self) -> dict[str, dict[str, Any]]:
        """The components that run a container (every one but the DAGs), by name."""
        return {name: c for name, c in self.components.items() if not self.is_dag(c)}

    def parameter_default(self, name: str) -> Any:
        """The default value of a pipeline parameter (None when it has none)."""
        parameters = self.root.get("inputDefinitions", {}).get("parameters", {})
        return parameters.get(name, {}).get("defaultValue")


def parse_pip_install(script: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The packages and index URLs of the `pip install` kfp writes (its own kfp install left out)."""
    packages: list[str] = []
    index_urls: list[str] = []
    for segment in re.split(r"&&", script):
        if "pip install" not in segment:
            continue
        words = shlex.split(segment.split("pip install", 1)[1])
        requirements, urls = _install_arguments(words)
        if any(r.startswith("kfp==") for r in requirements) and "--no-deps" in words:
            continue
        packages += requirements
        index_urls += [u for u in urls if u not in index_urls]
    return tuple(packages), tuple(index_urls)


def _install_arguments(words: list[str]) -> tuple[list[str], list[str]]:
    requirements, urls, skip_next = [], [], False
    for position, word in enumerate(words):
        if skip_next:
            skip_next = False
            continue
        if word in ("--index-url", "--extra-index-url"):
            urls.append(words[position + 1])
            skip_next = True
        elif word == "--trusted-host":
            skip_next = True
        elif not word.startswith("-") and word not in ('"$0"', '"$@"'):
            requirements.append(word)
    return requirements, urls
