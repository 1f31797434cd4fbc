"""The kernel's registry of definitions (kfp_notebook/registry.py): versions, lookups, staleness and rebuilds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kfp_notebook.errors import UnknownNameError
from kfp_notebook.registry import Registry


def component(name: str, current=None, namespace=None):
    """A stand-in for a built component: what the registry reads of one (its identity, `current`, `namespace`)."""
    made = SimpleNamespace(name=name, namespace=namespace)
    if current is not None:
        made.current = current
    return made


def pipeline(name: str):
    return SimpleNamespace(name=name)


def test_each_definition_gets_a_newer_version_and_a_redefinition_moves_to_the_end():
    registry = Registry()
    first, second = registry.add_component("a", component("a")), registry.add_component("b", component("b"))
    again = registry.add_component("a", component("a"))
    assert (first.version, second.version) == (1, 2) and again.version == 3
    assert list(registry.components) == ["b", "a"] and registry.components["a"] is again


@pytest.mark.parametrize(
    ("redefined", "changed"),
    [((), []), (("train",), ["train"]), (("train", "score"), ["train", "score"]), (("other",), [])],
)
def test_a_pipeline_knows_which_of_its_components_were_redefined_since(redefined, changed):
    registry = Registry()
    used = tuple(registry.add_component(n, component(n)).component for n in ("train", "score"))
    registry.add_component("other", component("other"))
    entry = registry.add_pipeline("fit", (pipeline("fit"), used))
    assert entry.uses == {"train": 1, "score": 2}
    for name in redefined:
        registry.add_component(name, component(name))
    assert registry.changed_components(entry) == changed


def test_components_a_pipeline_did_not_call_are_not_its_uses():
    registry = Registry()
    called = registry.add_component("called", component("called")).component
    registry.add_component("defined", component("defined"))
    assert registry.add_pipeline("p", (pipeline("p"), (called,))).uses == {"called": 1}


def test_refreshed_rebuilds_a_pipeline_only_after_a_redefinition():
    registry = Registry()
    train = registry.add_component("train", component("train")).component
    builds = []

    def rebuild():
        builds.append(1)
        return pipeline(f"fit-{len(builds)}"), (registry.components["train"].component,)

    entry = registry.add_pipeline("fit", (pipeline("fit"), (train,)), rebuild)
    assert registry.refreshed(entry).name == "fit" and builds == []
    registry.add_component("train", component("train"))
    assert registry.refreshed(entry).name == "fit-1" and entry.uses == {"train": 2}
    assert registry.refreshed(entry).name == "fit-1" and builds == [1], "rebuilt once, then current"


def test_a_component_whose_carried_code_changed_is_rebuilt_and_rebound_in_the_notebook():
    namespace: dict = {}
    rebuilt = component("train")
    old = component("train", current=lambda: rebuilt, namespace=namespace)
    namespace["train"] = old
    registry = Registry()
    entry = registry.add_component("train", old)
    assert registry.current_component(entry) is rebuilt
    assert namespace["train"] is rebuilt and entry.component is rebuilt and entry.version == 2


def test_a_rebuilt_component_is_not_rebound_over_a_name_the_user_reused():
    namespace = {"train": "something else"}
    rebuilt = component("train")
    registry = Registry()
    entry = registry.add_component("train", component("train", current=lambda: rebuilt, namespace=namespace))
    registry.current_component(entry)
    assert namespace["train"] == "something else" and entry.component is rebuilt


def test_an_unchanged_component_keeps_its_version():
    registry = Registry()
    same = component("train", current=lambda: same)
    entry = registry.add_component("train", same)
    assert registry.current_component(entry) is same and entry.version == 1


def test_a_pipeline_is_found_by_its_name_or_kfp_name_and_the_latest_by_default():
    registry = Registry()
    first = registry.add_pipeline("first", (pipeline("first-kfp"), ()))
    second = registry.add_pipeline("second", (pipeline("second"), ()))
    assert registry.pipeline() is second
    assert registry.pipeline("first") is first and registry.pipeline("first-kfp") is first
    assert registry.entry_of(first.pipeline) is first and registry.entry_of(pipeline("x")) is None


@pytest.mark.parametrize(
    ("defined", "asked", "message"),
    [
        ((), None, r"no pipeline is defined yet"),
        (
            ("training",),
            "trainig",
            r"no pipeline named 'trainig'\. Did you mean 'training'\? Defined pipelines: training",
        ),
        (("a", "b"), "zzz", r"no pipeline named 'zzz'\. Defined pipelines: a, b$"),
    ],
)
def test_an_unknown_pipeline_names_what_is_defined(defined, asked, message):
    registry = Registry()
    for name in defined:
        registry.add_pipeline(name, (pipeline(name), ()))
    with pytest.raises(UnknownNameError, match=message):
        registry.pipeline(asked)


def test_a_component_entry_is_found_by_its_component_object():
    registry = Registry()
    entry = registry.add_component("a", component("a"))
    assert registry.component_entry_of(entry.component) is entry
    assert registry.component_entry_of(component("a")) is None
