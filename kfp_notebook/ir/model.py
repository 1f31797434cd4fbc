"""The typed model of a compiled pipeline: components, tasks, groups, value sources, containers, platform settings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: A parameter without a default has this as its `default`.
ABSENT: Any = object()


@dataclass(frozen=True)
class PythonProgram:
    """A lightweight Python component: its source, the function to call, and the packages pip would install."""

    source: str
    function: str
    packages: tuple[str, ...]
    index_urls: tuple[str, ...]


@dataclass(frozen=True)
class Parameter:
    """A declared input or output parameter: its IR type, default and whether it may be left out."""

    type: str
    default: Any = ABSENT
    optional: bool = False

    @property
    def has_default(self) -> bool:
        return self.default is not ABSENT


@dataclass(frozen=True)
class ArtifactType:
    """A declared artifact: its schema title (system.Dataset, system.Metrics, ...) and whether it is a list."""

    schema_title: str
    is_list: bool = False
    schema: dict[str, Any] = field(default_factory=dict, compare=False)  # the type as executors receive it


@dataclass(frozen=True)
class Interface:
    """Declared parameters and artifacts (of a component's inputs or outputs)."""

    parameters: dict[str, Parameter] = field(default_factory=dict)
    artifacts: dict[str, ArtifactType] = field(default_factory=dict)


@dataclass(frozen=True)
class Resources:
    """CPU, memory and accelerator settings of a container (as kfp writes them; None when unset)."""

    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    accelerator_type: str | None = None
    accelerator_count: str | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in vars(self).values())


@dataclass(frozen=True)
class Container:
    """What a container executor runs."""

    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: dict[str, str]
    resources: Resources
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ValueSource:
    """Where a value comes from: a constant, an input of the enclosing DAG, a task output, or a final status."""

    kind: str  # "constant" | "input" | "task_output" | "final_status"
    value: Any = None
    name: str = ""  # the DAG input's name, or the producer's output key
    producer: str = ""
    selector: str | None = None


@dataclass(frozen=True)
class ArtifactSource:
    """Where an input artifact comes from: an input of the enclosing DAG, or a task's output."""

    kind: str  # "input" | "task_output"
    name: str
    producer: str = ""


@dataclass(frozen=True)
class PvcMount:
    path: str
    pvc: ValueSource


@dataclass(frozen=True)
class SecretAsEnv:
    secret: ValueSource
    keys: tuple[tuple[str, str], ...]  # (secret key, environment variable)
    optional: bool = False


@dataclass(frozen=True)
class SecretAsVolume:
    secret: ValueSource
    mount_path: str
    optional: bool = False


@dataclass(frozen=True)
class Platform:
    """A component's Kubernetes settings (kfp-kubernetes): mounts and secrets typed, the rest by name."""

    pvc_mounts: tuple[PvcMount, ...] = ()
    secrets_as_env: tuple[SecretAsEnv, ...] = ()
    secrets_as_volume: tuple[SecretAsVolume, ...] = ()
    image_pull_secrets: tuple[ValueSource, ...] = ()
    field_path_env: tuple[tuple[str, str], ...] = ()  # (environment variable, downward-API field path)
    pod_labels: dict[str, str] = field(default_factory=dict)
    pod_annotations: dict[str, str] = field(default_factory=dict)
    settings: tuple[str, ...] = ()  # every setting kfp-kubernetes wrote, by its IR name


@dataclass(frozen=True)
class Importer:
    """A dsl.importer: where the artifact is (a constant, or the task's `uri` input), its type and metadata."""

    uri: str | None  # None: the `uri` input parameter gives it
    schema: dict[str, Any]
    metadata: dict[str, Any]
    reimport: bool = False


@dataclass(frozen=True)
class Loop:
    """A ParallelFor: the input each item is given as, where items come from, and how many run at once."""

    item_input: str
    over_artifacts: bool
    raw_items: str | None  # the literal items as kfp wrote them (JSON text)
    items_input: str | None  # the DAG input holding the items otherwise
    parallelism: int

    @property
    def literal_items(self) -> list[Any] | None:
        """The items when they are written in the pipeline; None when they come from a parameter or an output."""
        if self.raw_items is None:
            return None
        try:
            items = json.loads(self.raw_items)
        except ValueError:
            return None
        return items if isinstance(items, list) else None


@dataclass(frozen=True)
class Retry:
    max_retries: int
    backoff_seconds: float


@dataclass(frozen=True)
class OutputChoice:
    """One candidate for a DAG output: a producer task inside the DAG and its output key."""

    producer: str
    key: str


@dataclass
class Task:
    """A task of a DAG: its component, what it waits for, and how its inputs are wired."""

    name: str
    path: str  # group names and the task name joined with "/" (the id of its node in the DAG view)
    display_name: str
    component: Component
    dependencies: tuple[str, ...] = ()
    runs_after_failure: bool = False  # an exit task: runs when its upstream tasks completed, whatever their state
    condition: str | None = None
    loop: Loop | None = None
    caching: bool = False
    retry: Retry | None = None
    parameters: dict[str, ValueSource] = field(default_factory=dict)
    artifacts: dict[str, ArtifactSource] = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        """A control-flow group (condition, branches, loop, exit handler): its component is a DAG."""
        return self.component.dag is not None

    @property
    def kfp_name(self) -> str:
        """The component's name without kfp's `comp-` prefix."""
        return self.component.name.removeprefix("comp-")


@dataclass
class Dag:
    """A DAG component's tasks and the outputs it hands to its owner."""

    tasks: dict[str, Task] = field(default_factory=dict)
    output_parameters: dict[str, tuple[OutputChoice, ...]] = field(default_factory=dict)
    output_artifacts: dict[str, tuple[OutputChoice, ...]] = field(default_factory=dict)


@dataclass
class Component:
    """A component of the pipeline: a DAG, a Python program, a PVC stub, or what cannot run locally."""

    name: str
    kind: str  # "dag" | "python" | "createpvc" | "deletepvc" | "container" | "importer"
    inputs: Interface
    outputs: Interface
    container: Container | None = None
    platform: Platform = field(default_factory=Platform)
    program: PythonProgram | None = None
    dag: Dag | None = None
    importer: Importer | None = None
    identity: dict[str, Any] = field(default_factory=dict, repr=False)  # what defines it, for cache keys
