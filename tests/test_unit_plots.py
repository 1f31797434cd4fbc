"""The kernel's small SVG plots (view/plots.py): number labels, the AUC, and what each plot draws where."""

import re
import xml.etree.ElementTree as ET

import pytest

from kfp_notebook.view import plots

from helpers import SVG


@pytest.mark.parametrize(
    ("value", "label"),
    [(3.0, "3"), (-2.0, "-2"), (0.5, "0.5"), (0.912345, "0.912"), (12.5, "12.5"), (0.1, "0.1"), (0.0001234, "0.000123"),
     (12345.6, "1.23e+04"), (1e6, "1e+06"), (2.5e6, "2.5e+06"), (999999.0, "999999")],
)  # fmt: skip
def test_numbers_get_short_labels(value, label):
    assert plots.number(value) == label


@pytest.mark.parametrize(
    ("fpr", "tpr", "area"),
    [([0, 1], [0, 1], 0.5), ([0, 0, 1], [0, 1, 1], 1.0), ([1, 0, 0], [1, 0, 1], 1.0), ([1, 0], [0, 0], 0.0),
     ([0.0, 0.2, 1.0], [0.0, 0.8, 1.0], 0.8), ([0.5], [0.5], 0.0)],
)  # fmt: skip
def test_the_area_under_the_curve_is_the_trapezoid_sum_over_sorted_points(fpr, tpr, area):
    assert plots.auc(fpr, tpr) == pytest.approx(area)


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and "kfp-notebook-plot" in root.get("class", "")
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_a_line_plot_joins_points_in_x_order_and_rings_the_best():
    points = [(0.3, 0.9, "run c"), (0.1, 0.5, "run a"), (0.2, 0.7, "run b")]
    root = parsed(plots.line_plot(points, "accuracy", "lr", best=[0]))
    path = root.find(f"{SVG}path[@class='series']").get("d")
    xs = [float(x) for x in re.findall(r"[ML]([\d.]+),", path)]
    assert xs == sorted(xs) and len(xs) == 3
    circles = root.findall(f"{SVG}circle")
    assert [c.find(f"{SVG}title").text for c in circles] == ["run c: 0.9", "run a: 0.5", "run b: 0.7"]
    assert [c.get("stroke") for c in circles] == [plots.ORANGE, None, None]
    assert {"accuracy", "lr", "0.1", "0.2", "0.3", "0.5", "0.9"} <= set(texts(root))


def test_a_flat_series_stays_inside_the_plot():
    root = parsed(plots.line_plot([(1, 2.0, "a"), (2, 2.0, "b")], "loss", "run"))
    ys = [float(c.get("cy")) for c in root.findall(f"{SVG}circle")]
    assert all(plots.TOP < y < plots.HEIGHT - plots.BOTTOM for y in ys)


def test_given_x_ticks_replace_the_numbers():
    root = parsed(plots.line_plot([(0, 1.0, "a"), (1, 2.0, "b")], "m", "run", x_ticks=[(0, "first"), (1, "second")]))
    assert {"first", "second"} <= set(texts(root)) and "0" not in texts(root)


def test_a_heat_map_labels_each_cell_and_shades_the_largest_darkest():
    root = parsed(plots.heat_map(["cat", "dog"], [[8, 2], [1, 9]]))
    cells = root.findall(f"{SVG}rect[@class='cell']")
    assert [c.find(f"{SVG}title").text for c in cells] == [
        "actual cat, predicted cat: 8", "actual cat, predicted dog: 2",
        "actual dog, predicted cat: 1", "actual dog, predicted dog: 9",
    ]  # fmt: skip
    darkness = [sum(map(int, re.findall(r"\d+", c.get("fill")))) for c in cells]
    assert darkness.index(min(darkness)) == 3 and darkness.index(max(darkness)) == 2
    assert texts(root).count("cat") == 2 and "predicted" in texts(root) and "actual" in texts(root)


def test_an_empty_heat_map_is_still_an_svg():
    assert parsed(plots.heat_map([], [])).findall(f"{SVG}rect") == []


def test_roc_curves_each_get_a_colour_a_legend_and_the_chance_line():
    curves = [("north", [0, 1], [0, 1], 0.5), ("south", [0, 0, 1], [0, 1, 1], 1.0)]
    root = parsed(plots.roc_plot(curves))
    paths = root.findall(f"{SVG}path[@class='roc']")
    assert [p.get("stroke") for p in paths] == [plots.BLUE, plots.ORANGE]
    assert {"north AUC 0.500", "south AUC 1.000", "true positive rate", "false positive rate"} <= set(texts(root))
    assert root.find(f"{SVG}line[@class='chance']") is not None


def test_titles_and_labels_are_escaped():
    svg = plots.line_plot([(0, 1.0, "<b>&")], "a<b", "x&y")
    assert "<b>" not in svg and "a&lt;b" in svg and "x&amp;y" in svg
    parsed(svg)
