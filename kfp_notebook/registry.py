"""What this kernel has defined: components and pipelines by name, and which definitions are newer."""

from __future__ import annotations

import difflib
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kfp_notebook.errors import UnknownNameError


@dataclass
class ComponentEntry:
    """A component defined by a `%%component` cell; `version` grows with each redefinition."""

    name: str
    component: Any
    version: int


@dataclass
class PipelineEntry:
    """A pipeline defined by a `%%pipeline` cell and the component versions it was built with."""

    name: str
    pipeline: Any
    uses: dict[str, int] = field(default_factory=dict)
    rebuild: Callable[[], tuple[Any, tuple[Any, ...]]] | None = None


class Registry:
    """Per-kernel record of definitions, in definition order."""

    def __init__(self) -> None:
        self.components: dict[str, ComponentEntry] = {}
        self.pipelines: dict[str, PipelineEntry] = {}
        self._versions = itertools.count(1)
        self.latest_pipeline: str | None = None
        #: The kernel's namespace (set by the magics): plain `@dsl.pipeline` objects there are found by name too.
        self.namespace: dict[str, Any] | None = None

    def add_component(self, name: str, component: Any) -> ComponentEntry:
        self.components.pop(name, None)
        entry = ComponentEntry(name, component, next(self._versions))
        self.components[name] = entry
        return entry

    def add_pipeline(
        self,
        name: str,
        built: tuple[Any, tuple[Any, ...]],
        rebuild: Callable[[], tuple[Any, tuple[Any, ...]]] | None = None,
    ) -> PipelineEntry:
        """Record a pipeline and the components it called; `rebuild` builds it again from its cell."""
        pipeline, used = built
        self.pipelines.pop(name, None)
        entry = PipelineEntry(name, pipeline, self._versions_of(used), rebuild)
        self.pipelines[name] = entry
        self.latest_pipeline = name
        return entry

    def _versions_of(self, used: tuple[Any, ...]) -> dict[str, int]:
        return {e.name: e.version for e in self.components.values() if any(e.component is c for c in used)}

    def refreshed(self, entry: PipelineEntry) -> Any:
        """The entry's pipeline, as the kernel defines it now: every component it uses re-checked against the
        kernel (rebuilt when what it carries changed, or StaleComponentError), then the pipeline rebuilt if a
        component was redefined or rebuilt since."""
        for name in entry.uses:
            if name in self.components:
                self.current_component(self.components[name])
        if entry.rebuild is not None and self.changed_components(entry):
            entry.pipeline, used = entry.rebuild()
            entry.uses = self._versions_of(used)
        return entry.pipeline

    def current_component(self, entry: ComponentEntry) -> Any:
        """The entry's component, rebuilt (and rebound in the notebook) when what it carries changed."""
        current = getattr(entry.component, "current", None)
        new = current() if current is not None else entry.component
        if new is not entry.component:
            namespace = getattr(entry.component, "namespace", None)
            if namespace is not None and namespace.get(entry.name) is entry.component:
                namespace[entry.name] = new
            entry.component, entry.version = new, next(self._versions)
        return new

    def component_entry_of(self, component: Any) -> ComponentEntry | None:
        return next((e for e in self.components.values() if e.component is component), None)

    def entry_of(self, pipeline: Any) -> PipelineEntry | None:
        return next((e for e in self.pipelines.values() if e.pipeline is pipeline), None)

    def pipeline(self, name: str | None = None) -> PipelineEntry:
        """The pipeline called `name` (its Python name or kfp name), or the latest one defined: a %%pipeline
        pipeline, else a plain `@dsl.pipeline` object of the kernel's namespace."""
        plain = self.plain_pipelines()
        if name is None:
            if self.latest_pipeline is not None:
                return self.pipelines[self.latest_pipeline]
            if plain:
                return PipelineEntry(*list(plain.items())[-1])
            raise UnknownNameError(
                "no pipeline is defined yet: write one in a %%pipeline cell (or a @dsl.pipeline function) first"
            )
        for entry in self.pipelines.values():
            if name in (entry.name, entry.pipeline.name):
                return entry
        for variable, pipeline in plain.items():
            if name in (variable, pipeline.name):
                return PipelineEntry(variable, pipeline)
        raise UnknownNameError(_unknown("pipeline", name, list(dict.fromkeys([*self.pipelines, *plain]))))

    def plain_pipelines(self) -> dict[str, Any]:
        """`@dsl.pipeline` objects bound to a name in the kernel's namespace that no %%pipeline cell defined."""
        mine = [entry.pipeline for entry in self.pipelines.values()]
        return self._plain("kfp.dsl.graph_component", "GraphComponent", mine)

    def component(self, name: str) -> ComponentEntry | None:
        """The component called `name` (its Python name or kfp name), or None."""
        return next((e for e in self.components.values() if name in (e.name, e.component.name)), None)

    def plain_component(self, name: str) -> Any:
        """A `@dsl.component` object of the kernel's namespace called `name` (variable or kfp name), or None."""
        return next((c for variable, c in self.plain_components().items() if name in (variable, c.name)), None)

    def plain_components(self) -> dict[str, Any]:
        """`@dsl.component` objects bound to a name in the kernel's namespace that no %%component cell defined."""
        mine = [entry.component for entry in self.components.values()]
        return self._plain("kfp.dsl.python_component", "PythonComponent", mine)

    def _plain(self, module: str, kind: str, mine: list[Any]) -> dict[str, Any]:
        """Objects of kfp's class `module.kind` in the kernel's namespace, other than `mine`, by variable name."""
        loaded = sys.modules.get(module)  # kfp not imported yet: no such object exists
        if self.namespace is None or loaded is None:
            return {}
        cls, ours = getattr(loaded, kind), {id(value) for value in mine}
        return {
            name: value
            for name, value in list(self.namespace.items())
            if isinstance(value, cls) and id(value) not in ours and not name.startswith("_")
        }

    def runnable_names(self, name: str) -> str:
        """The message for a name that is neither a pipeline nor a component of this kernel."""
        pipeline_names = list(dict.fromkeys([*self.pipelines, *self.plain_pipelines()]))
        component_names = list(dict.fromkeys([*self.components, *self.plain_components()]))
        known = [*pipeline_names, *component_names]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        pipelines = ", ".join(pipeline_names) or "none yet"
        components = ", ".join(component_names) or "none yet"
        defined = f"Defined pipelines: {pipelines}; components: {components}"
        return f"no pipeline or component named {name!r}.{hint} {defined}"

    def changed_components(self, entry: PipelineEntry) -> list[str]:
        """Components this pipeline uses that were redefined after it was built."""
        return [n for n, v in entry.uses.items() if n in self.components and self.components[n].version != v]


def _unknown(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(known) if known else "none yet"
    return f"no {kind} named {name!r}.{hint} Defined {kind}s: {listing}"
