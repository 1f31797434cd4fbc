"""The DAG as a saved picture: an SVG output shown before the live panel, kept in step with the last run.

The lab extension hides this output while the live panel below it renders; where the panel cannot
render (a reopened notebook whose kernel is gone, nbconvert's HTML, GitHub, VS Code) the picture shows.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from kfp_notebook.tracking.states import LOOKS, LOOKS_BY_STATE

#: Until the kernel or the front end has drawn the DAG: an empty picture, replaced in place later.
PLACEHOLDER = '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"></svg>'


#: A comment the lab extension's CSS finds in the picture's data URL (`img[src*=…]`) to tell it from other SVGs.
MARKER = "<!-- kfp_pipeline_picture -->"


def bundle(svg: str | None) -> dict[str, Any]:
    """The picture's output: only SVG (no text/plain, so a terminal prints nothing twice), marked as ours."""
    return {"image/svg+xml": (svg or PLACEHOLDER).rstrip() + "\n" + MARKER + "\n"}


#: The legend's rows under the picture: their height and the width of a glyph (points, at LEGEND_FONT_PT).
LEGEND_FONT_PT, LEGEND_ROW_PT, LEGEND_GLYPH_PT = 10, 16, 6.2
FAILURE_COLOUR = "#a40000"


def node_styles(states: dict[str, str]) -> dict[str, dict[str, str]]:
    """DOT attributes per node element id for the saved picture: the state's icon before its label (readable
    without colour), a fill per state, dashed when dimmed."""
    styles = {}
    for element_id, state in states.items():
        look = LOOKS_BY_STATE.get(state)
        if look is None:
            continue
        styles[element_id] = {"icon": look.icon}
        if look.picture_fill is not None:  # fills readable with black text on any page
            style = "rounded,filled,dashed" if look.dimmed else "rounded,filled"
            styles[element_id].update(fillcolor=look.picture_fill, style=style)
    return styles


def legend_lines(states: dict[str, str], failure: str = "", run: str = "") -> list[tuple[str, str]]:
    """What the picture says under the DAG, as (text, colour) lines: the run, each state shown with its icon
    and label (only those present, in legend order), and the failure in words."""
    present = set(states.values())
    entries = [f"{look.icon} {look.label}" for look in LOOKS if look.state in present]
    lines = [(run, "#333333")] if run else []
    lines += [("   ".join(entries), "#333333")] if entries else []
    return lines + ([(f"✗ {failure}", FAILURE_COLOUR)] if failure else [])


def with_legend(svg: str, lines: list[tuple[str, str]]) -> str:
    """The DAG's SVG with text lines under it (the legend, the failure): one SVG, the DAG nested in it."""
    size = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    start = svg.find("<svg")
    if not lines or size is None or start < 0:
        return svg
    width, height = float(size.group(1)), float(size.group(2))
    wide = max(width, *(len(text) * LEGEND_GLYPH_PT + 16 for text, _ in lines))
    total = height + LEGEND_ROW_PT * len(lines) + 8
    texts = "".join(
        f'<text x="8" y="{height + LEGEND_ROW_PT * (i + 1):.1f}" fill={quoteattr(colour)} '
        f'font-family="Helvetica,Arial,sans-serif" font-size="{LEGEND_FONT_PT}">{escape(text)}</text>'
        for i, (text, colour) in enumerate(lines)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{wide:.0f}pt" height="{total:.0f}pt" '
        f'viewBox="0 0 {wide:.0f} {total:.0f}" class="kfp-picture"><g class="kfp-dag">{svg[start:]}</g>'
        f'<g class="kfp-legend">{texts}</g></svg>'
    )


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
        display(bundle(self.static_svg), raw=True, metadata=self._saved_metadata(), display_id=self.picture_id)
        data = super()._repr_mimebundle_()  # type: ignore[misc]
        data = data[0] if isinstance(data, tuple) else data
        data["text/plain"] = self.summary_text or f"pipeline {self.name} ({len(self.model.nodes)} tasks)"
        display(data, raw=True)

    def _saved_metadata(self) -> dict[str, Any]:
        """The picture's metadata: the live panel's state, which a saved notebook restores it from (the panel fills
        it in; on the picture, whose updates do not redraw the live panel)."""
        return {}

    def _picture_title(self) -> str:
        """The run the picture shows: its id, its state, when it started (the panel fills it in)."""
        return ""

    def _update_picture(self, change: Any = None) -> None:
        """After a run the saved picture shows its final states (drawn in the kernel; kept as is without Graphviz)."""
        if change is not None and not (change["new"] or {}).get("finished"):
            return
        states = {**self.node_states, **self.run_view.get("states", {})}
        from kfp_notebook.view import dag as graph

        svg = graph.picture_svg(self.model, node_styles(states))
        failure = str(self.run_view.get("failure", {}).get("text", ""))
        lines = legend_lines(states, failure, self._picture_title())
        self.static_svg = with_legend(svg, lines) if svg else self.static_svg
        if self.picture_id and self.static_svg:
            from IPython.display import update_display

            saved = self._saved_metadata()
            update_display(bundle(self.static_svg), raw=True, metadata=saved, display_id=self.picture_id)
