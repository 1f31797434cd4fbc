"""The DAG as a saved picture: an SVG output shown before the live panel, kept in step with the last run.

The lab extension hides this output while the live panel below it renders; where the panel cannot
render (a reopened notebook whose kernel is gone, nbconvert's HTML, GitHub, VS Code) the picture shows.
"""

from __future__ import annotations

from typing import Any

from kfp_notebook.tracking.states import LOOKS_BY_STATE

#: Until the kernel or the front end has drawn the DAG: an empty picture, replaced in place later.
PLACEHOLDER = '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"></svg>'


#: A comment the lab extension's CSS finds in the picture's data URL (`img[src*=…]`) to tell it from other SVGs.
MARKER = "<!-- kfp_pipeline_picture -->"


def bundle(svg: str | None) -> dict[str, Any]:
    """The picture's output: only SVG (no text/plain, so a terminal prints nothing twice), marked as ours."""
    return {"image/svg+xml": (svg or PLACEHOLDER).rstrip() + "\n" + MARKER + "\n"}


def node_styles(states: dict[str, str]) -> dict[str, dict[str, str]]:
    """DOT attributes per node element id for the saved picture: a fill per state, dashed when dimmed."""
    styles = {}
    for element_id, state in states.items():
        look = LOOKS_BY_STATE.get(state)
        if look is not None and look.picture_fill is not None:  # fills readable with black text on any page
            style = "rounded,filled,dashed" if look.dimmed else "rounded,filled"
            styles[element_id] = {"fillcolor": look.picture_fill, "style": style}
    return styles


class SavedPicture:
    """The panel's picture output (a mixin of PipelinePanel): shown before the live panel, updated after runs."""

    picture_id: str
    static_svg: str | None
    model: Any
    name: str
    summary_text: str
    node_states: dict[str, str]
    run_view: dict[str, Any]

    def _ipython_display_(self) -> None:
        """Two outputs: the DAG as a picture (for every viewer without the live panel), then the live panel."""
        from IPython.display import display

        self.picture_id = self.picture_id or f"kfp-picture-{id(self)}"
        display(bundle(self.static_svg), raw=True, display_id=self.picture_id)
        data = super()._repr_mimebundle_()  # type: ignore[misc]
        data = data[0] if isinstance(data, tuple) else data
        data["text/plain"] = self.summary_text or f"pipeline {self.name} ({len(self.model.nodes)} tasks)"
        display(data, raw=True)

    def _update_picture(self, change: Any = None) -> None:
        """After a run the saved picture shows its final states (drawn in the kernel; kept as is without Graphviz)."""
        if change is not None and not (change["new"] or {}).get("finished"):
            return
        states = {**self.node_states, **self.run_view.get("states", {})}
        from kfp_notebook.view import dag as graph

        svg = graph.render_svg(graph.to_dot(self.model, node_styles(states)).source)
        self.static_svg = svg or self.static_svg
        if self.picture_id and self.static_svg:
            from IPython.display import update_display

            update_display(bundle(self.static_svg), raw=True, display_id=self.picture_id)
